//! Making the request's `tracing` span from the lifecycle's facts and the OpenTelemetry span's
//! ids, and recording the response into it.

use opentelemetry::trace::SpanContext;
use tracing::field::Empty;
use tracing::{Level, Span};

use super::{CLIENT_SPAN, SERVER_SPAN, TARGET};
use crate::lifecycle::{End, Facts};

/// The `tracing` side of a span layer's configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogSpans {
    pub(crate) level: Level,
}

impl Default for LogSpans {
    fn default() -> Self {
        LogSpans { level: Level::INFO }
    }
}

/// A request's `tracing` span, boxed when a subscriber enabled it and absent otherwise: a
/// `tracing::Span` is 40 bytes, copied with every move of the response future and body, so
/// nothing grows when nobody listens (and when someone does, the subscriber allocates for the
/// span anyway).
#[derive(Debug, Default)]
pub(crate) struct LogSpan(Option<Box<Span>>);

impl LogSpan {
    #[inline]
    fn new(span: Span) -> Self {
        if span.is_disabled() {
            LogSpan(None)
        } else {
            LogSpan(Some(Box::new(span)))
        }
    }

    /// The span, when a subscriber enabled it.
    #[inline]
    pub(crate) fn get(&self) -> Option<&Span> {
        self.0.as_deref()
    }
}

/// `tracing::span!` at a level known only at run time: one callsite per level, each with its
/// own interest cache, so a level nobody listens to costs a load and a branch.
macro_rules! span_at {
    ($level:expr, $name:expr, $($fields:tt)*) => {
        match $level {
            Level::ERROR => tracing::span!(target: TARGET, Level::ERROR, $name, $($fields)*),
            Level::WARN => tracing::span!(target: TARGET, Level::WARN, $name, $($fields)*),
            Level::INFO => tracing::span!(target: TARGET, Level::INFO, $name, $($fields)*),
            Level::DEBUG => tracing::span!(target: TARGET, Level::DEBUG, $name, $($fields)*),
            Level::TRACE => tracing::span!(target: TARGET, Level::TRACE, $name, $($fields)*),
        }
    };
}

impl LogSpans {
    /// The span of a request a server handles: `ids` are its server span's (or, for a skipped
    /// request, the caller's), with the flags that go on the wire. The field values are only
    /// computed when a subscriber is interested.
    pub(crate) fn server(self, ids: &SpanContext, facts: &Facts) -> LogSpan {
        let is_http = !facts.is_grpc();
        LogSpan::new(span_at!(
            self.level,
            SERVER_SPAN,
            trace_id = %ids.trace_id(),
            span_id = %ids.span_id(),
            trace_sampled = ids.is_sampled(),
            http.request.method = is_http.then(|| facts.method()),
            http.route = if is_http { facts.route() } else { None },
            rpc.method = if is_http { None } else { facts.rpc_method() },
            http.response.status_code = Empty,
            rpc.response.status_code = Empty,
        ))
    }

    /// The span of a call a client makes; `ids` are its client span's.
    pub(crate) fn client(self, ids: &SpanContext, facts: &Facts) -> LogSpan {
        let is_http = !facts.is_grpc();
        LogSpan::new(span_at!(
            self.level,
            CLIENT_SPAN,
            trace_id = %ids.trace_id(),
            span_id = %ids.span_id(),
            trace_sampled = ids.is_sampled(),
            http.request.method = is_http.then(|| facts.method()),
            rpc.method = if is_http { None } else { facts.rpc_method() },
            server.address = facts.server().0,
            http.response.status_code = Empty,
            rpc.response.status_code = Empty,
        ))
    }
}

/// The response head's status, into the span (HTTP).
#[inline]
pub(crate) fn record_response(span: &LogSpan, facts: &Facts) {
    let Some(span) = span.get() else { return };
    if facts.is_grpc() {
        return;
    }
    if let Some(status) = facts.status() {
        span.record("http.response.status_code", status);
    }
}

/// The gRPC status, into the span, just before it closes.
#[inline]
pub(crate) fn record_end(span: &LogSpan, end: &End<'_>) {
    let Some(span) = span.get() else { return };
    if let Some(code) = end.verdict().grpc_code {
        span.record("rpc.response.status_code", code.as_str());
    }
}
