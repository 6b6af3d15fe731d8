use std::borrow::Cow;
use std::sync::Arc;

use http::HeaderName;
use opentelemetry::Key;
use opentelemetry::global::{self, BoxedTracer};
use opentelemetry::trace::Tracer;
use tower_layer::Layer;
use tower_telemetry_propagation::{HeaderPropagator, Propagator};

use super::config::{Settings, SpanConfig};
use super::observer::ServerObserver;
use super::trace_response::TraceResponse;
use crate::conventions::{DEFAULT_SENSITIVE_QUERY_PARAMS, Protocol, RpcConventions};
use crate::lifecycle::{Conventions, IntoObserveLayer, Observe, ObserveLayer, RequestFacts};
use crate::route::{DefaultRoute, MakeRoute, RequestPredicate};
use crate::span;
use crate::span::hooks::{ResponseAttributes, ResponseHooks, SpanHooks};
use crate::view::{RequestInfo, ResponseInfo};

/// A Tower layer giving every request a SERVER span that continues the caller's trace.
///
/// See the [crate docs](crate) for what is recorded and when the span ends.
///
/// Type parameters, each swapped by one setter: `T` the tracer, `P` the propagator, `R` the
/// route source, `F` the skip filter, `E` the public-endpoint predicate, `H` the span hooks.
pub struct TraceLayer<T, P = Propagator, R = DefaultRoute, F = (), E = (), H = SpanHooks> {
    conventions: Conventions<R, F>,
    span: SpanConfig<T, P, E, H>,
    response_headers: Arc<[(HeaderName, Key)]>,
    response_hook: Option<Arc<dyn ResponseAttributes + Send + Sync>>,
}

impl<T: Tracer> TraceLayer<T> {
    /// A server layer with `tracer`, W3C propagation and automatic HTTP/gRPC detection.
    ///
    /// The caller's context comes from `traceparent` and `tracestate`, else from OpenCensus
    /// `grpc-trace-bin` (the binary metadata of OpenCensus and gRPC's census plugins, gRFC
    /// A72), so a trace started by such a gRPC client continues here; it is only ever read,
    /// and a valid `traceparent` wins. [`with_propagator`](Self::with_propagator) changes it.
    ///
    /// A no-op tracer (the global default before a provider is installed) is detected here,
    /// once, and turns the layer off.
    pub fn server(tracer: T) -> Self {
        let noop_tracer = span::is_noop(&tracer);
        TraceLayer {
            conventions: Conventions::server(),
            span: SpanConfig {
                tracer: Arc::new(tracer),
                propagator: Propagator::w3c().with_grpc_trace_bin(),
                public: (),
                hooks: SpanHooks::default(),
                settings: Settings {
                    enabled: !noop_tracer,
                    noop_tracer,
                    request_headers: Arc::from([]),
                    response: None,
                    sensitive_query: DEFAULT_SENSITIVE_QUERY_PARAMS
                        .iter()
                        .map(|s| Box::from(*s))
                        .collect(),
                    random_roots: true,
                    trace_response: TraceResponse::Off,
                    #[cfg(feature = "tracing")]
                    logs: crate::logs::span::LogSpans::default(),
                },
            },
            response_headers: Arc::from([]),
            response_hook: None,
        }
    }

    /// [`server`](Self::server), always following the HTTP conventions.
    pub fn server_http(tracer: T) -> Self {
        Self::server(tracer).with_protocol(Protocol::Http)
    }

    /// [`server`](Self::server), always following the gRPC conventions.
    pub fn server_grpc(tracer: T) -> Self {
        Self::server(tracer).with_protocol(Protocol::Grpc)
    }
}

impl TraceLayer<BoxedTracer> {
    /// A server layer with the global tracer provider's tracer, read once, now.
    ///
    /// If no provider is installed yet, the global one is a no-op: the layer then disables
    /// itself and costs nothing per request, and warns once on stderr (see the crate docs on
    /// two OpenTelemetry versions). Install the provider before building the layer.
    pub fn server_from_global() -> Self {
        let layer = Self::server(global::tracer("tower-telemetry"));
        if layer.span.settings.noop_tracer {
            span::warn_empty_globals("TraceLayer::server_from_global()");
        }
        layer
    }
}

impl<T, P, R, F, E, H> TraceLayer<T, P, R, F, E, H> {
    /// Follows one protocol's conventions instead of detecting it per request.
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.conventions = self.conventions.with_protocol(protocol);
        self
    }

    /// Selects the RPC conventions for gRPC spans and metrics (current by default).
    pub fn with_rpc_conventions(mut self, conventions: RpcConventions) -> Self {
        self.conventions = self.conventions.with_rpc_conventions(conventions);
        self
    }

    /// The `url.scheme` to report when neither the URI nor `Forwarded`/`X-Forwarded-Proto`
    /// says (`http` by default; set `https` behind a TLS-terminating server).
    pub fn with_default_scheme(mut self, https: bool) -> Self {
        self.conventions = self.conventions.with_default_scheme(https);
        self
    }

    /// Uses `propagator` to read the caller's context: any of the propagation crate's
    /// propagators (the default is W3C with `grpc-trace-bin` below it,
    /// `Propagator::w3c().with_grpc_trace_bin()`; others are `Propagator::w3c()`,
    /// `Propagator::w3c_and_cloud_trace()`, `Propagator::cloud_trace_one_way()`), or any
    /// OpenTelemetry `TextMapPropagator` through `TextMapAdapter`.
    pub fn with_propagator<P2: HeaderPropagator>(
        self,
        propagator: P2,
    ) -> TraceLayer<T, P2, R, F, E, H> {
        let SpanConfig {
            tracer,
            public,
            hooks,
            settings,
            ..
        } = self.span;
        TraceLayer {
            conventions: self.conventions,
            span: SpanConfig {
                tracer,
                propagator,
                public,
                hooks,
                settings,
            },
            response_headers: self.response_headers,
            response_hook: self.response_hook,
        }
    }

    /// Takes `http.route` from `route` instead of the default (axum's `MatchedPath` with the
    /// `axum` feature): return a template (`/users/{id}`), never the raw path. It runs once
    /// per request, and a fused metrics layer uses the same value.
    pub fn with_route<R2>(self, route: R2) -> TraceLayer<T, P, R2, F, E, H>
    where
        R2: Fn(&RequestInfo<'_>) -> Option<Cow<'static, str>>,
    {
        self.with_make_route(route)
    }

    /// [`with_route`](Self::with_route) with any [`MakeRoute`].
    pub fn with_make_route<R2: MakeRoute>(self, route: R2) -> TraceLayer<T, P, R2, F, E, H> {
        TraceLayer {
            conventions: self.conventions.with_route(route),
            span: self.span,
            response_headers: self.response_headers,
            response_hook: self.response_hook,
        }
    }

    /// Makes no span for requests where `skip` says yes (health checks, metrics scrapes),
    /// and, fused with metrics, no metrics either (unless the metrics layer is told to count
    /// filtered requests). The caller's context still passes through: it is current while the
    /// handler runs, so a client layer called from it joins the caller's trace. Skipped
    /// requests without an incoming context allocate nothing; with one, the `Context`.
    pub fn skip_if<F2>(self, skip: F2) -> TraceLayer<T, P, R, F2, E, H>
    where
        F2: Fn(&RequestInfo<'_>) -> bool,
    {
        TraceLayer {
            conventions: self.conventions.with_filter(skip),
            span: self.span,
            response_headers: self.response_headers,
            response_hook: self.response_hook,
        }
    }

    /// Treats requests where `public` says yes as coming from untrusted callers (the W3C
    /// "front gate"): their span starts a **new trace** and links to the caller's context
    /// instead of becoming its child, and the caller's `tracestate` and baggage are not
    /// propagated. [`public_endpoint`](Self::public_endpoint) for every request.
    pub fn public_endpoint_if<E2>(self, public: E2) -> TraceLayer<T, P, R, F, E2, H>
    where
        E2: Fn(&RequestInfo<'_>) -> bool,
    {
        self.with_public(public)
    }

    /// Treats every request as coming from an untrusted caller; see
    /// [`public_endpoint_if`](Self::public_endpoint_if).
    pub fn public_endpoint(self) -> TraceLayer<T, P, R, F, bool, H> {
        self.with_public(true)
    }

    fn with_public<E2: RequestPredicate>(self, public: E2) -> TraceLayer<T, P, R, F, E2, H> {
        let SpanConfig {
            tracer,
            propagator,
            hooks,
            settings,
            ..
        } = self.span;
        TraceLayer {
            conventions: self.conventions,
            span: SpanConfig {
                tracer,
                propagator,
                public,
                hooks,
                settings,
            },
            response_headers: self.response_headers,
            response_hook: self.response_hook,
        }
    }

    /// Records these request headers as `http.request.header.<name>` (string arrays). No
    /// header is recorded unless listed here; `authorization`, `proxy-authorization`, `cookie`
    /// and `set-cookie` are never recorded, nor any value marked sensitive.
    pub fn with_request_headers<I>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = HeaderName>,
    {
        self.span.settings.request_headers = header_keys(names, "http.request.header.");
        self
    }

    /// Records these response headers as `http.response.header.<name>`, with the same rules
    /// as [`with_request_headers`](Self::with_request_headers).
    pub fn with_response_headers<I>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = HeaderName>,
    {
        self.response_headers = header_keys(names, "http.response.header.");
        self.rebuild_response_hooks()
    }

    /// Adds attributes from the response head to sampled spans, e.g. a cache status header
    /// turned into a boolean.
    pub fn with_response_attributes<A>(mut self, hook: A) -> Self
    where
        A: Fn(&ResponseInfo<'_>, &mut Vec<opentelemetry::KeyValue>) + Send + Sync + 'static,
    {
        self.response_hook = Some(Arc::new(hook));
        self.rebuild_response_hooks()
    }

    fn rebuild_response_hooks(mut self) -> Self {
        self.span.settings.response =
            (!self.response_headers.is_empty() || self.response_hook.is_some()).then(|| {
                Arc::new(ResponseHooks {
                    headers: Arc::clone(&self.response_headers),
                    hook: self.response_hook.clone(),
                }) as Arc<dyn ResponseAttributes + Send + Sync>
            });
        self
    }

    /// Replaces the query parameters whose values are redacted in `url.query` (by default
    /// the semconv list: `X-Amz-Signature`, `X-Amz-Credential`, `X-Amz-Security-Token`,
    /// `sig`, `X-Goog-Signature`). Matching is case-sensitive.
    pub fn with_sensitive_query_params<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<Box<str>>,
    {
        self.span.settings.sensitive_query = names.into_iter().map(Into::into).collect();
        self
    }

    /// Whether traces started here are marked as having a random trace id (the W3C Level 2
    /// `random` flag, `0x02`, on every outgoing `traceparent`). On by default: the SDK's id
    /// generator is random. Turn it off with an id generator that is not.
    pub fn with_random_trace_id_flag(mut self, random: bool) -> Self {
        self.span.settings.random_roots = random;
        self
    }

    /// Answers with a W3C `traceresponse` header (`00-{trace id}-{server span id}-{flags}`),
    /// for callers and support tickets: off by default, and never to a request
    /// [`public_endpoint_if`](Self::public_endpoint_if) marks as public unless
    /// [`TraceResponse::Always`]. Skipped requests have no span of ours and get none.
    ///
    /// ```
    /// use opentelemetry::trace::noop::NoopTracer;
    /// use tower_telemetry_trace::{TraceLayer, TraceResponse};
    ///
    /// let layer = TraceLayer::server(NoopTracer::new())
    ///     .public_endpoint_if(|req| req.uri().path().starts_with("/public/"))
    ///     .with_trace_response(TraceResponse::ExceptPublicEndpoints);
    /// # let _ = layer;
    /// ```
    pub fn with_trace_response(mut self, trace_response: TraceResponse) -> Self {
        self.span.settings.trace_response = trace_response;
        self
    }

    /// The level of the request's `tracing` span (`INFO` by default); see the
    /// [`logs`](crate::logs) module. Keep your filter at or below it for
    /// `tower_telemetry_trace`, or the span, and the correlation, are off.
    #[cfg(feature = "tracing")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
    pub fn with_tracing_level(mut self, level: tracing::Level) -> Self {
        self.span.settings.logs.level = level;
        self
    }

    /// Turns the layer off (or on again): off, it passes requests through untouched and
    /// allocates nothing. With a no-op tracer the layer stays off whatever this says.
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.span.settings.enabled = enabled && !self.span.settings.noop_tracer;
        self
    }

    /// The lifecycle's configuration: protocol, RPC conventions, route source, default
    /// scheme, filter. A fused metrics layer follows it too.
    pub fn conventions(&self) -> &Conventions<R, F> {
        &self.conventions
    }
}

impl<T, P, R, F, E, N, Q> TraceLayer<T, P, R, F, E, SpanHooks<N, Q>> {
    /// Names spans with `name` instead of the conventions' default (`{method} {route}`,
    /// `{method}`, `pkg.Service/Method`). Keep names low-cardinality: never the raw path.
    pub fn with_span_name<N2>(self, name: N2) -> TraceLayer<T, P, R, F, E, SpanHooks<N2, Q>>
    where
        N2: Fn(&RequestInfo<'_>, &RequestFacts<'_>) -> Cow<'static, str>,
    {
        self.map_hooks(|hooks| SpanHooks {
            name,
            request: hooks.request,
        })
    }

    /// Adds attributes from the request to every span, before the sampling decision (a
    /// sampler sees them).
    pub fn with_request_attributes<Q2>(
        self,
        attributes: Q2,
    ) -> TraceLayer<T, P, R, F, E, SpanHooks<N, Q2>>
    where
        Q2: Fn(&RequestInfo<'_>, &mut Vec<opentelemetry::KeyValue>),
    {
        self.map_hooks(|hooks| SpanHooks {
            name: hooks.name,
            request: attributes,
        })
    }

    fn map_hooks<H2>(self, f: impl FnOnce(SpanHooks<N, Q>) -> H2) -> TraceLayer<T, P, R, F, E, H2> {
        let SpanConfig {
            tracer,
            propagator,
            public,
            hooks,
            settings,
        } = self.span;
        TraceLayer {
            conventions: self.conventions,
            span: SpanConfig {
                tracer,
                propagator,
                public,
                hooks: f(hooks),
                settings,
            },
            response_headers: self.response_headers,
            response_hook: self.response_hook,
        }
    }
}

impl<T, P: Clone, R, F, E: Clone, H: Clone> TraceLayer<T, P, R, F, E, H> {
    /// The observer this layer drives: pair it with another on one lifecycle (the fused
    /// trace + metrics layer does).
    pub fn observer(&self) -> ServerObserver<T, P, E, H> {
        ServerObserver::new(self.span.clone())
    }
}

impl<T, P: Clone, R, F, E: Clone, H: Clone> IntoObserveLayer for TraceLayer<T, P, R, F, E, H> {
    type Observer = ServerObserver<T, P, E, H>;
    type Route = R;
    type Filter = F;

    fn into_observe_layer(self) -> ObserveLayer<Self::Observer, R, F> {
        let observer = ServerObserver::new(self.span);
        ObserveLayer::new(self.conventions, observer)
    }
}

const NEVER_RECORDED: [HeaderName; 4] = [
    http::header::AUTHORIZATION,
    http::header::PROXY_AUTHORIZATION,
    http::header::COOKIE,
    http::header::SET_COOKIE,
];

fn header_keys<I: IntoIterator<Item = HeaderName>>(
    names: I,
    prefix: &str,
) -> Arc<[(HeaderName, Key)]> {
    names
        .into_iter()
        .filter(|name| !NEVER_RECORDED.contains(name))
        .map(|name| {
            let key = Key::from(format!("{prefix}{}", name.as_str()));
            (name, key)
        })
        .collect()
}

impl<S, T, P, R, F, E, H> Layer<S> for TraceLayer<T, P, R, F, E, H>
where
    P: Clone,
    R: Clone,
    F: Clone,
    E: Clone,
    H: Clone,
{
    type Service = Observe<S, ServerObserver<T, P, E, H>, R, F>;

    fn layer(&self, inner: S) -> Self::Service {
        self.clone().into_observe_layer().layer(inner)
    }
}

impl<T, P: Clone, R: Clone, F: Clone, E: Clone, H: Clone> Clone for TraceLayer<T, P, R, F, E, H> {
    fn clone(&self) -> Self {
        TraceLayer {
            conventions: self.conventions.clone(),
            span: self.span.clone(),
            response_headers: Arc::clone(&self.response_headers),
            response_hook: self.response_hook.clone(),
        }
    }
}

impl<T, P, R, F, E, H> std::fmt::Debug for TraceLayer<T, P, R, F, E, H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceLayer")
            .field("enabled", &self.span.settings.enabled)
            .field("tracer", &std::any::type_name::<T>())
            .field("propagator", &std::any::type_name::<P>())
            .field("conventions", &self.conventions)
            .finish_non_exhaustive()
    }
}
