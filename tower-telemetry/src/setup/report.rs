//! Diagnostics that reach the user without a `tracing` subscriber: configuration warnings and
//! export failures (the first one per exporter and signal, then a summary per interval).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

type Sink = dyn Fn(&str) + Send + Sync;

/// How many diagnostics [`Diagnostics::messages`] keeps (the latest).
const KEPT_MESSAGES: usize = 100;

/// Where diagnostics go: stderr by default, or a function of yours (e.g. `tracing::warn!`).
#[derive(Clone)]
pub(crate) struct Diagnostics {
    sink: Arc<Sink>,
    messages: Arc<Mutex<Vec<String>>>,
}

impl Diagnostics {
    pub(crate) fn stderr() -> Self {
        Self::to(Arc::new(|message: &str| {
            eprintln!("tower-telemetry: {message}");
        }))
    }

    pub(crate) fn to(sink: Arc<Sink>) -> Self {
        Diagnostics {
            sink,
            messages: Arc::default(),
        }
    }

    /// Reports `message` once.
    pub(crate) fn warn(&self, message: &str) {
        if let Ok(mut messages) = self.messages.lock() {
            // A long-running process reports a summary a minute at most: keep the latest.
            if messages.len() >= KEPT_MESSAGES {
                messages.remove(0);
            }
            messages.push(message.to_owned());
        }
        (self.sink)(message);
    }

    /// What was reported (the latest [`KEPT_MESSAGES`]).
    pub(crate) fn messages(&self) -> Vec<String> {
        self.messages.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

impl std::fmt::Debug for Diagnostics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Diagnostics").finish_non_exhaustive()
    }
}

/// Counts the failures of one exporter: reports the first at once, then at most one summary
/// per interval ("N batches dropped in the last …").
#[derive(Debug)]
pub(crate) struct FailureReport {
    what: String,
    interval: Duration,
    diagnostics: Diagnostics,
    state: Mutex<Window>,
}

#[derive(Debug)]
struct Window {
    reported_first: bool,
    since: Instant,
    dropped: u64,
    last_error: String,
}

impl FailureReport {
    pub(crate) fn new(what: String, interval: Duration, diagnostics: Diagnostics) -> Arc<Self> {
        Arc::new(FailureReport {
            what,
            interval,
            diagnostics,
            state: Mutex::new(Window {
                reported_first: false,
                since: Instant::now(),
                dropped: 0,
                last_error: String::new(),
            }),
        })
    }

    pub(crate) fn record(&self, result: &OTelSdkResult) {
        let Ok(mut window) = self.state.lock() else {
            return;
        };
        let now = Instant::now();
        if let Err(error) = result {
            if !window.reported_first {
                window.reported_first = true;
                window.since = now;
                drop(window);
                self.diagnostics.warn(&format!(
                    "{} failed: {error} (the batch is dropped; further failures are summarized every {}s)",
                    self.what,
                    self.interval.as_secs()
                ));
                return;
            }
            window.dropped += 1;
            window.last_error = error.to_string();
        }
        if window.dropped > 0 && now.duration_since(window.since) >= self.interval {
            let message = format!(
                "{}: {} batches dropped in the last {}s (last error: {})",
                self.what,
                window.dropped,
                now.duration_since(window.since).as_secs(),
                window.last_error
            );
            window.dropped = 0;
            window.since = now;
            drop(window);
            self.diagnostics.warn(&message);
        }
    }
}

/// An exporter whose results are reported.
#[derive(Debug)]
pub(crate) struct Reported<E> {
    pub(crate) inner: E,
    pub(crate) report: Arc<FailureReport>,
}

impl<E: SpanExporter> SpanExporter for Reported<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let result = self.inner.export(batch).await;
        self.report.record(&result);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.inner.set_resource(resource);
    }
}

impl<E: PushMetricExporter> PushMetricExporter for Reported<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let result = self.inner.export(metrics).await;
        self.report.record(&result);
        result
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}
