//! The request lifecycle that spans, client spans and metrics all plug into.
//!
//! One generic Tower middleware ([`ObserveLayer`] → [`Observe`] → [`ResponseFuture`] →
//! [`ResponseBody`]) drives an [`Observer`] through a request and **finishes it exactly once**,
//! with an [`Outcome`], at the true end of the response:
//!
//! | event | outcome |
//! |---|---|
//! | the body returns its last frame (`None`), a trailers frame, or reports [`is_end_stream`] after a data frame (hyper stops polling once `Content-Length` is satisfied) | [`Outcome::Complete`] |
//! | a gRPC-Web answer's trailer frame has passed in the body (its status is read there; the bytes that follow pass unobserved) | [`Outcome::Complete`] |
//! | the response head says the body is already empty (`HEAD`, `204`, gRPC Trailers-Only) | [`Outcome::Complete`] at the head |
//! | an HTTP client call's response head arrives, or a gRPC call is answered by something that is not gRPC (no `grpc-status`, HTTP status not 200) | [`Outcome::Complete`] at the head, for every signal alike |
//! | the inner service returns `Err` | [`Outcome::ServiceError`]; the error is passed through unchanged |
//! | the body returns `Err` | [`Outcome::BodyError`]; the error is passed through unchanged |
//! | the future or the body is dropped first (client disconnect, caller cancelled) | [`Outcome::Cancelled`] |
//! | … while a panic unwinds (a handler panicked below us) | [`Outcome::Panicked`] |
//!
//! The layer never invents an error, never changes the response (except for the response
//! headers an observer writes when asked to, such as the server's opt-in `traceresponse`),
//! and forwards `poll_ready`, `is_end_stream` and `size_hint` verbatim.
//!
//! # What is current while the request's code runs
//!
//! Around the inner service's `call` and every poll of its future, the record's
//! [`Context`](Record::context) is current, so `Context::current()` in a handler is the
//! request's. With the `tracing` feature the record's [`tracing` span](Record::tracing_span)
//! is entered there too, **and** around every poll of the response body (with the context),
//! so a log line written while a streamed body is produced belongs to its request. The body is
//! entered only when a subscriber enabled the span: with nobody listening it costs nothing.
//!
//! # Plugging in
//!
//! An [`Observer`] is the per-layer part (tracer, instruments), cloned with the service, never
//! per request. For each request it returns a [`Record`], the per-request state, or `None` to
//! stay out of the way entirely (a filtered request, tracing disabled): then nothing is
//! allocated and the response body is passed through as is.
//!
//! The lifecycle owns the layer's [`Conventions`] and, per request, its [`Facts`]: the
//! protocol, method, route, scheme, server address, RPC method, response status and version
//! and `grpc-status`, each read once and shared by every observer. Each observer declares
//! the facts it reads when it is built ([`Observer::needs`]); the lifecycle computes exactly
//! those when the request arrives, before any observer sees it. When the request ends, the
//! lifecycle judges it once ([`End::verdict`]: error or not, `error.type`, the gRPC code) and
//! hands the same [`End`] to every record.
//!
//! A pair of observers `(A, B)` is an observer too (its needs are the union of theirs): both
//! see every request, their records are
//! driven by **one** future and **one** body wrapper, with the same facts and the same [`Now`]
//! readings, so a span's duration and a histogram's value are the same measurement. This is
//! how the fused trace + metrics layer works.
//!
//! ```
//! use http::Request;
//! use tower_telemetry_trace::lifecycle::{
//!     Conventions, End, FactSet, Needs, ObserveLayer, Observer, Record, RequestFacts,
//! };
//!
//! /// Logs each request's route, outcome and duration.
//! #[derive(Clone)]
//! struct LogRequests;
//!
//! struct Logged;
//!
//! impl<B> Observer<B> for LogRequests {
//!     type Record = Logged;
//!     fn needs(&self) -> Needs {
//!         // The shared clock reading and route, computed once before `on_request`.
//!         Needs::new(FactSet::START.and(FactSet::ROUTE))
//!     }
//!     fn on_request(&self, _: &mut Request<B>, _: &RequestFacts<'_>) -> Option<Logged> {
//!         Some(Logged)
//!     }
//! }
//!
//! impl Record for Logged {
//!     fn finish(self, end: &End<'_>) {
//!         let facts = end.facts();
//!         println!(
//!             "{} {} -> {:?} {:?} in {:?}",
//!             facts.method(),
//!             facts.route().unwrap_or("-"),
//!             facts.status(),
//!             end.verdict().error_type,
//!             end.elapsed(),
//!         );
//!     }
//! }
//!
//! let layer = ObserveLayer::new(Conventions::server(), LogRequests);
//! # let _ = layer;
//! ```
//!
//! [`is_end_stream`]: http_body::Body::is_end_stream

mod body;
mod clock;
mod conventions;
mod facts;
mod future;
pub(crate) mod guard;
mod layer;
mod pair;
mod scope;
pub(crate) mod service;
#[cfg(test)]
mod tests;
mod verdict;

use std::time::Duration;

use http::{HeaderMap, Request};
use opentelemetry::Context;

pub use body::ResponseBody;
pub use clock::{Now, Timestamp};
pub use conventions::Conventions;
pub use facts::{FactSet, Facts, Needs, RequestFacts};
pub use future::ResponseFuture;
pub use layer::{IntoObserveLayer, ObserveLayer};
pub use pair::PairRecord;
pub use service::Observe;
pub use verdict::Verdict;

pub use crate::outcome::{ErrorRef, ObservedError, Outcome};
use crate::view::ResponseInfo;

/// The per-layer half of the lifecycle: decides, per request, whether to observe it.
///
/// See the [module docs](self).
pub trait Observer<B> {
    /// The per-request state.
    type Record: Record;

    /// Whether this observer observes anything at all (a layer with a no-op tracer does not).
    /// When no observer of a lifecycle is enabled, requests pass through without even their
    /// facts being read.
    #[inline]
    fn enabled(&self) -> bool {
        true
    }

    /// The facts this observer reads, declared when it was built (return a stored value: this
    /// is called per request). The lifecycle computes them, and only them, before
    /// [`on_request`](Observer::on_request); a fact nobody declared is `None` in [`Facts`].
    #[inline]
    fn needs(&self) -> Needs {
        Needs::NONE
    }

    /// Called in `Service::call`, before the inner service sees the request, with the facts
    /// already computed. The observer may change the request (insert extensions, inject
    /// headers). Returning `None` makes the request pass through untouched, at no cost.
    fn on_request(
        &self,
        request: &mut Request<B>,
        facts: &RequestFacts<'_>,
    ) -> Option<Self::Record>;
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

    /// A `tracing` span to enter while the inner service's `call`, its future and (when a
    /// subscriber enabled the span) the response body run, so the log lines written there
    /// are in the request's span. The span layers return theirs (see the
    /// [`logs`](crate::logs) module); in a pair, the first observer's wins.
    #[cfg(feature = "tracing")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
    #[inline]
    fn tracing_span(&self) -> Option<&tracing::Span> {
        None
    }

    /// The response head arrived, before anything else sees it: the one place a record may
    /// change the response, by writing headers (the server layer's opt-in `traceresponse`).
    /// [`on_response`](Record::on_response) follows. Not called for a reqwest response (it
    /// has been received, not produced).
    #[inline]
    fn write_response_headers(&mut self, headers: &mut HeaderMap) {
        let _ = headers;
    }

    /// The response head arrived; `facts` already holds its status, version and any
    /// `grpc-status`.
    #[inline]
    fn on_response(&mut self, response: &ResponseInfo<'_>, facts: &Facts) {
        let _ = (response, facts);
    }

    /// A data frame of `len` bytes went by.
    #[inline]
    fn on_body_chunk(&mut self, len: usize) {
        let _ = len;
    }

    /// A trailers frame went by (the lifecycle has already read `grpc-status` from it).
    /// [`finish`](Record::finish) follows.
    #[inline]
    fn on_trailers(&mut self, trailers: &HeaderMap) {
        let _ = trailers;
    }

    /// The request is over; see [`End`]. Called exactly once, never from a panic.
    fn finish(self, end: &End<'_>);
}

/// How a request ended, as every record of the lifecycle sees it: the same facts, outcome,
/// verdict and clock reading.
#[derive(Debug, Clone, Copy)]
pub struct End<'a> {
    facts: &'a Facts,
    outcome: Outcome<'a>,
    verdict: Verdict,
    now: &'a Now,
    context: Option<&'a Context>,
}

impl<'a> End<'a> {
    pub(crate) fn new(facts: &'a Facts, outcome: Outcome<'a>, now: &'a Now) -> Self {
        let elapsed = || elapsed(facts, now);
        End {
            facts,
            outcome,
            verdict: verdict::judge(facts, &outcome, elapsed),
            now,
            context: None,
        }
    }

    /// The same end, seen by a record that comes after one with a [`context`](Record::context)
    /// (the second of a pair): that context is handed on, unless one was already.
    #[inline]
    pub(crate) fn after(&self, earlier: Option<&'a Context>) -> Self {
        End {
            context: self.context.or(earlier),
            ..*self
        }
    }

    /// The context of the request's own span, when an earlier record of the lifecycle made one:
    /// in a pair `(A, B)`, `B` sees `A`'s [`Record::context`] (the fused metrics see the server
    /// span, or the client span, not its parent), so a later observer can name the span a
    /// measurement belongs to (an exemplar) without a second mechanism. `None` for the first
    /// record, and when nothing before it made a context.
    #[inline]
    pub fn context(&self) -> Option<&'a Context> {
        self.context
    }

    /// The request's facts, the response's included.
    #[inline]
    pub fn facts(&self) -> &'a Facts {
        self.facts
    }

    /// How it ended.
    #[inline]
    pub fn outcome(&self) -> &Outcome<'a> {
        &self.outcome
    }

    /// The one judgement of the request: `error.type` when it is an error, the gRPC code.
    #[inline]
    pub fn verdict(&self) -> Verdict {
        self.verdict
    }

    /// The clock reading of the end (read on the first call, shared).
    #[inline]
    pub fn now(&self) -> Timestamp {
        self.now.get()
    }

    /// The time from the request's arrival to its end (zero if nobody read the start).
    #[inline]
    pub fn elapsed(&self) -> Duration {
        elapsed(self.facts, self.now)
    }

    /// The gRPC method as the conventions' `rpc.method` names it: the fully qualified method
    /// (`pkg.Service/Method`, interned) when it is recognised (see
    /// [`Verdict::rpc_method_recognized`]), `None` when `rpc.method` is `_OTHER` (or for HTTP).
    #[inline]
    pub fn rpc_method(&self) -> Option<&'static str> {
        self.facts
            .rpc_method()
            .filter(|_| self.verdict.rpc_method_recognized)
    }
}

fn elapsed(facts: &Facts, now: &Now) -> Duration {
    facts
        .start()
        .map_or(Duration::ZERO, |start| now.get().duration_since(&start))
}
