//! The optional `traceresponse` header: the server span's ids, handed back to the caller.

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::trace::{SpanContext, TraceFlags};
use tower_telemetry_propagation::traceparent::{self, KNOWN_FLAGS};

/// `traceresponse` (lowercase, as the specification asks senders to write it).
pub const TRACERESPONSE: HeaderName = HeaderName::from_static("traceresponse");

/// Whether the server layer answers with a W3C `traceresponse` header carrying the request's
/// trace id and server span id, e.g. for a support ticket ("quote this id"). See
/// [`TraceLayer::with_trace_response`](crate::TraceLayer::with_trace_response).
///
/// The header is the W3C Trace Context Level 2 `traceresponse` (editor's draft, "Trace Context
/// HTTP Response Headers Format", "Traceresponse Header"): `00-{trace-id}-{child-id}-{flags}`,
/// where `child-id` is the id of the callee's operation, here the server span, and the flags
/// say whether it was sampled (may have been recorded) and whether the trace id is random.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum TraceResponse {
    /// No header (the default).
    #[default]
    Off,
    /// On every response that has a server span, except to requests
    /// [`public_endpoint_if`](crate::TraceLayer::public_endpoint_if) marks as public: the
    /// public internet gets no ids of yours.
    ExceptPublicEndpoints,
    /// On every response that has a server span, public endpoints included.
    Always,
}

impl TraceResponse {
    /// Whether a request (public or not) gets the header.
    #[inline]
    pub(crate) fn applies(self, public: bool) -> bool {
        match self {
            TraceResponse::Off => false,
            TraceResponse::ExceptPublicEndpoints => !public,
            TraceResponse::Always => true,
        }
    }
}

/// Writes `traceresponse` for the span `span` with `flags` (the sampled and random flags the
/// span goes on the wire with), replacing any the inner service set: this hop's callee is this
/// server.
pub(crate) fn write(headers: &mut HeaderMap, span: &SpanContext, flags: TraceFlags) {
    let value = traceparent::encode_parts(span.trace_id(), span.span_id(), flags & KNOWN_FLAGS);
    if let Ok(value) = HeaderValue::from_bytes(&value) {
        headers.insert(TRACERESPONSE, value);
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{SpanId, TraceId, TraceState};

    use super::*;

    #[test]
    fn the_header_is_a_traceparent_shaped_value_with_only_known_flags() {
        let span = SpanContext::new(
            TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
            SpanId::from(0x00f0_67aa_0ba9_02b7),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        );
        let mut headers = HeaderMap::new();
        headers.insert(TRACERESPONSE, HeaderValue::from_static("stale"));
        write(&mut headers, &span, TraceFlags::new(0xff));
        assert_eq!(
            headers.get_all(TRACERESPONSE).iter().collect::<Vec<_>>(),
            ["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03"],
            "replaced; reserved flags cleared"
        );
    }

    #[test]
    fn public_endpoints_get_it_only_when_asked() {
        assert!(!TraceResponse::Off.applies(false));
        assert!(TraceResponse::ExceptPublicEndpoints.applies(false));
        assert!(!TraceResponse::ExceptPublicEndpoints.applies(true));
        assert!(TraceResponse::Always.applies(true));
    }
}
