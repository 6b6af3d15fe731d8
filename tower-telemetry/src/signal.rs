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
/// Called inside a Tokio runtime (with I/O enabled), it installs the handlers at once, so a
/// signal that arrives before the future is first polled (while the server starts) is not
/// lost, and does not kill the process; called outside one, they are installed when the
/// future is first polled. If a handler cannot be installed, that signal is not waited for
/// (the other still is).
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let eager = tokio::runtime::Handle::try_current().is_ok();
        let install = |kind: SignalKind| if eager { Some(signal(kind)) } else { None };
        let (terminate, interrupt) = (
            install(SignalKind::terminate()),
            install(SignalKind::interrupt()),
        );
        async move {
            let wait = |installed: Option<std::io::Result<tokio::signal::unix::Signal>>,
                        kind: SignalKind| async move {
                match installed.unwrap_or_else(|| signal(kind)) {
                    Ok(mut signal) => {
                        signal.recv().await;
                    }
                    Err(_) => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(terminate, SignalKind::terminate()) => {}
                () = wait(interrupt, SignalKind::interrupt()) => {}
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
