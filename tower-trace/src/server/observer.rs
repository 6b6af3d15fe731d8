use std::sync::Arc;

use http::{HeaderMap, HeaderName, Request};
use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer};
use opentelemetry::{Array, Context, Key, KeyValue, StringValue, Value};
use tower_telemetry_propagation::HeaderPropagator;

use super::attributes::request_attributes;
use crate::hooks::{
    MakeSpanName, RequestAttributes, RequestInfo, RequestPredicate, ResponseAttributes,
    ResponseInfo, SpanHooks,
};
use crate::lifecycle::{End, Facts, Observer, Record, RequestFacts};
use crate::span::{self, Placement, SpanState};

/// The server span's configuration: tracer, propagator, public-endpoint predicate, hooks, and
/// settings (the request facts' configuration is the lifecycle's `Conventions`).
pub(crate) struct SpanConfig<T, P, E, H> {
    /// Shared: tracers need not be `Clone` (`BoxedTracer` is not).
    pub(crate) tracer: Arc<T>,
    pub(crate) propagator: P,
    pub(crate) public: E,
    pub(crate) hooks: H,
    pub(crate) settings: Settings,
}

#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) enabled: bool,
    /// The tracer is a no-op (probed once, when the layer was built): never enabled.
    pub(crate) noop_tracer: bool,
    pub(crate) request_headers: Arc<[(HeaderName, Key)]>,
    /// Response headers and the response hook, when any is set.
    pub(crate) response: Option<Arc<dyn ResponseAttributes + Send + Sync>>,
    pub(crate) sensitive_query: Arc<[Box<str>]>,
    pub(crate) random_roots: bool,
}

impl<T, P: Clone, E: Clone, H: Clone> Clone for SpanConfig<T, P, E, H> {
    fn clone(&self) -> Self {
        SpanConfig {
            tracer: Arc::clone(&self.tracer),
            propagator: self.propagator.clone(),
            public: self.public.clone(),
            hooks: self.hooks.clone(),
            settings: self.settings.clone(),
        }
    }
}

/// The [`Observer`] behind [`TraceLayer`](crate::TraceLayer): one `Arc` clone per service
/// clone (axum clones the route's service per request), nothing cloned per request.
pub struct ServerObserver<T, P, E = (), H = SpanHooks> {
    config: Arc<SpanConfig<T, P, E, H>>,
}

impl<T, P, E, H> ServerObserver<T, P, E, H> {
    pub(crate) fn new(config: SpanConfig<T, P, E, H>) -> Self {
        ServerObserver {
            config: Arc::new(config),
        }
    }
}

impl<T, P, E, H> Clone for ServerObserver<T, P, E, H> {
    fn clone(&self) -> Self {
        ServerObserver {
            config: Arc::clone(&self.config),
        }
    }
}

impl<T, P, E, H> std::fmt::Debug for ServerObserver<T, P, E, H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerObserver")
            .field("enabled", &self.config.settings.enabled)
            .finish_non_exhaustive()
    }
}

/// The per-request state of a server span.
pub struct ServerRecord(State);

impl std::fmt::Debug for ServerRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            State::PassThrough(_) => f.write_str("ServerRecord(PassThrough)"),
            State::Span(state, _) => f.debug_tuple("ServerRecord").field(state).finish(),
        }
    }
}

enum State {
    /// Skipped: only the caller's context, made current for the handler.
    PassThrough(Context),
    Span(SpanState, Option<Arc<dyn ResponseAttributes + Send + Sync>>),
}

impl<B, T, P, E, N, Q> Observer<B> for ServerObserver<T, P, E, SpanHooks<N, Q>>
where
    T: Tracer,
    T::Span: Send + Sync + 'static,
    P: HeaderPropagator,
    E: RequestPredicate,
    N: MakeSpanName,
    Q: RequestAttributes,
{
    type Record = ServerRecord;

    #[inline]
    fn enabled(&self) -> bool {
        self.config.settings.enabled
    }

    fn on_request(
        &self,
        request: &mut Request<B>,
        facts: &RequestFacts<'_>,
    ) -> Option<ServerRecord> {
        let config = &*self.config;
        let settings = &config.settings;
        let caller = config
            .propagator
            .extract_headers(request.headers(), &Context::new());
        if facts.is_filtered() {
            // No span; the caller's context still passes through.
            return caller
                .has_active_span()
                .then(|| ServerRecord(State::PassThrough(caller)));
        }

        let info = RequestInfo::new(request);
        let public = config.public.check(&info);
        let (parent, link) = if public {
            // Only a public endpoint needs its own copy of the caller's span context (its
            // trace state allocates when cloned).
            let remote = caller.span().span_context().clone();
            (Context::new(), remote.is_valid().then_some(remote))
        } else {
            (caller, None)
        };
        let placement = Placement {
            kind: SpanKind::Server,
            parent: &parent,
            link,
            random_roots: settings.random_roots,
        };
        let attributes = request_attributes(&info, facts, settings);
        let (span, _) = span::start(
            &*config.tracer,
            &config.hooks,
            &info,
            facts,
            attributes,
            placement,
        );
        request.extensions_mut().insert(span.cx.clone());
        let response = settings
            .response
            .as_ref()
            .filter(|_| span.recording)
            .map(Arc::clone);
        Some(ServerRecord(State::Span(span, response)))
    }
}

/// Allow-listed headers as `http.{request,response}.header.<name>` string arrays; sensitive
/// values never.
pub(crate) fn push_headers(
    attrs: &mut Vec<KeyValue>,
    headers: &HeaderMap,
    allowed: &[(HeaderName, Key)],
) {
    for (name, key) in allowed {
        let values: Vec<StringValue> = headers
            .get_all(name)
            .iter()
            .filter(|v| !v.is_sensitive())
            .filter_map(|v| v.to_str().ok())
            .map(|v| StringValue::from(v.to_owned()))
            .collect();
        if !values.is_empty() {
            attrs.push(KeyValue::new(
                key.clone(),
                Value::Array(Array::String(values)),
            ));
        }
    }
}

// === impl Record ===

impl Record for ServerRecord {
    #[inline]
    fn context(&self) -> Option<&Context> {
        match &self.0 {
            State::PassThrough(cx) => Some(cx),
            State::Span(state, _) => Some(&state.cx),
        }
    }

    fn on_response(&mut self, response: &ResponseInfo<'_>, _: &Facts) {
        if let State::Span(state, Some(hooks)) = &self.0 {
            let mut attrs = Vec::new();
            hooks.response_attributes(response, &mut attrs);
            state.cx.span().set_attributes(attrs);
        }
    }

    fn finish(self, end: &End<'_>) {
        if let State::Span(state, _) = self.0 {
            state.end(end);
        }
    }
}
