//! The W3C propagators: Trace Context (`traceparent` + `tracestate`) and Baggage.

use http::HeaderMap;
use opentelemetry::Context;
use opentelemetry::baggage::{Baggage, BaggageExt};
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceId, TraceState};

use crate::header::{BAGGAGE, Carrier, Sink, TRACEPARENT, TRACESTATE};
use crate::propagator::{Codec, propagator_impls, static_fields};
use crate::tracestate::{KeyGrammar, MIN_PROPAGATED_LEN, Members, TraceStateList};
use crate::{baggage, traceparent};

/// W3C Trace Context (`traceparent` and `tracestate`), strict at Level 2.
///
/// Differences from `opentelemetry_sdk::propagation::TraceContextPropagator` (see the crate
/// docs for the full list): exact field lengths and lowercase only, the `random` flag kept,
/// two `traceparent` fields rejected, every `tracestate` field combined with OWS and the
/// 32-member limit enforced, and Level 2 keys that OpenTelemetry's `TraceState` cannot hold
/// still passed through unchanged.
///
/// ```
/// use http::HeaderMap;
/// use tower_telemetry_propagation::TraceContextPropagator;
///
/// let mut headers = HeaderMap::new();
/// headers.append("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".parse().unwrap());
/// headers.append("tracestate", "congo=t61rcWkgMzE".parse().unwrap());
/// headers.append("tracestate", "rojo=00f067aa0ba902b7".parse().unwrap());
///
/// let w3c = TraceContextPropagator::new();
/// let sc = w3c.extract(&headers).expect("valid");
/// assert_eq!(sc.trace_state().header(), "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
///
/// let mut out = HeaderMap::new();
/// w3c.inject(&sc, &mut out);
/// assert_eq!(out["traceparent"], "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
/// assert_eq!(out["tracestate"], "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TraceContextPropagator {
    grammar: KeyGrammar,
    /// 0: no cap.
    max_tracestate_len: usize,
}

/// The exact `tracestate` list of an extracted context, kept in the `Context` only when
/// OpenTelemetry's `TraceState` could not hold all of it (see [`TraceStateList`]).
#[derive(Debug)]
struct ExactTraceState {
    trace_id: TraceId,
    /// What the `SpanContext` got; if a span or sampler changed it since, that change wins.
    projection: TraceState,
    list: TraceStateList,
}

/// What one extraction found.
pub(crate) struct Extracted {
    pub(crate) span_context: SpanContext,
    exact: Option<ExactTraceState>,
}

impl From<SpanContext> for Extracted {
    fn from(span_context: SpanContext) -> Self {
        Extracted {
            span_context,
            exact: None,
        }
    }
}

impl Extracted {
    pub(crate) fn into_context(self, cx: &Context) -> Context {
        let cx = cx.with_remote_span_context(self.span_context);
        match self.exact {
            Some(exact) => cx.with_value(exact),
            None => cx,
        }
    }
}

impl TraceContextPropagator {
    /// A propagator with the Level 2 key grammar and no `tracestate` size cap.
    pub const fn new() -> Self {
        TraceContextPropagator {
            grammar: KeyGrammar::Level2,
            max_tracestate_len: 0,
        }
    }

    /// Selects the `tracestate` key grammar (Level 2 by default).
    pub const fn with_key_grammar(mut self, grammar: KeyGrammar) -> Self {
        self.grammar = grammar;
        self
    }

    /// Caps the `tracestate` sent downstream at `max_len` bytes, removing whole entries as the
    /// W3C describes ([`TraceStateList::truncate`]). Values under 512 are raised to 512, the
    /// least the W3C asks vendors to propagate. By default nothing is removed.
    pub const fn with_max_tracestate_len(mut self, max_len: usize) -> Self {
        self.max_tracestate_len = if max_len < MIN_PROPAGATED_LEN {
            MIN_PROPAGATED_LEN
        } else {
            max_len
        };
        self
    }

    /// Extracts the remote span context from `traceparent` and `tracestate`, or `None` when
    /// `traceparent` is absent, malformed or repeated. An invalid `tracestate` is dropped
    /// without affecting `traceparent`.
    ///
    /// No allocation unless a `tracestate` is present.
    pub fn extract(&self, headers: &HeaderMap) -> Option<SpanContext> {
        self.extract_parts(headers).map(|e| e.span_context)
    }

    pub(crate) fn extract_parts<C: Carrier + ?Sized>(&self, carrier: &C) -> Option<Extracted> {
        let value = carrier.single_value(&TRACEPARENT).ok()??;
        let sc = traceparent::parse(value).ok()?;
        // The W3C: parse tracestate only after a valid traceparent, and never let it fail one.
        let members = match Members::from_carrier(carrier, self.grammar) {
            Ok(Some(members)) if !members.as_slice().is_empty() => members,
            _ => return Some(Extracted::from(sc)),
        };
        // Common case: OpenTelemetry's TraceState holds every member; no intermediate copy.
        let (projection, exact) =
            match TraceState::from_key_value(members.as_slice().iter().copied()) {
                Ok(ts) => (ts, None),
                Err(_) => {
                    let list = members.to_list();
                    let (projection, _) = list.to_trace_state_checked();
                    let exact = ExactTraceState {
                        trace_id: sc.trace_id(),
                        projection: projection.clone(),
                        list,
                    };
                    (projection, Some(exact))
                }
            };
        let span_context = SpanContext::new(
            sc.trace_id(),
            sc.span_id(),
            sc.trace_flags(),
            true,
            projection,
        );
        Some(Extracted {
            span_context,
            exact,
        })
    }

    /// Writes `traceparent` (and `tracestate` when the context has one, removing a stale one
    /// otherwise) for `span_context`. Writes nothing for an invalid context.
    pub fn inject(&self, span_context: &SpanContext, headers: &mut HeaderMap) {
        self.inject_parts(span_context, None, headers);
    }

    fn inject_parts<S: Sink + ?Sized>(
        &self,
        sc: &SpanContext,
        exact: Option<&ExactTraceState>,
        sink: &mut S,
    ) {
        if !sc.is_valid() {
            return;
        }
        sink.set_bytes(&TRACEPARENT, &traceparent::encode(sc));

        let exact =
            exact.filter(|e| e.trace_id == sc.trace_id() && &e.projection == sc.trace_state());
        let mut list = match exact {
            Some(exact) => exact.list.clone(),
            None if sc.trace_state().into_iter().next().is_none() => {
                sink.remove(&TRACESTATE);
                return;
            }
            None => TraceStateList::from_trace_state(sc.trace_state()),
        };
        if self.max_tracestate_len > 0 {
            list.truncate(self.max_tracestate_len);
        }
        if list.is_empty() {
            sink.remove(&TRACESTATE);
        } else {
            sink.set_string(&TRACESTATE, list.into_string());
        }
    }
}

impl Codec for TraceContextPropagator {
    fn extract_from<C: Carrier + ?Sized>(&self, carrier: &C, cx: &Context) -> Context {
        match self.extract_parts(carrier) {
            Some(extracted) => extracted.into_context(cx),
            None => cx.clone(),
        }
    }

    fn inject_into<S: Sink + ?Sized>(&self, cx: &Context, sink: &mut S) {
        let span = cx.span();
        self.inject_parts(span.span_context(), cx.get::<ExactTraceState>(), sink);
    }

    fn field_names(&self) -> &'static [String] {
        static_fields!("traceparent", "tracestate")
    }
}

propagator_impls!(TraceContextPropagator);

/// W3C Baggage (`baggage`).
///
/// Extraction keeps every well-formed member within the W3C limits (64 members, 8192 bytes,
/// over all `baggage` fields) and drops a malformed member alone. See [`crate::baggage`].
///
/// ```
/// use http::HeaderMap;
/// use tower_telemetry_propagation::BaggagePropagator;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("baggage", "userId=alice, bad member, region=eu%2Dwest".parse().unwrap());
/// let bag = BaggagePropagator::new().extract(&headers);
/// assert_eq!(bag.len(), 2);
/// assert_eq!(bag.get("region").unwrap().as_str(), "eu-west");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BaggagePropagator {
    _priv: (),
}

impl BaggagePropagator {
    /// A baggage propagator.
    pub const fn new() -> Self {
        BaggagePropagator { _priv: () }
    }

    /// Extracts the baggage of every `baggage` field (empty when there is none).
    pub fn extract(&self, headers: &HeaderMap) -> Baggage {
        self.extract_baggage(headers)
    }

    pub(crate) fn extract_baggage<C: Carrier + ?Sized>(&self, carrier: &C) -> Baggage {
        let mut collector = baggage::Collector::default();
        carrier.for_each_value(&BAGGAGE, &mut |field| collector.field(field, true).is_ok());
        collector.finish()
    }

    /// Writes `baggage` as one `baggage` field; writes nothing when it is empty.
    pub fn inject(&self, baggage: &Baggage, headers: &mut HeaderMap) {
        self.inject_baggage(baggage, headers);
    }

    pub(crate) fn inject_baggage<S: Sink + ?Sized>(&self, baggage: &Baggage, sink: &mut S) {
        if let Some(value) = baggage::encode(baggage) {
            sink.set_string(&BAGGAGE, value);
        }
    }
}

impl Codec for BaggagePropagator {
    fn extract_from<C: Carrier + ?Sized>(&self, carrier: &C, cx: &Context) -> Context {
        let bag = self.extract_baggage(carrier);
        if bag.is_empty() {
            cx.clone()
        } else {
            cx.with_baggage(bag)
        }
    }

    fn inject_into<S: Sink + ?Sized>(&self, cx: &Context, sink: &mut S) {
        self.inject_baggage(cx.baggage(), sink);
    }

    fn field_names(&self) -> &'static [String] {
        static_fields!("baggage")
    }
}

propagator_impls!(BaggagePropagator);
