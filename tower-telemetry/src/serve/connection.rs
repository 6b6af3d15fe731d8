//! One connection's task: what is in flight on it, and the deadlines that close it when it
//! stays silent or idle, whatever the protocol.
//!
//! hyper's own timers cover part of this only: its header-read timeout is HTTP/1's, and
//! hyper-util's auto builder first reads up to 24 bytes to tell HTTP/2's preface from an
//! HTTP/1 head, with no timer at all. So the task keeps its own clock, counted in requests
//! rather than bytes (a client trickling bytes, pings or SETTINGS frames does not reset it):
//! a connection whose first request has not reached the service within the header-read
//! timeout is dropped, and one without a request in flight for the idle timeout is asked to
//! close (HTTP/2: GOAWAY) and dropped a moment later if it does not.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use http::Response;
use hyper_util::server::graceful::GracefulConnection;
use tokio::sync::watch;
use tokio::time::Instant;

/// How long a connection asked to close because it is idle gets to do so (an HTTP/2 client
/// reading the GOAWAY) before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// The deadlines of a connection.
#[derive(Debug, Clone, Copy)]
pub(super) struct Deadlines {
    /// From accept to the first request reaching the service.
    pub(super) first_request: Duration,
    /// Without a request in flight, after the first.
    pub(super) idle: Duration,
}

/// What is in flight on one connection, shared by its requests and its task (and read by the
/// accept loop to find an idle connection to close when at the cap).
#[derive(Debug)]
pub(super) struct Activity {
    opened: Instant,
    /// Requests whose response has not finished: the service's future, then the body.
    in_flight: AtomicUsize,
    /// Whether a request ever reached the service.
    spoke: AtomicBool,
    /// When the last request finished, in milliseconds after `opened`.
    idle_since_ms: AtomicU64,
}

/// Where a connection stands at one instant.
enum State {
    /// Nothing reached the service yet.
    Silent,
    /// A request is in flight.
    Busy,
    /// No request in flight since this instant.
    Idle(Instant),
}

impl Activity {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Activity {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            spoke: AtomicBool::new(false),
            idle_since_ms: AtomicU64::new(0),
        })
    }

    /// Whether no request is in flight (the accept loop may close it when at the cap).
    pub(super) fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
    }

    /// A request reached the service: in flight until the returned guard drops.
    fn start(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.spoke.store(true, Ordering::Release);
        InFlight(Arc::clone(self))
    }

    fn state(&self) -> State {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            State::Busy
        } else if !self.spoke.load(Ordering::Acquire) {
            State::Silent
        } else {
            let ms = self.idle_since_ms.load(Ordering::Acquire);
            State::Idle(self.opened + Duration::from_millis(ms))
        }
    }
}

/// A request in flight on a connection; its drop (the response body's end, or the future
/// dropped) marks the connection idle when it was the last.
#[derive(Debug)]
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let activity = &self.0;
        // Stored before the count drops, so that an idle connection has its instant.
        let ms = u64::try_from(activity.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        activity.idle_since_ms.store(ms, Ordering::Release);
        activity.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Runs `connection` to its end: until it closes, or until a deadline of `deadlines` or the
/// shutdown signal in `stop` closes it.
pub(super) async fn run<C: GracefulConnection>(
    connection: C,
    activity: Arc<Activity>,
    deadlines: Deadlines,
    mut stop: watch::Receiver<bool>,
) {
    let mut connection = std::pin::pin!(connection);
    // Set once the connection was asked to close (idle, or the shutdown): from then on it is
    // dropped as soon as it is idle, if it did not close by itself; requests in flight are
    // bounded by the drain deadline (the accept loop's).
    let mut closing = false;
    // The state is checked at the deadline it implies, and at least once an idle timeout
    // (a request may start and end in between); no wake-up per request.
    let mut check_at = activity.opened + deadlines.first_request.min(deadlines.idle);
    loop {
        tokio::select! {
            // A connection's own error (a reset, a malformed request hyper answered with
            // 400, a header-read timeout) concerns that client only.
            _ = connection.as_mut() => return,
            changed = stop.changed(), if !closing => {
                // The accept loop gone (`Err`) is a stop too.
                if changed.is_err() || *stop.borrow() {
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
            () = tokio::time::sleep_until(check_at) => {
                let now = Instant::now();
                match activity.state() {
                    State::Busy => check_at = now + deadlines.idle,
                    State::Silent if now >= activity.opened + deadlines.first_request => {
                        // Nothing to answer and nobody to tell: close the socket.
                        return;
                    }
                    State::Silent => {
                        check_at = (activity.opened + deadlines.first_request)
                            .min(now + deadlines.idle);
                    }
                    State::Idle(_) if closing => return,
                    State::Idle(since) if now >= since + deadlines.idle => {
                        connection.as_mut().graceful_shutdown();
                        closing = true;
                        check_at = now + CLOSE_GRACE;
                    }
                    State::Idle(since) => check_at = since + deadlines.idle,
                }
            }
        }
    }
}

// === impl Tracked ===

pin_project_lite::pin_project! {
    /// The service's future for one request, in flight until its response body ends.
    pub(super) struct Tracked<F> {
        #[pin]
        future: F,
        in_flight: Option<InFlight>,
    }
}

impl<F> Tracked<F> {
    pub(super) fn new(future: F, activity: &Arc<Activity>) -> Self {
        Tracked {
            future,
            in_flight: Some(activity.start()),
        }
    }
}

impl<F, B, E> Future for Tracked<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<TrackedBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = ready!(this.future.poll(cx))?;
        let in_flight = this.in_flight.take();
        Poll::Ready(Ok(response.map(|body| TrackedBody {
            body,
            _in_flight: in_flight,
        })))
    }
}

pin_project_lite::pin_project! {
    /// A response body that keeps its request in flight until hyper drops it (sent, or the
    /// connection gone).
    pub(super) struct TrackedBody<B> {
        #[pin]
        body: B,
        _in_flight: Option<InFlight>,
    }
}

impl<B: http_body::Body> http_body::Body for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    #[inline]
    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        self.project().body.poll_frame(cx)
    }

    #[inline]
    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    #[inline]
    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
