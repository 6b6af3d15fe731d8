//! One shutdown budget for every signal: [`Telemetry`]'s shutdown, explicit or on drop.

use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use opentelemetry_sdk::error::OTelSdkError;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;

use super::Telemetry;
use super::report::{Diagnostics, ExportReport};

/// The default budget for flushing and shutting down every signal, together.
pub const DEFAULT_SHUTDOWN_BUDGET: Duration = Duration::from_secs(5);

// === impl Telemetry ===

impl Telemetry {
    /// The shutdown to run, the first time only.
    pub(super) fn shutdown_work(&mut self) -> Option<impl FnOnce() + Send + 'static> {
        if std::mem::replace(&mut self.shut_down, true) {
            return None;
        }
        let (tracer_provider, meter_provider) =
            (self.tracer_provider.clone(), self.meter_provider.clone());
        let (budget, diagnostics) = (self.budget, self.diagnostics.clone());
        let reports = self.reports.clone();
        Some(move || {
            shutdown_within(
                tracer_provider,
                meter_provider,
                budget,
                &diagnostics,
                &reports,
            );
        })
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(work) = self.shutdown_work() {
            work();
        }
    }
}

/// Flushes and shuts down the tracer and meter providers concurrently, returning within
/// `budget` whatever the collector does (unreachable, slow, a black hole): what has not
/// finished by then is left to finish on its own thread. Then one line per exporter of
/// `reports`: flushed, failed (why), or timed out; and a provider's own error only for a
/// signal without such an exporter (a processor or reader added in code).
pub(crate) fn shutdown_within(
    tracer_provider: SdkTracerProvider,
    meter_provider: SdkMeterProvider,
    budget: Duration,
    diagnostics: &Diagnostics,
    reports: &[Arc<ExportReport>],
) {
    for report in reports {
        report.shutting_down();
    }
    let deadline = Instant::now() + budget;
    let (done, finished) = mpsc::channel();
    let traces = done.clone();
    let spawned = [
        std::thread::Builder::new()
            .name("otel-shutdown-traces".into())
            .spawn(move || {
                let result = tracer_provider.shutdown_with_timeout(budget);
                let _ = traces.send(("traces", result));
            }),
        std::thread::Builder::new()
            .name("otel-shutdown-metrics".into())
            .spawn(move || {
                let result = meter_provider.shutdown_with_timeout(budget);
                let _ = done.send(("metrics", result));
            }),
    ];
    let mut pending = spawned.iter().filter(|s| s.is_ok()).count();
    let mut failed = Vec::new();
    while pending > 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        match finished.recv_timeout(left) {
            Ok((signal, result)) => {
                pending -= 1;
                match result {
                    // A second shutdown (after an explicit one) is not worth a warning.
                    Ok(()) | Err(OTelSdkError::AlreadyShutdown) => {}
                    Err(error) => failed.push((signal, error)),
                }
            }
            Err(_) => break,
        }
    }
    for report in reports {
        if let Some(line) = report.shutdown_line(budget) {
            diagnostics.warn(&line);
        }
    }
    for (signal, error) in failed {
        if !reports.iter().any(|report| report.signal == signal) {
            diagnostics.warn(&format!("{signal} shutdown failed: {error}"));
        }
    }
}
