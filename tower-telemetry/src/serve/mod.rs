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
//! building blocks ([`auto::Builder`] for HTTP/1.1 and HTTP/2, [`TokioTimer`], hyper's
//! graceful shutdown) plus the bounds hyper leaves to the caller: a deadline for the first
//! request and an idle timeout whatever the protocol, a cap on open connections, and a drain
//! deadline after which the connections left are dropped.
//!
//! # Timeouts, per protocol
//!
//! | timeout (default) | HTTP/1.1 | HTTP/2 |
//! |---|---|---|
//! | first request ([`DEFAULT_HEADER_READ_TIMEOUT`], [`Serve::header_read_timeout`]): from accept to the first request reaching the service | nothing sent, a partial head: closed | nothing sent, a partial preface, SETTINGS and no request: closed |
//! | each later request head (the same; hyper's) | closed (also an idle keep-alive connection) | – |
//! | idle ([`DEFAULT_IDLE_TIMEOUT`], [`Serve::idle_timeout`]): no request in flight | closed | GOAWAY, then dropped a second later if still open |
//! | keep-alive ([`Serve::http2_keep_alive`]): a PING every 30 s, unanswered for 20 s | – | closed, even with a request in flight |
//!
//! hyper's header-read timeout covers HTTP/1.1 heads only, and hyper-util's auto builder reads
//! the first bytes (to tell HTTP/2's preface from an HTTP/1.1 head) before any hyper timer
//! runs; so each connection's task keeps its own clock, counted in requests, not bytes: a
//! client trickling bytes, PINGs or SETTINGS does not keep its connection open. A request is
//! in flight from the moment it reaches the service until its response body ends (a long
//! stream is not idle).
//!
//! # Open connections
//!
//! At most [`Serve::max_connections`] are open ([`default_max_connections`]: the soft
//! `RLIMIT_NOFILE` less the descriptors left to the service). A connection accepted at the cap
//! closes the oldest connection without a request in flight (silent or idle), so a flood of
//! idle connections cannot stop new requests from being served; if every connection has a
//! request in flight, accepting waits until one ends (new connections wait in the listen
//! backlog) rather than cut a request. An accept error other than a connection's own (out of
//! file descriptors: the service's own use, or a limit below the cap) is reported once on
//! stderr, closes the oldest idle connection if there is one, and is retried after a pause
//! doubling from 10 ms to 1 s, instead of spinning. Reaching the cap is reported once too.
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

mod connection;
mod limit;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt as _;

pub use limit::default_max_connections;

use connection::{Activity, Deadlines, Tracked};
use limit::{Backoff, Open};

/// How long in-flight requests get to finish after the shutdown signal, by default.
pub const DEFAULT_DRAIN_DEADLINE: Duration = Duration::from_secs(4);

/// How long a client gets to send its first request (any protocol) and then each HTTP/1.1
/// request head, by default (hyper's own default for the latter).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a connection stays open without a request in flight, by default.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How often an HTTP/2 connection is pinged, by default.
pub const DEFAULT_HTTP2_KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(30);

/// How long an HTTP/2 ping may go unanswered before its connection is closed, by default
/// (hyper's own default).
pub const DEFAULT_HTTP2_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// The body error type hyper accepts from a service.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Serves `service` on `listener`, HTTP/1.1 and HTTP/2 (cleartext, by prior knowledge: gRPC
/// works), until the future given to [`Serve::with_graceful_shutdown`] completes.
///
/// `service` is any Tower service of hyper requests that is `Clone`: an axum `Router`, tonic's
/// `Routes`, a `tower::ServiceBuilder` stack over a `service_fn`. It is cloned per request.
/// See the [module docs](self) for the timeouts and the connection cap.
pub fn serve<S>(listener: TcpListener, service: S) -> Serve<S> {
    Serve {
        listener,
        service,
        header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
        idle_timeout: DEFAULT_IDLE_TIMEOUT,
        keep_alive: Some((
            DEFAULT_HTTP2_KEEP_ALIVE_INTERVAL,
            DEFAULT_HTTP2_KEEP_ALIVE_TIMEOUT,
        )),
        max_connections: None,
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
    idle_timeout: Duration,
    keep_alive: Option<(Duration, Duration)>,
    max_connections: Option<usize>,
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
    /// How long a new connection gets to bring its first request to the service, whatever
    /// the protocol (nothing sent, a partial HTTP/2 preface, an HTTP/2 connection that sent
    /// its SETTINGS and no request: closed), and how long a client gets to send each later
    /// HTTP/1.1 request head ([`DEFAULT_HEADER_READ_TIMEOUT`]). hyper's HTTP/1.1 timer also
    /// runs while a keep-alive connection waits for its next head, so it bounds HTTP/1.1's
    /// idle time too: behind a load balancer that reuses connections for longer (Google
    /// Cloud's keeps them 600 s), set it and the [idle timeout](Self::idle_timeout) above the
    /// balancer's.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// How long a connection that has served requests stays open without one in flight
    /// ([`DEFAULT_IDLE_TIMEOUT`]), whatever the protocol: HTTP/2 gets a GOAWAY (and is dropped
    /// a second later if it does not close); an HTTP/1.1 connection is closed (and by hyper
    /// already at the header-read timeout, when that is shorter). Requests count, bytes do
    /// not: pings and SETTINGS frames keep no connection open.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// HTTP/2 keep-alive: a PING every `interval`, the connection closed when one goes
    /// unanswered for `timeout` (by default every [`DEFAULT_HTTP2_KEEP_ALIVE_INTERVAL`],
    /// within [`DEFAULT_HTTP2_KEEP_ALIVE_TIMEOUT`]); `None` for no pings. It finds peers that
    /// vanished while a long request or stream is in flight, which the idle timeout does
    /// not cover.
    pub fn http2_keep_alive(mut self, keep_alive: Option<(Duration, Duration)>) -> Self {
        self.keep_alive = keep_alive;
        self
    }

    /// The most connections open at once ([`default_max_connections`], from the process's
    /// file limit). A connection accepted at the cap closes the oldest one without a request
    /// in flight; when every connection has one, accepting waits until one ends (new
    /// connections wait in the listen backlog).
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = Some(max.max(1));
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
    /// any other (out of file descriptors) is reported once on stderr, closes the oldest idle
    /// connection if there is one, and is retried after a pause that doubles from 10 ms to a
    /// second, instead of spinning.
    pub async fn with_graceful_shutdown<F>(self, signal: F) -> Drained
    where
        F: Future<Output = ()> + Send,
    {
        let Serve {
            listener,
            service,
            header_read_timeout,
            idle_timeout,
            keep_alive,
            max_connections,
            drain_deadline,
        } = self;
        let max_connections = max_connections.unwrap_or_else(default_max_connections);
        let deadlines = Deadlines {
            first_request: header_read_timeout,
            idle: idle_timeout,
        };
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(header_read_timeout);
        builder.http2().timer(TokioTimer::new());
        if let Some((interval, timeout)) = keep_alive {
            builder
                .http2()
                .keep_alive_interval(interval)
                .keep_alive_timeout(timeout);
        }
        let (stop, stopped) = watch::channel(false);
        let mut open = Open::new();
        let mut backoff = Backoff::new();
        let mut reported = Reported::default();
        let mut signal = std::pin::pin!(signal);
        loop {
            open.reap();
            if open.len() >= max_connections && !open.has_idle() {
                // Every connection has a request in flight: accept again once one ends.
                tokio::select! {
                    biased;
                    () = &mut signal => break,
                    () = open.one_ended() => continue,
                }
            }
            let (stream, peer) = tokio::select! {
                // The signal first: it is polled (its handlers installed) before the first
                // connection is taken, and a stop wins over connections still queued.
                biased;
                () = &mut signal => break,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => {
                        backoff.reset();
                        accepted
                    }
                    Err(error) if is_connection_error(&error) => continue,
                    Err(error) => {
                        reported.accept_error(&error);
                        // Out of file descriptors (or memory): an idle connection gives one
                        // back at once; else wait, longer each time.
                        let pause = if open.close_oldest_idle() {
                            Backoff::FIRST
                        } else {
                            backoff.next()
                        };
                        tokio::select! {
                            () = &mut signal => break,
                            () = tokio::time::sleep(pause) => continue,
                        }
                    }
                },
            };
            if open.len() >= max_connections {
                reported.at_cap(max_connections);
                open.close_oldest_idle();
            }
            let _ = stream.set_nodelay(true);
            let activity = Activity::new();
            // The peer's address in every request's extensions; readiness awaited per
            // request (`oneshot`), as hyper-util's `TowerToHyperService` does; each request
            // in flight on its connection until its response body ends.
            let service = service.clone();
            let requests = Arc::clone(&activity);
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
                Tracked::new(service.clone().oneshot(request), &requests)
            });
            let connection = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .into_owned();
            open.spawn(
                connection::run(
                    connection,
                    Arc::clone(&activity),
                    deadlines,
                    stopped.clone(),
                ),
                activity,
            );
        }
        let stopping = tokio::time::Instant::now();
        drop(listener);
        let _ = stop.send(true);
        let connections_cut = open.drain(drain_deadline).await;
        Drained {
            connections_cut,
            took: stopping.elapsed(),
        }
    }
}

/// What the loop reported on stderr, once each.
#[derive(Debug, Default)]
struct Reported {
    accept_error: bool,
    cap: bool,
}

impl Reported {
    fn accept_error(&mut self, error: &std::io::Error) {
        if !std::mem::replace(&mut self.accept_error, true) {
            eprintln!(
                "tower-telemetry: serve: accepting a connection failed: {error}; retrying after \
                 a pause of up to 1 s, closing idle connections first (reported once)"
            );
        }
    }

    fn at_cap(&mut self, max: usize) {
        if !std::mem::replace(&mut self.cap, true) {
            eprintln!(
                "tower-telemetry: serve: {max} connections open, the limit: each new one closes \
                 the oldest idle one (reported once; see Serve::max_connections)"
            );
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
mod tests;
