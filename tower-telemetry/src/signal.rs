//! The signals containers and terminals stop services with.

/// Resolves when the process is asked to stop: SIGTERM (what Docker, Kubernetes and Cloud Run
/// send) or SIGINT (Ctrl-C). Give it to a server's graceful shutdown, then shut the telemetry
/// down:
///
/// ```no_run
/// # #[cfg(all(feature = "serve", feature = "otlp"))]
/// # async fn run(app: axum::Router, telemetry: tower_telemetry::setup::Telemetry) -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// tower_telemetry::serve(listener, app)
///     .with_graceful_shutdown(tower_telemetry::shutdown_signal())
///     .await;
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
