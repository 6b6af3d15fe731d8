//! What server and client spans share: the span name, the start (with the `random` flag kept
//! right), and the end (`http.response.status_code`, the `rpc.*` status, `error.type` and the
//! span status, from the lifecycle's one verdict).

pub(crate) mod hooks;
pub(crate) mod random_flag;

use std::borrow::Cow;

use opentelemetry::trace::{
    Link, SpanContext, SpanKind, Status, TraceContextExt, TraceFlags, Tracer,
};
use opentelemetry::{Context, KeyValue, StringValue};

use crate::conventions::Role;
use crate::conventions::attributes as attr;
use crate::conventions::grpc::Code;
use crate::conventions::intern;
use crate::lifecycle::{End, Outcome, RequestFacts, Timestamp};
use crate::view::RequestInfo;
use hooks::{MakeSpanName, RequestAttributes, SpanHooks};

static EMPTY_GLOBALS_WARNED: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(0);

/// Warns once per process, on stderr, that a layer built from OpenTelemetry's globals found no
/// tracer provider there: either none was installed yet, or (the classic trap) the provider was
/// installed through another version of the `opentelemetry` crate than the one this crate uses.
pub(crate) fn warn_empty_globals(layer: &str) {
    use std::sync::atomic::Ordering;
    if EMPTY_GLOBALS_WARNED
        .compare_exchange(0, 1, Ordering::Relaxed, Ordering::Relaxed)
        .is_ok()
    {
        eprintln!(
            "tower-telemetry: {layer} found no tracer provider in OpenTelemetry's globals, so it \
             makes no spans. Install one (opentelemetry::global::set_tracer_provider) before \
             building the layer; if you did, two versions of the opentelemetry crate are in this \
             build and the provider went to the other one: check `cargo tree -i opentelemetry` \
             and depend on the version tower-telemetry re-exports."
        );
    }
}

/// How many times [`warn_empty_globals`] has warned in this process (0 or 1), for tests.
#[doc(hidden)]
pub fn empty_globals_warnings() -> usize {
    EMPTY_GLOBALS_WARNED.load(std::sync::atomic::Ordering::Relaxed)
}

/// `{rpc.system.name}` of gRPC: the span name of a call whose method is `_OTHER`.
pub(crate) const RPC_SYSTEM_NAME_GRPC: &str = "grpc";

/// A tracer that hands back the parent's span context for a suppressed parent is a no-op
/// (OpenTelemetry's `NoopTracer`, the global default before a provider is installed): the SDK
/// returns an invalid context for a suppressed parent instead, and records nothing. Checked
/// once, when the layer is built.
pub(crate) fn is_noop<T: Tracer>(tracer: &T) -> bool {
    use opentelemetry::trace::{Span, SpanId, TraceId, TraceState};
    let probe = SpanContext::new(
        TraceId::from(0x5072_6f62_6520_666f_7220_6e6f_6f70_2e2e),
        SpanId::from(0x7072_6f62_6521_2121),
        TraceFlags::SAMPLED,
        true,
        TraceState::NONE,
    );
    let parent = Context::new()
        .with_remote_span_context(probe.clone())
        .with_telemetry_suppressed();
    let mut span = tracer.build_with_context(tracer.span_builder("noop-probe"), &parent);
    let noop = span.span_context() == &probe;
    span.end();
    noop
}

/// The span name: the hook's, else the conventions' — `{rpc.method}`, i.e.
/// `pkg.Service/Method`, for gRPC (`{rpc.system.name}`, i.e. `grpc`, when the method is
/// `_OTHER`: the "RPC spans" page, Name, semconv 1.45.0), `{method} {route}` for HTTP with a
/// route (interned, so it allocates once), else `{method}` (`HTTP` for an `_OTHER` method).
/// Also says whether the name is the conventions' (a server renames its span `grpc` at the
/// end when it turns out not to implement the method).
pub(crate) fn name<N: MakeSpanName>(
    hook: &N,
    request: &RequestInfo<'_>,
    facts: &RequestFacts<'_>,
) -> (Cow<'static, str>, bool) {
    match hook.span_name(request, facts) {
        Some(name) => (name, false),
        None => (conventional_name(facts), true),
    }
}

fn conventional_name(facts: &RequestFacts<'_>) -> Cow<'static, str> {
    let method = if facts.is_known_method() {
        facts.method()
    } else {
        "HTTP"
    };
    if facts.is_grpc() {
        return match facts.rpc_method() {
            // Interned already: the name is the method itself.
            Some(full) => Cow::Borrowed(full),
            None => Cow::Borrowed(RPC_SYSTEM_NAME_GRPC),
        };
    }
    // HTTP client spans are named after the method alone (the HTTP client span conventions).
    let route = match facts.role() {
        Role::Client => None,
        _ => facts.route(),
    };
    match route {
        Some(route) => match intern::span_name(method, route) {
            Some(name) => Cow::Borrowed(name),
            None => Cow::Owned(format!("{method} {route}")),
        },
        None => Cow::Borrowed(method),
    }
}

/// Where a new span goes: its kind, parent, optional link, and whether traces started here
/// get the `random` flag.
pub(crate) struct Placement<'a> {
    pub(crate) kind: SpanKind,
    pub(crate) parent: &'a Context,
    pub(crate) link: Option<SpanContext>,
    pub(crate) random_roots: bool,
}

/// Starts the span of a request: its name (the hook's or the conventions'), `attributes` plus
/// the hook's, given to the builder before the sampling decision (as the conventions ask;
/// the SDK keeps this `Vec` as the span's own), at the request's shared start reading.
/// Returns the span's state and, for a recorded span whose flags lack the `random` flag it
/// should carry, its span context with the flag (what a client puts on the wire; a dropped
/// span's context is fixed in place).
pub(crate) fn start<T, N, Q>(
    tracer: &T,
    hooks: &SpanHooks<N, Q>,
    request: &RequestInfo<'_>,
    facts: &RequestFacts<'_>,
    mut attributes: Vec<KeyValue>,
    placement: Placement<'_>,
) -> (SpanState, Option<SpanContext>)
where
    T: Tracer,
    T::Span: Send + Sync + 'static,
    N: MakeSpanName,
    Q: RequestAttributes,
{
    let Placement {
        kind,
        parent,
        link,
        random_roots,
    } = placement;
    hooks.request.request_attributes(request, &mut attributes);
    // Declared by every span observer; a reading now if a custom pairing left it out.
    let start = facts.start().unwrap_or_else(Timestamp::now);
    let (name, conventional_name) = name(&hooks.name, request, facts);
    let mut builder = tracer
        .span_builder(name)
        .with_kind(kind)
        .with_start_time(start.system)
        .with_attributes(attributes);
    if let Some(link) = link {
        builder = builder.with_links(vec![Link::with_context(link)]);
    }
    let span = builder.start_with_context(tracer, parent);
    let recording = opentelemetry::trace::Span::is_recording(&span);
    let sc = opentelemetry::trace::Span::span_context(&span);
    let trace_id = sc.trace_id();
    let random = random_flag::is_random(parent, trace_id, random_roots);
    let fixed = random_flag::with_random(sc, random);
    let (cx, wire) = match fixed {
        // A dropped span: the SDK gave it default flags; carry the right ones instead.
        Some(fixed) if !recording => (parent.with_remote_span_context(fixed), None),
        _ if random && !parent.span().span_context().is_valid() => {
            // A recorded root: its flags are the SDK's, so tell client layers below.
            let cx = parent
                .with_value(random_flag::LocalRandomRoot(trace_id))
                .with_span(span);
            (cx, fixed)
        }
        _ => (parent.with_span(span), fixed),
    };
    let state = SpanState {
        cx,
        start,
        recording,
        conventional_name,
    };
    (state, wire)
}

/// What a span needs to be ended.
#[derive(Debug)]
pub(crate) struct SpanState {
    pub(crate) cx: Context,
    pub(crate) start: Timestamp,
    /// Sampled: end attributes are set only then.
    pub(crate) recording: bool,
    /// Named by the conventions, not by a hook.
    pub(crate) conventional_name: bool,
}

impl SpanState {
    /// Records the verdict (when sampled) and ends the span at the lifecycle's end reading,
    /// measured from its start on the monotonic clock.
    pub(crate) fn end(self, end: &End<'_>) {
        let span = self.cx.span();
        if self.recording {
            let facts = end.facts();
            let verdict = end.verdict();
            let mut attrs: [Option<KeyValue>; 6] = Default::default();
            match facts.rpc() {
                Some(rpc) => {
                    if let Some(code) = verdict.grpc_code {
                        if rpc.emits_classic() {
                            attrs[0] = Some(KeyValue::new(
                                attr::RPC_GRPC_STATUS_CODE,
                                i64::from(code.as_i32()),
                            ));
                        }
                        if rpc.emits_current() {
                            attrs[1] = Some(KeyValue::new(attr::RPC_STATUS_CODE, code.as_str()));
                        }
                    }
                    // A server knows whether it implements the method only now; a method
                    // known to be `_OTHER` at the start was recorded then.
                    if let (true, Role::Server, Some(full)) =
                        (rpc.emits_current(), facts.role(), facts.rpc_method())
                    {
                        match end.rpc_method() {
                            Some(method) => {
                                attrs[3] = Some(KeyValue::new(
                                    attr::RPC_METHOD,
                                    StringValue::from(method),
                                ));
                            }
                            None => {
                                attrs[3] = Some(KeyValue::new(attr::RPC_METHOD, attr::OTHER));
                                attrs[4] = Some(KeyValue::new(
                                    attr::RPC_METHOD_ORIGINAL,
                                    StringValue::from(full),
                                ));
                                if self.conventional_name {
                                    span.update_name(RPC_SYSTEM_NAME_GRPC);
                                }
                            }
                        }
                    }
                }
                None => {
                    attrs[0] = facts.status().map(|code| {
                        KeyValue::new(attr::HTTP_RESPONSE_STATUS_CODE, i64::from(code))
                    });
                    // A server span has the request's version from its start.
                    if facts.role() == Role::Client {
                        attrs[3] = facts
                            .protocol_version()
                            .map(|v| KeyValue::new(attr::NETWORK_PROTOCOL_VERSION, v));
                    }
                }
            }
            if let Some(error_type) = verdict.error_type {
                attrs[5] = Some(KeyValue::new(attr::ERROR_TYPE, error_type));
                span.set_status(Status::error(description(end)));
            }
            span.set_attributes(attrs.into_iter().flatten());
        }
        span.end_with_timestamp(end.now().system_since(&self.start));
    }
}

/// The span status description: the error's message for errors without a status code
/// (inferable ones get none, as the conventions ask), and why a call that ended without a
/// status of its own is `DEADLINE_EXCEEDED`.
fn description(end: &End<'_>) -> Cow<'static, str> {
    let outcome = end.outcome();
    let facts = end.facts();
    if end.verdict().grpc_code == Some(Code::DeadlineExceeded)
        && facts.grpc_timeout().is_some()
        && facts.grpc_status().is_none()
        && !matches!(outcome, Outcome::Complete)
    {
        return Cow::Borrowed("the call's deadline (grpc-timeout) passed before it ended");
    }
    match outcome {
        Outcome::ServiceError(e) | Outcome::BodyError(e) => Cow::Owned(e.to_string()),
        Outcome::Cancelled => Cow::Borrowed("the other side went away before the response ended"),
        Outcome::Panicked => Cow::Borrowed("panicked"),
        _ => Cow::Borrowed(""),
    }
}
