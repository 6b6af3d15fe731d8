//! Making the request's `tracing` span from the lifecycle's facts and the OpenTelemetry span's
//! ids, and recording the response into it.

use opentelemetry::trace::SpanContext;
use tracing::field::Empty;
use tracing::{Level, Span};

use super::{CLIENT_SPAN, SERVER_SPAN, TARGET};
use crate::hooks::RequestInfo;
use crate::lifecycle::{End, Facts, RequestFacts};

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
    pub(crate) fn server(
        self,
        ids: &SpanContext,
        request: &RequestInfo<'_>,
        facts: &RequestFacts<'_>,
    ) -> Span {
        let is_http = !facts.is_grpc();
        span_at!(
            self.level,
            SERVER_SPAN,
            trace_id = %ids.trace_id(),
            span_id = %ids.span_id(),
            trace_sampled = ids.is_sampled(),
            http.request.method = is_http.then(|| facts.method()),
            http.route = if is_http { facts.route(request).map(|r| &**r) } else { None },
            rpc.method = if is_http { None } else { facts.rpc_method(request).map(|m| &**m) },
            http.response.status_code = Empty,
            rpc.response.status_code = Empty,
        )
    }

    /// The span of a call a client makes; `ids` are its client span's.
    pub(crate) fn client(
        self,
        ids: &SpanContext,
        request: &RequestInfo<'_>,
        facts: &RequestFacts<'_>,
    ) -> Span {
        let is_http = !facts.is_grpc();
        span_at!(
            self.level,
            CLIENT_SPAN,
            trace_id = %ids.trace_id(),
            span_id = %ids.span_id(),
            trace_sampled = ids.is_sampled(),
            http.request.method = is_http.then(|| facts.method()),
            rpc.method = if is_http { None } else { facts.rpc_method(request).map(|m| &**m) },
            server.address = facts.server(request).0.map(|a| &**a),
            http.response.status_code = Empty,
            rpc.response.status_code = Empty,
        )
    }
}

/// The response head's status, into the span (HTTP).
#[inline]
pub(crate) fn record_response(span: &Span, facts: &Facts) {
    if span.is_disabled() || facts.is_grpc() {
        return;
    }
    if let Some(status) = facts.status() {
        span.record("http.response.status_code", status);
    }
}

/// The gRPC status, into the span, just before it closes.
#[inline]
pub(crate) fn record_end(span: &Span, end: &End<'_>) {
    if span.is_disabled() {
        return;
    }
    if let Some(code) = end.verdict().grpc_code {
        span.record("rpc.response.status_code", code.as_str());
    }
}
