//! A server loop that stops the way deployments stop services: on a signal it stops
//! accepting, lets in-flight requests finish within a drain deadline, cuts what is left, and
//! returns, so the telemetry can be flushed within its own budget afterwards.
//!
//! ```no_run
//! # #[cfg(feature = "otlp")]
//! # async fn run(app: axum::Router, telemetry: tower_telemetry::setup::Telemetry) -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
//! let drained = tower_telemetry::serve(listener, app)
//!     .with_graceful_shutdown(tower_telemetry::shutdown_signal())
//!     .await;
//! if drained.connections_cut > 0 {
//!     eprintln!("{} connections cut at the drain deadline", drained.connections_cut);
//! }
//! telemetry.shutdown().await; // then flush, within its own budget (5 s by default)
//! # Ok(()) }
//! ```
//!
//! # Why not `axum::serve`
//!
//! `axum::serve` builds hyper's connection without a timer, so hyper's header-read timeout
//! never fires and its graceful shutdown waits for every connection to finish: one client that
//! sends part of a request head and stalls holds the drain — and so the process, and the
//! flush of its telemetry — until the client goes away. This loop is hyper-util's own
//! building blocks ([`auto::Builder`] for HTTP/1.1 and HTTP/2, [`TokioTimer`],
//! [`GracefulShutdown`]) plus the two bounds hyper leaves to the caller: the header-read
//! timeout (hyper's, given a timer) and a drain deadline after which the connections left are
//! dropped.
//!
//! # Budgets
//!
//! A platform gives a stopping service a grace period after SIGTERM (Cloud Run 10 s,
//! Kubernetes 30 s by default) before SIGKILL. The defaults — a [`DEFAULT_DRAIN_DEADLINE`]
//! of 4 s, then the telemetry's 5 s shutdown budget — fit inside the shortest of them.
//!
//! # What every request gets
//!
//! The peer's address, from which the server layer records `client.address` and
//! `network.peer.*`: with the `axum` feature as axum's `ConnectInfo<SocketAddr>` (so the
//! `ConnectInfo` extractor works as with `into_make_service_with_connect_info`), else as
//! [`PeerAddr`](crate::trace::PeerAddr).
//!
//! [`auto::Builder`]: hyper_util::server::conn::auto::Builder
//! [`TokioTimer`]: hyper_util::rt::TokioTimer
//! [`GracefulShutdown`]: hyper_util::server::graceful::GracefulShutdown

use std::future::Future;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tower::ServiceExt as _;

/// How long in-flight requests get to finish after the shutdown signal, by default.
pub const DEFAULT_DRAIN_DEADLINE: Duration = Duration::from_secs(4);

/// How long a client gets to send a whole HTTP/1.1 request head, by default (hyper's own
/// default). hyper runs this timer whenever a connection waits for a head, so it also closes a
/// keep-alive connection idle for that long.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The body error type hyper accepts from a service.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Serves `service` on `listener`, HTTP/1.1 and HTTP/2 (cleartext, by prior knowledge: gRPC
/// works), until the future given to [`Serve::with_graceful_shutdown`] completes.
///
/// `service` is any Tower service of hyper requests that is `Clone`: an axum `Router`, tonic's
/// `Routes`, a `tower::ServiceBuilder` stack over a `service_fn`. It is cloned per request.
pub fn serve<S>(listener: TcpListener, service: S) -> Serve<S> {
    Serve {
        listener,
        service,
        header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
        drain_deadline: DEFAULT_DRAIN_DEADLINE,
    }
}

/// A server being configured; see [`serve`].
#[derive(Debug)]
#[must_use = "nothing is served until `with_graceful_shutdown(..)` is awaited"]
pub struct Serve<S> {
    listener: TcpListener,
    service: S,
    header_read_timeout: Duration,
    drain_deadline: Duration,
}

/// How a server stopped: what [`Serve::with_graceful_shutdown`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Drained {
    /// Connections still open at the drain deadline, dropped (their requests, if any, cut).
    pub connections_cut: usize,
    /// How long the drain took, from the signal.
    pub took: Duration,
}

impl<S, B> Serve<S>
where
    S: tower::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    /// How long a client gets to send a whole HTTP/1.1 request head before its connection is
    /// closed ([`DEFAULT_HEADER_READ_TIMEOUT`]). It also bounds how long an idle keep-alive
    /// connection stays open: behind a load balancer that reuses connections for longer (Google
    /// Cloud's keeps them 600 s), set it above the balancer's idle timeout.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// How long in-flight requests get to finish once the signal came
    /// ([`DEFAULT_DRAIN_DEADLINE`]); connections still open then are dropped.
    pub fn drain_deadline(mut self, deadline: Duration) -> Self {
        self.drain_deadline = deadline;
        self
    }

    /// Serves until `signal` completes (e.g. [`shutdown_signal`](crate::shutdown_signal)),
    /// then stops accepting, asks every connection to close after its in-flight requests
    /// (HTTP/1.1: after the current response; HTTP/2: GOAWAY), waits for them up to the drain
    /// deadline and drops the rest.
    ///
    /// Accept errors never end the loop: a connection-level error (reset, aborted) is skipped;
    /// any other (out of file descriptors) pauses accepting for a second, as hyper's and axum's
    /// examples do, instead of spinning.
    pub async fn with_graceful_shutdown<F>(self, signal: F) -> Drained
    where
        F: Future<Output = ()> + Send,
    {
        let Serve {
            listener,
            service,
            header_read_timeout,
            drain_deadline,
        } = self;
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(header_read_timeout);
        builder.http2().timer(TokioTimer::new());
        let graceful = GracefulShutdown::new();
        let mut connections = JoinSet::new();
        let mut signal = std::pin::pin!(signal);
        loop {
            let (stream, peer) = tokio::select! {
                // The signal first: it is polled (its handlers installed) before the first
                // connection is taken, and a stop wins over connections still queued.
                biased;
                () = &mut signal => break,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) if is_connection_error(&error) => continue,
                    Err(_) => {
                        tokio::select! {
                            () = &mut signal => break,
                            () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                        }
                    }
                },
            };
            // Reap finished connections so the set stays as large as the open ones.
            while connections.try_join_next().is_some() {}
            let _ = stream.set_nodelay(true);
            // The peer's address in every request's extensions; readiness awaited per
            // request (`oneshot`), as hyper-util's `TowerToHyperService` does.
            let service = service.clone();
            let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
                // One entry (one allocation) per request: the server layer reads either.
                #[cfg(feature = "axum")]
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                #[cfg(not(feature = "axum"))]
                request
                    .extensions_mut()
                    .insert(crate::trace::PeerAddr(peer));
                service.clone().oneshot(request)
            });
            let connection = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .into_owned();
            let connection = graceful.watch(connection);
            connections.spawn(async move {
                // A connection's own error (a reset, a malformed request hyper answered with
                // 400, a header-read timeout) concerns that client only.
                let _ = connection.await;
            });
        }
        let stopping = tokio::time::Instant::now();
        drop(listener);
        let connections_cut = match tokio::time::timeout(drain_deadline, graceful.shutdown()).await
        {
            Ok(()) => 0,
            Err(_) => {
                while connections.try_join_next().is_some() {}
                connections.len()
            }
        };
        // Dropping a connection's task closes its socket.
        connections.shutdown().await;
        Drained {
            connections_cut,
            took: stopping.elapsed(),
        }
    }
}

/// An accept error that concerns one connection only (the loop goes on at once).
fn is_connection_error(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::{Duration, Instant};

    use axum::Router;
    use axum::extract::ConnectInfo;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpStream;
    use tokio::sync::oneshot;

    use super::{Drained, serve};

    /// `/slow/{ms}` answers after that many milliseconds; `/peer` with the peer's address as
    /// axum's `ConnectInfo` saw it.
    fn app() -> Router {
        Router::new()
            .route(
                "/slow/{ms}",
                get(
                    |axum::extract::Path(ms): axum::extract::Path<u64>| async move {
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                        "done"
                    },
                ),
            )
            .route(
                "/peer",
                get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { format!("{peer}") }),
            )
    }

    /// A server on 127.0.0.1 with `configure` applied; the trigger that stops it and what it
    /// returned.
    async fn start(
        configure: impl FnOnce(super::Serve<Router>) -> super::Serve<Router>,
    ) -> (
        SocketAddr,
        oneshot::Sender<()>,
        tokio::task::JoinHandle<Drained>,
    ) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let server = configure(serve(listener, app()));
        let handle = tokio::spawn(server.with_graceful_shutdown(async {
            let _ = stopped.await;
        }));
        (addr, stop, handle)
    }

    /// Sends `path` as an HTTP/1.1 request that closes the connection; the whole answer.
    async fn request(addr: SocketAddr, path: &str) -> std::io::Result<String> {
        let mut stream = TcpStream::connect(addr).await?;
        stream
            .write_all(
                format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await?;
        Ok(answer)
    }

    #[tokio::test]
    async fn the_peer_address_reaches_connect_info() {
        let (addr, stop, handle) = start(|s| s).await;
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let local = stream.local_addr().unwrap();
        stream
            .write_all(b"GET /peer HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.ends_with(&format!("\r\n\r\n{local}")), "{answer}");
        stop.send(()).unwrap();
        assert_eq!(handle.await.unwrap().connections_cut, 0);
    }

    /// Stalled partial heads do not hold the drain; a request in flight finishes within the
    /// deadline; one slower than the deadline is cut with its connection.
    #[tokio::test]
    async fn the_drain_is_bounded_by_its_deadline() {
        let deadline = Duration::from_millis(800);
        let (addr, stop, handle) = start(|s| s.drain_deadline(deadline)).await;
        let mut stalled = Vec::new();
        for _ in 0..20 {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            stream.write_all(b"GET / HT").await.unwrap();
            stalled.push(stream);
        }
        let within = tokio::spawn(request(addr, "/slow/300"));
        let beyond = tokio::spawn(request(addr, "/slow/5000"));
        tokio::time::sleep(Duration::from_millis(100)).await;
        let stopping = Instant::now();
        stop.send(()).unwrap();
        let drained = handle.await.unwrap();
        let took = stopping.elapsed();
        assert!(
            took >= deadline && took < deadline + Duration::from_millis(500),
            "{took:?}"
        );
        // The 20 stalled connections and the slow request's.
        assert_eq!(drained.connections_cut, 21, "{drained:?}");
        let within = within.await.unwrap().unwrap();
        assert!(within.starts_with("HTTP/1.1 200 OK\r\n"), "{within}");
        assert!(within.ends_with("done"), "{within}");
        // Cut: the connection closed without an answer.
        assert_eq!(beyond.await.unwrap().unwrap_or_default(), "");
        // The stalled clients see their connections closed.
        for mut stream in stalled {
            let mut rest = Vec::new();
            let read = tokio::time::timeout(Duration::from_secs(1), stream.read_to_end(&mut rest))
                .await
                .expect("closed by the server");
            assert!(read.is_err() || rest.is_empty(), "{rest:?}");
        }
        // Nothing listens any more.
        assert!(TcpStream::connect(addr).await.is_err());
    }

    /// Without stragglers the drain ends as soon as the last request is answered; an idle
    /// keep-alive connection does not hold it.
    #[tokio::test]
    async fn a_drain_without_stragglers_ends_at_once() {
        let (addr, stop, handle) = start(|s| s).await;
        let mut idle = TcpStream::connect(addr).await.unwrap();
        idle.write_all(b"GET /slow/0 HTTP/1.1\r\nHost: test\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 1024];
        let n = idle.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200 OK\r\n"));
        let in_flight = tokio::spawn(request(addr, "/slow/200"));
        tokio::time::sleep(Duration::from_millis(50)).await;
        let stopping = Instant::now();
        stop.send(()).unwrap();
        let drained = handle.await.unwrap();
        assert_eq!(drained.connections_cut, 0);
        assert!(stopping.elapsed() < Duration::from_secs(1), "{drained:?}");
        assert!(in_flight.await.unwrap().unwrap().ends_with("done"));
        // The idle connection was closed by the server.
        assert_eq!(idle.read(&mut buf).await.unwrap_or(0), 0);
    }

    /// A client that never finishes its request head is disconnected after the header-read
    /// timeout, while the server keeps serving.
    #[tokio::test]
    async fn a_stalled_head_is_closed_after_the_header_read_timeout() {
        let (addr, stop, handle) =
            start(|s| s.header_read_timeout(Duration::from_millis(300))).await;
        let mut stalled = TcpStream::connect(addr).await.unwrap();
        stalled.write_all(b"GET / HT").await.unwrap();
        let started = Instant::now();
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(3), stalled.read_to_end(&mut rest))
            .await
            .expect("closed after the header-read timeout");
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(250) && took < Duration::from_secs(2),
            "{took:?}"
        );
        assert!(request(addr, "/slow/0").await.unwrap().ends_with("done"));
        stop.send(()).unwrap();
        assert_eq!(handle.await.unwrap().connections_cut, 0);
    }
}
