//! One shutdown budget for every signal, and the signals containers stop services with.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;

use super::report::Diagnostics;

/// The default budget for flushing and shutting down every signal, together.
pub const DEFAULT_SHUTDOWN_BUDGET: Duration = Duration::from_secs(5);

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

/// Resolves when the process is asked to stop: SIGTERM (what Docker, Kubernetes and Cloud Run
/// send) or SIGINT (Ctrl-C). Give it to a server's graceful shutdown, then shut the telemetry
/// down:
///
/// ```no_run
/// # async fn run(app: axum::Router, telemetry: tower_telemetry::setup::Telemetry) -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// axum::serve(listener, app)
///     .with_graceful_shutdown(tower_telemetry::setup::shutdown_signal())
///     .await?;
/// telemetry.shutdown().await;
/// # Ok(()) }
/// ```
///
/// Needs a Tokio runtime with I/O enabled. If a signal handler cannot be installed, that
/// signal is not waited for (the other still is).
pub async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
