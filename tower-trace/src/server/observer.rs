use std::sync::Arc;

use http::{HeaderMap, HeaderName, Request};
use opentelemetry::trace::{SpanKind, TraceContextExt, TraceFlags, Tracer};
use opentelemetry::{Array, Context, Key, KeyValue, StringValue, Value};
use tower_telemetry_propagation::HeaderPropagator;

use super::attributes::request_attributes;
use super::trace_response::{self, TraceResponse};
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
    pub(crate) trace_response: TraceResponse,
    #[cfg(feature = "tracing")]
    pub(crate) logs: crate::logs::span::LogSpans,
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
pub struct ServerRecord {
    state: State,
    /// The request's `tracing` span, for logs.
    #[cfg(feature = "tracing")]
    log: crate::logs::span::LogSpan,
}

impl std::fmt::Debug for ServerRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.state {
            State::PassThrough(_) => f.write_str("ServerRecord(PassThrough)"),
            State::Span { span, .. } => f.debug_tuple("ServerRecord").field(span).finish(),
        }
    }
}

enum State {
    /// Skipped: only the caller's context, made current for the handler.
    PassThrough(Context),
    Span {
        span: SpanState,
        /// The response hooks, for a recorded span.
        response: Option<Arc<dyn ResponseAttributes + Send + Sync>>,
        /// The flags of a `traceresponse` to write, when one is asked for.
        trace_response: Option<TraceFlags>,
    },
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
            if !caller.has_active_span() {
                return None;
            }
            return Some(ServerRecord {
                // The caller's ids: the request's logs still join its trace.
                #[cfg(feature = "tracing")]
                log: settings.logs.server(
                    caller.span().span_context(),
                    &RequestInfo::new(request),
                    facts,
                ),
                state: State::PassThrough(caller),
            });
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
        let (span, wire) = span::start(
            &*config.tracer,
            &config.hooks,
            &info,
            facts,
            attributes,
            placement,
        );
        // The span's ids with the flags it carries on the wire (the `random` flag put right).
        let otel_span = span.cx.span();
        let ids = wire.as_ref().unwrap_or_else(|| otel_span.span_context());
        let trace_response = settings
            .trace_response
            .applies(public)
            .then(|| ids.trace_flags());
        #[cfg(feature = "tracing")]
        let log = settings.logs.server(ids, &info, facts);
        request.extensions_mut().insert(span.cx.clone());
        let response = settings
            .response
            .as_ref()
            .filter(|_| span.recording)
            .map(Arc::clone);
        Some(ServerRecord {
            state: State::Span {
                span,
                response,
                trace_response,
            },
            #[cfg(feature = "tracing")]
            log,
        })
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
        match &self.state {
            State::PassThrough(cx) => Some(cx),
            State::Span { span, .. } => Some(&span.cx),
        }
    }

    #[cfg(feature = "tracing")]
    #[inline]
    fn tracing_span(&self) -> Option<&tracing::Span> {
        self.log.get()
    }

    #[inline]
    fn write_response_headers(&mut self, headers: &mut HeaderMap) {
        if let State::Span {
            span,
            trace_response: Some(flags),
            ..
        } = &self.state
        {
            trace_response::write(headers, span.cx.span().span_context(), *flags);
        }
    }

    fn on_response(&mut self, response: &ResponseInfo<'_>, facts: &Facts) {
        #[cfg(feature = "tracing")]
        crate::logs::span::record_response(&self.log, facts);
        let _ = facts;
        if let State::Span {
            span,
            response: Some(hooks),
            ..
        } = &self.state
        {
            let mut attrs = Vec::new();
            hooks.response_attributes(response, &mut attrs);
            span.cx.span().set_attributes(attrs);
        }
    }

    fn finish(self, end: &End<'_>) {
        #[cfg(feature = "tracing")]
        crate::logs::span::record_end(&self.log, end);
        if let State::Span { span, .. } = self.state {
            span.end(end);
        }
    }
}
