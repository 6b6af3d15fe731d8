//! Keeping the W3C Level 2 `random` trace flag with its trace id.
//!
//! The flag must be on every `traceparent` of a trace id once it is set, and never added to one
//! that lacked it (W3C Trace Context Level 2, §3.2.2.5 "trace-flags", the `random` flag). The SDK keeps a parent's flags for the
//! spans it records, but gives a dropped span default flags, and never sets the flag on a trace
//! it starts. The layers put it back where they know the answer.

use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceFlags, TraceId};
use tower_telemetry_propagation::traceparent::RANDOM_TRACE_ID;

/// Marks, in a `Context`, a trace this process started with a random trace id, so a client
/// layer deeper in the request can set the flag on what it sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LocalRandomRoot(pub(crate) TraceId);

fn has_random(flags: TraceFlags) -> bool {
    flags & RANDOM_TRACE_ID == RANDOM_TRACE_ID
}

/// Whether the trace of a span started under `parent` (the span's trace id is `trace_id`)
/// has a random trace id, as far as this process knows.
pub(crate) fn is_random(parent: &Context, trace_id: TraceId, random_roots: bool) -> bool {
    let span = parent.span();
    let parent_sc = span.span_context();
    if parent_sc.is_valid() && parent_sc.trace_id() == trace_id {
        has_random(parent_sc.trace_flags())
            || parent
                .get::<LocalRandomRoot>()
                .is_some_and(|root| root.0 == trace_id)
    } else {
        // A new trace, started here by the SDK's (random) id generator.
        random_roots
    }
}

/// `sc` with the random flag set when `random`, or `None` when it already is right.
pub(crate) fn with_random(sc: &SpanContext, random: bool) -> Option<SpanContext> {
    (random && !has_random(sc.trace_flags())).then(|| {
        SpanContext::new(
            sc.trace_id(),
            sc.span_id(),
            sc.trace_flags() | RANDOM_TRACE_ID,
            sc.is_remote(),
            sc.trace_state().clone(),
        )
    })
}
