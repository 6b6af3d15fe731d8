use std::sync::Arc;

use http::{HeaderMap, Request};
use opentelemetry::Context;
use opentelemetry::trace::{SpanKind, TraceContextExt, TraceFlags, Tracer};
use tower_telemetry_propagation::HeaderPropagator;

use super::attributes::request_attributes;
use super::config::SpanConfig;
use super::trace_response;
use crate::lifecycle::{End, FactSet, Facts, Needs, Observer, Record, RequestFacts};
use crate::route::RequestPredicate;
use crate::span::hooks::{MakeSpanName, RequestAttributes, ResponseAttributes, SpanHooks};
use crate::span::{self, Placement, SpanState};
use crate::view::{RequestInfo, ResponseInfo};

/// The [`Observer`] behind [`TraceLayer`](crate::TraceLayer): one `Arc` of its configuration,
/// cloned once per wrapped service (the lifecycle's service shares it between its own clones);
/// per request nothing is cloned but, for a sampled span when response attributes or headers
/// are configured, the `Arc` of those hooks.
pub struct ServerObserver<T, P, E = (), H = SpanHooks> {
    config: Arc<SpanConfig<T, P, E, H>>,
}

/// What a server span reads: the start, its name's route or RPC method, and the request
/// attributes' scheme and server address. With the `tracing` feature a skipped request's
/// `tracing` span still carries its route or RPC method.
const SERVER_NEEDS: Needs = {
    let needs = Needs::new(
        FactSet::START
            .and(FactSet::ROUTE)
            .and(FactSet::SCHEME)
            .and(FactSet::SERVER)
            .and(FactSet::RPC_METHOD),
    );
    #[cfg(feature = "tracing")]
    let needs = needs.when_filtered(FactSet::ROUTE.and(FactSet::RPC_METHOD));
    needs
};

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

    #[inline]
    fn needs(&self) -> Needs {
        SERVER_NEEDS
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
                log: settings.logs.server(caller.span().span_context(), facts),
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
        let log = settings.logs.server(ids, facts);
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
