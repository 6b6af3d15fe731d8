//! One shutdown budget for every signal: [`Telemetry`]'s shutdown, explicit or on drop.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;

use super::Telemetry;
use super::report::Diagnostics;

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
        Some(move || {
            shutdown_within(tracer_provider, meter_provider, budget, &diagnostics);
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
/// finished by then is left to finish on its own thread and reported.
pub(crate) fn shutdown_within(
    tracer_provider: SdkTracerProvider,
    meter_provider: SdkMeterProvider,
    budget: Duration,
    diagnostics: &Diagnostics,
) {
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
    while pending > 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        match finished.recv_timeout(left) {
            Ok((_, Ok(()))) => pending -= 1,
            Ok((signal, Err(error))) => {
                pending -= 1;
                // A second shutdown (after an explicit one) is not worth a warning.
                if !matches!(
                    error,
                    opentelemetry_sdk::error::OTelSdkError::AlreadyShutdown
                ) {
                    diagnostics.warn(&format!("{signal} shutdown: {error}"));
                }
            }
            Err(_) => {
                diagnostics.warn(&format!(
                    "shutdown did not finish within {budget:?}: telemetry still buffered is lost"
                ));
                return;
            }
        }
    }
}
