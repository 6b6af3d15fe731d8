//! Diagnostics that reach the user without a `tracing` subscriber: configuration warnings,
//! what each exporter loses (failed exports, spans dropped by a full queue: the first at once,
//! then a summary per interval), and one line per exporter at shutdown.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
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

/// What one exporter loses, reported: its first failure and its first dropped span at once,
/// then at most one summary per interval ("12,345 spans dropped (queue full), 3 batches
/// dropped (export failed) in the last 60 s"), and at shutdown one line: flushed, failed (and
/// why), or timed out. Failures during the shutdown go into that line; after it, nothing more
/// is reported (an export still running on the SDK's thread fails as the process stops).
#[derive(Debug)]
pub(crate) struct ExportReport {
    /// `traces` or `metrics`.
    pub(crate) signal: &'static str,
    what: String,
    interval: Duration,
    diagnostics: Diagnostics,
    /// Spans a full queue dropped since the last summary.
    dropped: AtomicU64,
    reported_first_drop: AtomicBool,
    /// When the next summary is due, in milliseconds after `created` (read on every drop:
    /// an atomic, not the lock).
    next_summary_ms: AtomicU64,
    created: Instant,
    state: Mutex<Window>,
}

#[derive(Debug)]
struct Window {
    reported_first: bool,
    since: Instant,
    failed: u64,
    last_error: String,
    phase: Phase,
}

/// Where an exporter stands in the shutdown.
#[derive(Debug)]
enum Phase {
    Running,
    /// The shutdown began: failures are kept for the shutdown line.
    ShuttingDown {
        failure: Option<String>,
    },
    /// The exporter's own shutdown returned (after the last export).
    ShutDown {
        failure: Option<String>,
    },
    /// The shutdown line was reported: nothing more is.
    Reported,
}

impl ExportReport {
    pub(crate) fn new(
        signal: &'static str,
        what: String,
        interval: Duration,
        diagnostics: Diagnostics,
    ) -> Arc<Self> {
        let now = Instant::now();
        Arc::new(ExportReport {
            signal,
            what,
            interval,
            diagnostics,
            dropped: AtomicU64::new(0),
            reported_first_drop: AtomicBool::new(false),
            next_summary_ms: AtomicU64::new(millis(interval)),
            created: now,
            state: Mutex::new(Window {
                reported_first: false,
                since: now,
                failed: 0,
                last_error: String::new(),
                phase: Phase::Running,
            }),
        })
    }

    /// The result of one export.
    pub(crate) fn record(&self, result: &OTelSdkResult) {
        let Ok(mut window) = self.state.lock() else {
            return;
        };
        let Err(error) = result else {
            drop(window);
            self.summarize_if_due();
            return;
        };
        match &mut window.phase {
            Phase::Running => {}
            Phase::ShuttingDown { failure } | Phase::ShutDown { failure } => {
                *failure = Some(error.to_string());
                return;
            }
            Phase::Reported => return,
        }
        if !window.reported_first {
            window.reported_first = true;
            drop(window);
            self.diagnostics.warn(&format!(
                "{} failed: {error} (the batch is dropped; further failures are summarized every {} s)",
                self.what,
                self.interval.as_secs()
            ));
            return;
        }
        window.failed += 1;
        window.last_error = error.to_string();
        drop(window);
        self.summarize_if_due();
    }

    /// A span the full queue of `capacity` dropped.
    pub(crate) fn span_dropped(&self, capacity: usize) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
        if !self.reported_first_drop.swap(true, Ordering::Relaxed) {
            if let Ok(window) = self.state.lock() {
                if !matches!(window.phase, Phase::Running) {
                    return;
                }
            }
            self.diagnostics.warn(&format!(
                "{}: the queue of {capacity} spans is full: spans are dropped (counted, \
                 summarized every {} s; raise OTEL_BSP_MAX_QUEUE_SIZE or see to the collector)",
                self.what,
                self.interval.as_secs()
            ));
            return;
        }
        self.summarize_if_due();
    }

    /// Reports what was lost since the last summary, if anything was and the interval passed.
    fn summarize_if_due(&self) {
        let now_ms = millis(self.created.elapsed());
        if now_ms < self.next_summary_ms.load(Ordering::Relaxed) {
            return;
        }
        let Ok(mut window) = self.state.lock() else {
            return;
        };
        let now = Instant::now();
        let took = now.duration_since(window.since);
        if !matches!(window.phase, Phase::Running) || took < self.interval {
            return;
        }
        let lost = self.lost(&mut window);
        window.since = now;
        self.next_summary_ms.store(
            millis(self.created.elapsed() + self.interval),
            Ordering::Relaxed,
        );
        drop(window);
        if let Some(Lost { counts, last_error }) = lost {
            let last_error = last_error.map_or_else(String::new, |e| format!(" (last error: {e})"));
            // Whole seconds, but for intervals under one (tests).
            let took = if took >= Duration::from_secs(1) {
                Duration::from_secs(took.as_secs())
            } else {
                took
            };
            self.diagnostics.warn(&format!(
                "{}: {counts} in the last {}{last_error}",
                self.what,
                seconds(took),
            ));
        }
    }

    /// What was lost since the last summary ("12,345 spans dropped (queue full), 3 batches
    /// dropped (export failed) (last error: …)"), counters reset; `None` when nothing was.
    fn lost(&self, window: &mut Window) -> Option<Lost> {
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        let failed = std::mem::take(&mut window.failed);
        let mut parts = Vec::new();
        if dropped > 0 {
            parts.push(format!(
                "{} span{} dropped (queue full)",
                thousands(dropped),
                if dropped == 1 { "" } else { "s" }
            ));
        }
        if failed > 0 {
            parts.push(format!(
                "{} batch{} dropped (export failed)",
                thousands(failed),
                if failed == 1 { "" } else { "es" }
            ));
        }
        (!parts.is_empty()).then(|| Lost {
            counts: parts.join(", "),
            last_error: (failed > 0).then(|| std::mem::take(&mut window.last_error)),
        })
    }

    /// The shutdown began: failures from now on go into the shutdown line.
    pub(crate) fn shutting_down(&self) {
        if let Ok(mut window) = self.state.lock() {
            if matches!(window.phase, Phase::Running) {
                window.phase = Phase::ShuttingDown { failure: None };
            }
        }
    }

    /// The exporter's own shutdown returned (the SDK calls it after the last export).
    pub(crate) fn shut_down(&self, result: &OTelSdkResult) {
        if let Ok(mut window) = self.state.lock() {
            let failure = match &mut window.phase {
                Phase::ShuttingDown { failure } => failure.take(),
                Phase::Running => None,
                Phase::ShutDown { .. } | Phase::Reported => return,
            };
            let failure = failure.or_else(|| match result {
                Ok(()) | Err(OTelSdkError::AlreadyShutdown) => None,
                Err(error) => Some(error.to_string()),
            });
            window.phase = Phase::ShutDown { failure };
        }
    }

    /// The one line of the shutdown, `budget` after it began (once; later calls and reports
    /// say nothing): "flushed", "failed: …" or "timed out after 5 s", and what was lost since
    /// the last summary.
    pub(crate) fn shutdown_line(&self, budget: Duration) -> Option<String> {
        let mut window = self.state.lock().ok()?;
        let outcome = match std::mem::replace(&mut window.phase, Phase::Reported) {
            Phase::ShutDown { failure: None } => "flushed".to_owned(),
            Phase::ShutDown {
                failure: Some(reason),
            } => format!("failed: {reason}"),
            Phase::Running | Phase::ShuttingDown { .. } => format!(
                "timed out after {}: what it still held is lost",
                seconds(budget)
            ),
            Phase::Reported => return None,
        };
        let lost = self.lost(&mut window).map_or_else(String::new, |lost| {
            format!("; since the last report: {}", lost.counts)
        });
        Some(format!("{}: {outcome}{lost}", self.what))
    }
}

/// What a summary says was lost.
struct Lost {
    counts: String,
    last_error: Option<String>,
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// "5 s", "1.5 s".
fn seconds(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{} s", duration.as_secs())
    } else {
        format!("{:.1} s", duration.as_secs_f64())
    }
}

/// `n` with thousands separated by commas: 12,345.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// An exporter whose results are reported.
#[derive(Debug)]
pub(crate) struct Reported<E> {
    pub(crate) inner: E,
    pub(crate) report: Arc<ExportReport>,
}

impl<E: SpanExporter> SpanExporter for Reported<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let result = self.inner.export(batch).await;
        self.report.record(&result);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let result = self.inner.shutdown_with_timeout(timeout);
        self.report.shut_down(&result);
        result
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
        let result = self.inner.shutdown_with_timeout(timeout);
        self.report.shut_down(&result);
        result
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_are_separated() {
        for (n, s) in [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (12_345, "12,345"),
            (1_234_567, "1,234,567"),
        ] {
            assert_eq!(super::thousands(n), s);
        }
    }
}
