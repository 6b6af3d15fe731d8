//! The Google Cloud Trace propagator (`X-Cloud-Trace-Context`).

use http::HeaderMap;
use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, TraceContextExt};

use crate::cloud_trace;
use crate::header::{Carrier, Sink, X_CLOUD_TRACE_CONTEXT};
use crate::propagator::{Codec, propagator_impls, static_fields};

/// Google Cloud Trace `X-Cloud-Trace-Context`, strict (see [`crate::cloud_trace`]).
///
/// [`CloudTracePropagator::one_way`] extracts the header but never writes it, which is what
/// Google recommends when services talk W3C among themselves and only the load balancer or a
/// legacy caller sends `X-Cloud-Trace-Context`. To accept both formats, use
/// [`crate::Propagator`], whose precedence does not depend on order.
///
/// ```
/// use http::HeaderMap;
/// use tower_telemetry_propagation::CloudTracePropagator;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("x-cloud-trace-context", "105445aa7843bc8bf206b12000100000/1;o=1".parse().unwrap());
/// let sc = CloudTracePropagator::new().extract(&headers).expect("valid");
/// assert!(sc.is_sampled());
///
/// let mut out = HeaderMap::new();
/// CloudTracePropagator::one_way().inject(&sc, &mut out);
/// assert!(out.is_empty(), "one-way never writes the header");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CloudTracePropagator {
    one_way: bool,
}

impl CloudTracePropagator {
    /// Extracts and injects `X-Cloud-Trace-Context`.
    pub const fn new() -> Self {
        CloudTracePropagator { one_way: false }
    }

    /// Extracts `X-Cloud-Trace-Context` but never injects it.
    pub const fn one_way() -> Self {
        CloudTracePropagator { one_way: true }
    }

    /// True if this propagator never injects.
    pub const fn is_one_way(&self) -> bool {
        self.one_way
    }

    /// Extracts the remote span context, or `None` when the header is absent, malformed or
    /// sent in more than one field. Never allocates.
    pub fn extract(&self, headers: &HeaderMap) -> Option<SpanContext> {
        self.extract_span_context(headers)
    }

    pub(crate) fn extract_span_context<C: Carrier + ?Sized>(
        &self,
        carrier: &C,
    ) -> Option<SpanContext> {
        cloud_trace::parse(carrier.single_value(&X_CLOUD_TRACE_CONTEXT).ok()??).ok()
    }

    /// Writes `X-Cloud-Trace-Context` for a valid `span_context`, unless one-way.
    pub fn inject(&self, span_context: &SpanContext, headers: &mut HeaderMap) {
        self.inject_span_context(span_context, headers);
    }

    pub(crate) fn inject_span_context<S: Sink + ?Sized>(&self, sc: &SpanContext, sink: &mut S) {
        if !self.one_way && sc.is_valid() {
            sink.set_bytes(&X_CLOUD_TRACE_CONTEXT, cloud_trace::encode(sc).as_bytes());
        }
    }
}

impl Codec for CloudTracePropagator {
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
        if self.one_way {
            &[]
        } else {
            static_fields!("x-cloud-trace-context")
        }
    }
}

propagator_impls!(CloudTracePropagator);
