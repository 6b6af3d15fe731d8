//! The composite propagator: W3C Trace Context, optionally Google Cloud Trace, OpenCensus
//! `grpc-trace-bin` and W3C Baggage, with a precedence that does not depend on order.

use http::HeaderMap;
use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, TraceContextExt};

use crate::header::{Carrier, Sink};
use crate::propagator::{Codec, propagator_impls, static_fields};
use crate::tracestate::KeyGrammar;
use crate::w3c::Extracted;
use crate::{
    BaggagePropagator, CloudTracePropagator, GrpcTraceBinPropagator, TraceContextPropagator,
};

/// W3C Trace Context, plus Google Cloud Trace, OpenCensus `grpc-trace-bin` and W3C Baggage
/// when configured.
///
/// **Precedence** is fixed, whatever the configuration order: a valid `traceparent` wins; only
/// when it is absent or invalid is `X-Cloud-Trace-Context` used, and only when that is absent
/// or invalid too, `grpc-trace-bin`. (OpenTelemetry's `TextMapCompositePropagator` lets the
/// last extractor win, and Google's own libraries disagree on the order: the
/// `opentelemetry-operations-go` README lists `CloudTraceOneWayPropagator` before
/// `TraceContext` so that the last one, `traceparent`, wins, while the Java
/// `XCloudTraceContextPropagator` keeps the first context found.)
///
/// Both fallbacks are legacy formats that exist for migration. `X-Cloud-Trace-Context` comes
/// before `grpc-trace-bin` because it is the one Google's infrastructure (front ends, load
/// balancers, Cloud Run) maintains, so it describes the nearest hop, and because OpenCensus
/// services that send both carry the same trace in them; `grpc-trace-bin` then decides only
/// for a caller that speaks nothing else, an OpenCensus gRPC client.
///
/// | preset | extracts | injects |
/// |---|---|---|
/// | [`w3c`](Self::w3c) (the default) | `traceparent`, `tracestate` | `traceparent`, `tracestate` |
/// | [`w3c_and_cloud_trace`](Self::w3c_and_cloud_trace) | the above, then `X-Cloud-Trace-Context` | the above and `X-Cloud-Trace-Context` |
/// | [`cloud_trace_one_way`](Self::cloud_trace_one_way) | the above, then `X-Cloud-Trace-Context` | `traceparent`, `tracestate` only |
/// | [`with_grpc_trace_bin`](Self::with_grpc_trace_bin) | adds `grpc-trace-bin`, last | nothing more |
/// | [`with_grpc_trace_bin_injection`](Self::with_grpc_trace_bin_injection) | adds `grpc-trace-bin`, last | adds `grpc-trace-bin` |
/// | [`with_baggage`](Self::with_baggage) | adds `baggage` | adds `baggage` |
///
/// ```
/// use http::HeaderMap;
/// use opentelemetry::trace::TraceId;
/// use tower_telemetry_propagation::{Propagator, Source};
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
    grpc_trace_bin: Option<GrpcTraceBinPropagator>,
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
    /// OpenCensus binary `grpc-trace-bin` (gRPC metadata).
    GrpcTraceBin,
}

impl Propagator {
    /// W3C Trace Context only.
    pub const fn w3c() -> Self {
        Propagator {
            trace_context: TraceContextPropagator::new(),
            cloud_trace: None,
            grpc_trace_bin: None,
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

    /// Also extracts OpenCensus `grpc-trace-bin`, after `traceparent` and
    /// `X-Cloud-Trace-Context`, but does not inject it.
    ///
    /// ```
    /// use http::HeaderMap;
    /// use tower_telemetry_propagation::{Propagator, Source};
    ///
    /// let propagator = Propagator::w3c().with_grpc_trace_bin();
    /// let mut headers = HeaderMap::new();
    /// headers.insert("grpc-trace-bin", "AABL+S81d7NNpqPOkp0ADkc2ATTwZ6oLqQK3AgE".parse().unwrap());
    /// let (sc, source) = propagator.extract_with_source(&headers).unwrap();
    /// assert_eq!(source, Source::GrpcTraceBin);
    ///
    /// let mut out = HeaderMap::new();
    /// propagator.inject(&sc, &mut out);
    /// assert!(out.contains_key("traceparent") && !out.contains_key("grpc-trace-bin"));
    /// ```
    pub const fn with_grpc_trace_bin(mut self) -> Self {
        self.grpc_trace_bin = Some(GrpcTraceBinPropagator::new());
        self
    }

    /// Also extracts OpenCensus `grpc-trace-bin` (as
    /// [`with_grpc_trace_bin`](Self::with_grpc_trace_bin)) and injects it, for downstream gRPC
    /// services that read nothing else.
    pub const fn with_grpc_trace_bin_injection(mut self) -> Self {
        self.grpc_trace_bin = Some(GrpcTraceBinPropagator::new().with_injection());
        self
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
        if let Some(sc) = self
            .cloud_trace
            .and_then(|cloud_trace| cloud_trace.extract_span_context(carrier))
        {
            return Some((Extracted::from(sc), Source::CloudTrace));
        }
        let sc = self.grpc_trace_bin?.extract_span_context(carrier)?;
        Some((Extracted::from(sc), Source::GrpcTraceBin))
    }

    /// Writes the configured trace headers for `span_context` (not baggage, which lives in a
    /// `Context`: use [`HeaderPropagator::inject_headers`](crate::HeaderPropagator) for it).
    pub fn inject(&self, span_context: &SpanContext, headers: &mut HeaderMap) {
        self.trace_context.inject(span_context, headers);
        if let Some(cloud_trace) = &self.cloud_trace {
            cloud_trace.inject(span_context, headers);
        }
        if let Some(grpc_trace_bin) = &self.grpc_trace_bin {
            grpc_trace_bin.inject(span_context, headers);
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
        if self.cloud_trace.is_some() || self.grpc_trace_bin.is_some() {
            let span = cx.span();
            if let Some(cloud_trace) = &self.cloud_trace {
                cloud_trace.inject_span_context(span.span_context(), sink);
            }
            if let Some(grpc_trace_bin) = &self.grpc_trace_bin {
                grpc_trace_bin.inject_span_context(span.span_context(), sink);
            }
        }
        if let Some(baggage) = &self.baggage {
            baggage.inject_into(cx, sink);
        }
    }

    fn field_names(&self) -> &'static [String] {
        // The fields this propagator injects, as OpenTelemetry's `fields()` asks.
        let cloud_trace = self.cloud_trace.is_some_and(|c| !c.is_one_way());
        let grpc_trace_bin = self.grpc_trace_bin.is_some_and(|g| g.injects());
        match (cloud_trace, grpc_trace_bin, self.baggage.is_some()) {
            (false, false, false) => static_fields!("traceparent", "tracestate"),
            (true, false, false) => {
                static_fields!("traceparent", "tracestate", "x-cloud-trace-context")
            }
            (false, true, false) => static_fields!("traceparent", "tracestate", "grpc-trace-bin"),
            (true, true, false) => static_fields!(
                "traceparent",
                "tracestate",
                "x-cloud-trace-context",
                "grpc-trace-bin"
            ),
            (false, false, true) => static_fields!("traceparent", "tracestate", "baggage"),
            (true, false, true) => static_fields!(
                "traceparent",
                "tracestate",
                "x-cloud-trace-context",
                "baggage"
            ),
            (false, true, true) => {
                static_fields!("traceparent", "tracestate", "grpc-trace-bin", "baggage")
            }
            (true, true, true) => static_fields!(
                "traceparent",
                "tracestate",
                "x-cloud-trace-context",
                "grpc-trace-bin",
                "baggage"
            ),
        }
    }
}

propagator_impls!(Propagator);
