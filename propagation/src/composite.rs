//! The composite propagator: W3C Trace Context, optionally Google Cloud Trace and W3C Baggage,
//! with a precedence that does not depend on order.

use http::HeaderMap;
use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, TraceContextExt};

use crate::header::{Carrier, Sink};
use crate::propagator::{Codec, propagator_impls, static_fields};
use crate::tracestate::KeyGrammar;
use crate::w3c::Extracted;
use crate::{BaggagePropagator, CloudTracePropagator, TraceContextPropagator};

/// W3C Trace Context, plus Google Cloud Trace and W3C Baggage when configured.
///
/// **Precedence** is fixed, whatever the configuration order: a valid `traceparent` wins; only
/// when it is absent or invalid is `X-Cloud-Trace-Context` used. (OpenTelemetry's
/// `TextMapCompositePropagator` lets the last extractor win, and Google's own libraries
/// disagree on the order, see `spec/SPEC.md` §3.4.)
///
/// | preset | extracts | injects |
/// |---|---|---|
/// | [`w3c`](Self::w3c) (the default) | `traceparent`, `tracestate` | `traceparent`, `tracestate` |
/// | [`w3c_and_cloud_trace`](Self::w3c_and_cloud_trace) | the above, then `X-Cloud-Trace-Context` | the above and `X-Cloud-Trace-Context` |
/// | [`cloud_trace_one_way`](Self::cloud_trace_one_way) | the above, then `X-Cloud-Trace-Context` | `traceparent`, `tracestate` only |
/// | [`with_baggage`](Self::with_baggage) | adds `baggage` | adds `baggage` |
///
/// ```
/// use http::HeaderMap;
/// use opentelemetry::trace::TraceId;
/// use propagation::{Propagator, Source};
///
/// let mut headers = HeaderMap::new();
/// headers.insert("x-cloud-trace-context", "105445aa7843bc8bf206b12000100000/1;o=1".parse().unwrap());
/// headers.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap());
///
/// let propagator = Propagator::cloud_trace_one_way();
/// let (sc, source) = propagator.extract_with_source(&headers).unwrap();
/// assert_eq!(source, Source::TraceContext, "a valid traceparent wins");
///
/// headers.insert("traceparent", "00-not-valid".parse().unwrap());
/// let (sc, source) = propagator.extract_with_source(&headers).unwrap();
/// assert_eq!(source, Source::CloudTrace, "Cloud Trace is the fallback");
/// assert_eq!(sc.trace_id(), TraceId::from_hex("105445aa7843bc8bf206b12000100000").unwrap());
///
/// // One-way: the outgoing request carries W3C only.
/// let mut out = HeaderMap::new();
/// propagator.inject(&sc, &mut out);
/// assert!(out.contains_key("traceparent"));
/// assert!(!out.contains_key("x-cloud-trace-context"));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Propagator {
    trace_context: TraceContextPropagator,
    cloud_trace: Option<CloudTracePropagator>,
    baggage: Option<BaggagePropagator>,
}

/// Which header a [`Propagator`] took the span context from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Source {
    /// W3C `traceparent` (with `tracestate`).
    TraceContext,
    /// Google `X-Cloud-Trace-Context`.
    CloudTrace,
}

impl Propagator {
    /// W3C Trace Context only.
    pub const fn w3c() -> Self {
        Propagator {
            trace_context: TraceContextPropagator::new(),
            cloud_trace: None,
            baggage: None,
        }
    }

    /// W3C Trace Context and Google Cloud Trace, both extracted (W3C first) and both injected.
    pub const fn w3c_and_cloud_trace() -> Self {
        Propagator {
            cloud_trace: Some(CloudTracePropagator::new()),
            ..Self::w3c()
        }
    }

    /// Extracts W3C Trace Context, falling back to Google Cloud Trace; injects W3C only.
    pub const fn cloud_trace_one_way() -> Self {
        Propagator {
            cloud_trace: Some(CloudTracePropagator::one_way()),
            ..Self::w3c()
        }
    }

    /// Also extracts and injects W3C `baggage`.
    pub const fn with_baggage(mut self) -> Self {
        self.baggage = Some(BaggagePropagator::new());
        self
    }

    /// Selects the `tracestate` key grammar (Level 2 by default).
    pub const fn with_key_grammar(mut self, grammar: KeyGrammar) -> Self {
        self.trace_context = self.trace_context.with_key_grammar(grammar);
        self
    }

    /// Caps the `tracestate` sent downstream; see
    /// [`TraceContextPropagator::with_max_tracestate_len`].
    pub const fn with_max_tracestate_len(mut self, max_len: usize) -> Self {
        self.trace_context = self.trace_context.with_max_tracestate_len(max_len);
        self
    }

    /// Extracts the remote span context by the precedence above. Never allocates unless a
    /// `tracestate` is present.
    pub fn extract(&self, headers: &HeaderMap) -> Option<SpanContext> {
        self.extract_with_source(headers).map(|(sc, _)| sc)
    }

    /// [`extract`](Self::extract), and which header won.
    pub fn extract_with_source(&self, headers: &HeaderMap) -> Option<(SpanContext, Source)> {
        let (extracted, source) = self.extract_parts(headers)?;
        Some((extracted.span_context, source))
    }

    fn extract_parts<C: Carrier + ?Sized>(&self, carrier: &C) -> Option<(Extracted, Source)> {
        if let Some(extracted) = self.trace_context.extract_parts(carrier) {
            return Some((extracted, Source::TraceContext));
        }
        let sc = self.cloud_trace?.extract_span_context(carrier)?;
        Some((Extracted::from(sc), Source::CloudTrace))
    }

    /// Writes the configured trace headers for `span_context` (not baggage, which lives in a
    /// `Context`: use [`HeaderPropagator::inject_headers`](crate::HeaderPropagator) for it).
    pub fn inject(&self, span_context: &SpanContext, headers: &mut HeaderMap) {
        self.trace_context.inject(span_context, headers);
        if let Some(cloud_trace) = &self.cloud_trace {
            cloud_trace.inject(span_context, headers);
        }
    }
}

impl Codec for Propagator {
    fn extract_from<C: Carrier + ?Sized>(&self, carrier: &C, cx: &Context) -> Context {
        let cx = match self.extract_parts(carrier) {
            Some((extracted, _)) => extracted.into_context(cx),
            None => cx.clone(),
        };
        match &self.baggage {
            Some(baggage) => baggage.extract_from(carrier, &cx),
            None => cx,
        }
    }

    fn inject_into<S: Sink + ?Sized>(&self, cx: &Context, sink: &mut S) {
        self.trace_context.inject_into(cx, sink);
        if let Some(cloud_trace) = &self.cloud_trace {
            cloud_trace.inject_span_context(cx.span().span_context(), sink);
        }
        if let Some(baggage) = &self.baggage {
            baggage.inject_into(cx, sink);
        }
    }

    fn field_names(&self) -> &'static [String] {
        let injects_cloud_trace = self.cloud_trace.is_some_and(|c| !c.is_one_way());
        match (injects_cloud_trace, self.baggage.is_some()) {
            (false, false) => static_fields!("traceparent", "tracestate"),
            (true, false) => static_fields!("traceparent", "tracestate", "x-cloud-trace-context"),
            (false, true) => static_fields!("traceparent", "tracestate", "baggage"),
            (true, true) => static_fields!(
                "traceparent",
                "tracestate",
                "x-cloud-trace-context",
                "baggage"
            ),
        }
    }
}

propagator_impls!(Propagator);
