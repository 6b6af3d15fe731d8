//! The OpenCensus binary propagator (gRPC's `grpc-trace-bin` metadata).

use http::HeaderMap;
use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, TraceContextExt};

use crate::grpc_trace_bin::{self, OneValue};
use crate::header::{Carrier, GRPC_TRACE_BIN, Sink};
use crate::propagator::{Codec, propagator_impls, static_fields};

/// OpenCensus binary trace context in gRPC's `grpc-trace-bin` metadata, strict (see
/// [`crate::grpc_trace_bin`]).
///
/// For gRPC peers still on OpenCensus (its `ocgrpc` plugins, gRPC's census plugins) or on
/// gRPC's OpenTelemetry plugin configured with its `grpc-trace-bin` propagator (gRFC A72).
///
/// **Extract-only by default**: [`new`](Self::new) reads the metadata but never writes it, so
/// an outgoing call carries only what the other propagators write (W3C `traceparent`, the
/// format to migrate to). [`with_injection`](Self::with_injection) writes it too, for
/// downstream services that read nothing else. To combine it with W3C Trace Context, use
/// [`crate::Propagator::with_grpc_trace_bin`], whose precedence does not depend on order.
///
/// ```
/// use http::HeaderMap;
/// use tower_telemetry_propagation::GrpcTraceBinPropagator;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("grpc-trace-bin", "AABL+S81d7NNpqPOkp0ADkc2ATTwZ6oLqQK3AgE".parse().unwrap());
/// let sc = GrpcTraceBinPropagator::new().extract(&headers).expect("valid");
/// assert!(sc.is_sampled());
///
/// let mut out = HeaderMap::new();
/// GrpcTraceBinPropagator::new().inject(&sc, &mut out);
/// assert!(out.is_empty(), "extract-only by default");
///
/// GrpcTraceBinPropagator::new().with_injection().inject(&sc, &mut out);
/// assert_eq!(out["grpc-trace-bin"], "AABL+S81d7NNpqPOkp0ADkc2ATTwZ6oLqQK3AgE");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GrpcTraceBinPropagator {
    inject: bool,
}

impl GrpcTraceBinPropagator {
    /// Extracts `grpc-trace-bin` but never injects it.
    pub const fn new() -> Self {
        GrpcTraceBinPropagator { inject: false }
    }

    /// Also injects `grpc-trace-bin` (unpadded base64 of the 29-byte binary form).
    pub const fn with_injection(mut self) -> Self {
        self.inject = true;
        self
    }

    /// True if this propagator injects `grpc-trace-bin`.
    pub const fn injects(&self) -> bool {
        self.inject
    }

    /// Extracts the remote span context, or `None` when the metadata is absent, malformed or
    /// holds more than one value. Never allocates.
    pub fn extract(&self, headers: &HeaderMap) -> Option<SpanContext> {
        self.extract_span_context(headers)
    }

    pub(crate) fn extract_span_context<C: Carrier + ?Sized>(
        &self,
        carrier: &C,
    ) -> Option<SpanContext> {
        let mut one = OneValue::default();
        carrier.for_each_value(&GRPC_TRACE_BIN, &mut |field| one.field(field));
        one.finish().ok()
    }

    /// Writes `grpc-trace-bin` for a valid `span_context`, if injection is on.
    pub fn inject(&self, span_context: &SpanContext, headers: &mut HeaderMap) {
        self.inject_span_context(span_context, headers);
    }

    pub(crate) fn inject_span_context<S: Sink + ?Sized>(&self, sc: &SpanContext, sink: &mut S) {
        if self.inject && sc.is_valid() {
            sink.set_bytes(&GRPC_TRACE_BIN, &grpc_trace_bin::encode_base64(sc));
        }
    }
}

impl Codec for GrpcTraceBinPropagator {
    fn extract_from<C: Carrier + ?Sized>(&self, carrier: &C, cx: &Context) -> Context {
        match self.extract_span_context(carrier) {
            Some(sc) => cx.with_remote_span_context(sc),
            None => cx.clone(),
        }
    }

    fn inject_into<S: Sink + ?Sized>(&self, cx: &Context, sink: &mut S) {
        self.inject_span_context(cx.span().span_context(), sink);
    }

    fn field_names(&self) -> &'static [String] {
        if self.inject {
            static_fields!("grpc-trace-bin")
        } else {
            &[]
        }
    }
}

propagator_impls!(GrpcTraceBinPropagator);
