//! The request lifecycle that spans, client spans and metrics all plug into.
//!
//! One generic Tower middleware ([`ObserveLayer`] → [`Observe`] → [`ResponseFuture`] →
//! [`ResponseBody`]) drives an [`Observer`] through a request and **finishes it exactly once**,
//! with an [`Outcome`], at the true end of the response:
//!
//! | event | outcome |
//! |---|---|
//! | the body returns its last frame (`None`), a trailers frame, or reports [`is_end_stream`] after a data frame (hyper stops polling once `Content-Length` is satisfied) | [`Outcome::Complete`] |
//! | the response head says the body is already empty (`HEAD`, `204`, gRPC Trailers-Only) | [`Outcome::Complete`] at the head |
//! | the record asks to finish at the head ([`Progress::Finish`], e.g. HTTP client spans) | [`Outcome::Complete`] at the head |
//! | the inner service returns `Err` | [`Outcome::ServiceError`]; the error is passed through unchanged |
//! | the body returns `Err` | [`Outcome::BodyError`]; the error is passed through unchanged |
//! | the future or the body is dropped first (client disconnect, caller cancelled) | [`Outcome::Cancelled`] |
//! | … while a panic unwinds (a handler panicked below us) | [`Outcome::Panicked`] |
//!
//! The layer never invents an error, never changes the response, and forwards `poll_ready`,
//! `is_end_stream` and `size_hint` verbatim.
//!
//! # Plugging in
//!
//! An [`Observer`] is the per-layer part (configuration, tracer, instruments), cloned with the
//! service, never per request. For each request it returns a [`Record`], the per-request
//! state, or `None` to stay out of the way entirely (a filtered request, tracing disabled):
//! then nothing is allocated and the response body is passed through as is.
//!
//! A pair of observers `(A, B)` is an observer too: both see every request, their records are
//! driven by **one** future and **one** body wrapper, and they share the same [`Now`] readings,
//! so a span's duration and a histogram's value are the same measurement. This is how the
//! fused trace + metrics layer of `tower-metrics` works.
//!
//! ```
//! use std::time::Duration;
//! use http::{Request, Response};
//! use tower_trace::lifecycle::{Now, ObserveLayer, Observer, Outcome, Record, Timestamp};
//!
//! /// Counts requests and logs their duration.
//! #[derive(Clone)]
//! struct LogDuration;
//!
//! struct Started(Timestamp);
//!
//! impl<B> Observer<B> for LogDuration {
//!     type Record = Started;
//!     fn on_request(&self, _req: &mut Request<B>, now: &Now) -> Option<Started> {
//!         Some(Started(now.get()))
//!     }
//! }
//!
//! impl Record for Started {
//!     fn finish(self, outcome: Outcome<'_>, now: &Now) {
//!         let elapsed: Duration = now.get().duration_since(&self.0);
//!         println!("{outcome:?} after {elapsed:?}");
//!     }
//! }
//!
//! let layer = ObserveLayer::new(LogDuration);
//! # let _ = layer;
//! ```
//!
//! [`is_end_stream`]: http_body::Body::is_end_stream

mod body;
mod future;
pub(crate) mod guard;
mod layer;
mod service;
#[cfg(test)]
mod tests;

use std::any::Any;
use std::cell::OnceCell;
use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use http::{HeaderMap, Request, Response};
use opentelemetry::Context;

pub use body::ResponseBody;
pub use future::ResponseFuture;
pub use layer::ObserveLayer;
pub use service::Observe;

/// The per-layer half of the lifecycle: decides, per request, whether to observe it.
///
/// See the [module docs](self).
pub trait Observer<B> {
    /// The per-request state.
    type Record: Record;

    /// Called in `Service::call`, before the inner service sees the request. The observer may
    /// change the request (insert extensions, inject headers). Returning `None` makes the
    /// request pass through untouched, at no cost.
    fn on_request(&self, request: &mut Request<B>, now: &Now) -> Option<Self::Record>;
}

/// The per-request half of the lifecycle. Every hook but [`finish`](Record::finish) is
/// optional; `finish` is called exactly once.
pub trait Record: Sized {
    /// A context to make current while the inner service's `call` and its future run, so
    /// `Context::current()` in a handler sees it.
    #[inline]
    fn context(&self) -> Option<&Context> {
        None
    }

    /// The response head arrived. Return [`Progress::Finish`] to finish right now with
    /// [`Outcome::Complete`] (the HTTP client conventions end client spans here).
    #[inline]
    fn on_response<B>(&mut self, response: &Response<B>) -> Progress {
        let _ = response;
        Progress::Continue
    }

    /// A data frame of `len` bytes went by.
    #[inline]
    fn on_body_chunk(&mut self, len: usize) {
        let _ = len;
    }

    /// A trailers frame went by (gRPC puts its status here). `finish` follows.
    #[inline]
    fn on_trailers(&mut self, trailers: &HeaderMap) {
        let _ = trailers;
    }

    /// The request is over; see [`Outcome`]. Called exactly once, never from a panic.
    fn finish(self, outcome: Outcome<'_>, now: &Now);
}

/// Whether a [`Record`] wants to see the rest of the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Keep going until the end of the body.
    Continue,
    /// Finish now, at the response head.
    Finish,
}

/// How a request ended. See the table in the [module docs](self).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Outcome<'a> {
    /// The response was delivered to its end.
    Complete,
    /// The inner service failed; there is no response.
    ServiceError(ErrorRef<'a>),
    /// The response body failed after the head was sent.
    BodyError(ErrorRef<'a>),
    /// The response future or body was dropped before the end: on a server the client went
    /// away, on a client the caller gave up.
    Cancelled,
    /// As `Cancelled`, while a panic was unwinding (a handler panicked below this layer).
    Panicked,
}

/// An error seen by the lifecycle, borrowed for the duration of [`Record::finish`].
///
/// Records can read its message, its type name (a low-cardinality `error.type`), or downcast
/// it to a known type (`hyper::Error`, `tonic::Status`, …).
#[derive(Clone, Copy)]
pub struct ErrorRef<'a> {
    error: &'a dyn ObservedError,
    type_name: &'static str,
}

/// The bound the lifecycle puts on errors: `Display` (every `Into<BoxError>` error has it)
/// and `'static`, so it can be downcast.
pub trait ObservedError: fmt::Display + Any {
    /// Upcasts to `Any`.
    fn as_any(&self) -> &dyn Any;
}

impl<E: fmt::Display + Any> ObservedError for E {
    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl<'a> ErrorRef<'a> {
    pub(crate) fn new<E: ObservedError>(error: &'a E) -> Self {
        ErrorRef {
            error,
            type_name: std::any::type_name::<E>(),
        }
    }

    /// The error's type name, e.g. `hyper::error::Error`.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// The error as a concrete type, if it is one.
    pub fn downcast_ref<T: Any>(&self) -> Option<&'a T> {
        self.error.as_any().downcast_ref()
    }

    /// A boxed error (`BoxError`) inside, if this is one; errors of layered services usually are.
    pub fn boxed(&self) -> Option<&'a (dyn std::error::Error + Send + Sync + 'static)> {
        self.downcast_ref::<Box<dyn std::error::Error + Send + Sync>>()
            .map(|b| &**b)
    }
}

impl fmt::Debug for ErrorRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrorRef")
            .field("type", &self.type_name)
            .field("message", &format_args!("{}", self.error))
            .finish()
    }
}

impl fmt::Display for ErrorRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.error, f)
    }
}

/// One reading of the clocks: a monotonic [`Instant`] for durations and the wall-clock
/// [`SystemTime`] for span timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    /// For durations.
    pub instant: Instant,
    /// For timestamps.
    pub system: SystemTime,
}

impl Timestamp {
    /// Reads both clocks.
    pub fn now() -> Self {
        Timestamp {
            instant: Instant::now(),
            system: SystemTime::now(),
        }
    }

    /// The monotonic time since `start` (zero if `start` is later).
    pub fn duration_since(&self, start: &Timestamp) -> Duration {
        self.instant.saturating_duration_since(start.instant)
    }

    /// The wall-clock time of this reading, on `start`'s wall clock: `start.system` plus the
    /// monotonic duration, so a span's duration equals the measured one even if the wall clock
    /// jumps.
    pub fn system_since(&self, start: &Timestamp) -> SystemTime {
        start.system + self.duration_since(start)
    }
}

/// The clocks, read lazily at most once per lifecycle event and shared by every observer of
/// that event. A filtered request never reads them.
#[derive(Debug, Default)]
pub struct Now {
    reading: OnceCell<Timestamp>,
}

impl Now {
    pub(crate) fn new() -> Self {
        Now {
            reading: OnceCell::new(),
        }
    }

    /// The reading for this event (the clocks are read on the first call).
    pub fn get(&self) -> Timestamp {
        *self.reading.get_or_init(Timestamp::now)
    }
}

// === impl Observer for pairs ===

/// The record of a pair of observers; see [`Observer`] for `(A, B)`.
#[derive(Debug)]
pub struct Both<A, B> {
    a: Option<A>,
    b: Option<B>,
}

impl<Req, A: Observer<Req>, B: Observer<Req>> Observer<Req> for (A, B) {
    type Record = Both<A::Record, B::Record>;

    #[inline]
    fn on_request(&self, request: &mut Request<Req>, now: &Now) -> Option<Self::Record> {
        // In order: the first observer (tracing) may leave a route or a context in the
        // request's extensions for the second (metrics).
        let a = self.0.on_request(request, now);
        let b = self.1.on_request(request, now);
        (a.is_some() || b.is_some()).then_some(Both { a, b })
    }
}

impl<A: Record, B: Record> Record for Both<A, B> {
    #[inline]
    fn context(&self) -> Option<&Context> {
        self.a
            .as_ref()
            .and_then(A::context)
            .or_else(|| self.b.as_ref().and_then(B::context))
    }

    #[inline]
    fn on_response<Body>(&mut self, response: &Response<Body>) -> Progress {
        // Each may finish on its own at the head; the pair goes on while either does.
        let now = Now::new();
        if let Some(mut a) = self.a.take() {
            match a.on_response(response) {
                Progress::Finish => a.finish(Outcome::Complete, &now),
                Progress::Continue => self.a = Some(a),
            }
        }
        if let Some(mut b) = self.b.take() {
            match b.on_response(response) {
                Progress::Finish => b.finish(Outcome::Complete, &now),
                Progress::Continue => self.b = Some(b),
            }
        }
        if self.a.is_none() && self.b.is_none() {
            Progress::Finish
        } else {
            Progress::Continue
        }
    }

    #[inline]
    fn on_body_chunk(&mut self, len: usize) {
        if let Some(a) = &mut self.a {
            a.on_body_chunk(len);
        }
        if let Some(b) = &mut self.b {
            b.on_body_chunk(len);
        }
    }

    #[inline]
    fn on_trailers(&mut self, trailers: &HeaderMap) {
        if let Some(a) = &mut self.a {
            a.on_trailers(trailers);
        }
        if let Some(b) = &mut self.b {
            b.on_trailers(trailers);
        }
    }

    #[inline]
    fn finish(self, outcome: Outcome<'_>, now: &Now) {
        if let Some(a) = self.a {
            a.finish(outcome, now);
        }
        if let Some(b) = self.b {
            b.finish(outcome, now);
        }
    }
}
