use std::sync::Arc;

use http::HeaderName;
use opentelemetry::Key;
use opentelemetry::global::{self, BoxedTracer};
use opentelemetry::trace::Tracer;
use propagation::{HeaderPropagator, Propagator};
use tower_layer::Layer;

use super::observer::{Config, ServerObserver, Settings};
use crate::conventions::{Protocol, RpcConventions};
use crate::lifecycle::Observe;
use crate::redact::DEFAULT_SENSITIVE_QUERY_PARAMS;
use crate::request::{DefaultRoute, MakeRoute, RequestPredicate};

/// A Tower layer giving every request a SERVER span that continues the caller's trace.
///
/// See the [crate docs](crate) for what is recorded and when the span ends.
///
/// Type parameters, each swapped by one setter: `T` the tracer, `P` the propagator, `R` the
/// route source, `F` the skip filter, `E` the public-endpoint predicate.
pub struct TraceLayer<T, P = Propagator, R = DefaultRoute, F = (), E = ()> {
    config: Config<T, P, R, F, E>,
}

impl<T: Tracer> TraceLayer<T> {
    /// A server layer with `tracer`, W3C propagation and automatic HTTP/gRPC detection.
    ///
    /// A no-op tracer (the global default before a provider is installed) is detected here,
    /// once, and turns the layer off.
    pub fn server(tracer: T) -> Self {
        let noop_tracer = super::observer::is_noop(&tracer);
        TraceLayer {
            config: Config {
                tracer: Arc::new(tracer),
                propagator: Propagator::w3c(),
                route: DefaultRoute,
                skip: (),
                public: (),
                settings: Settings {
                    enabled: !noop_tracer,
                    noop_tracer,
                    protocol: Protocol::Auto,
                    rpc: RpcConventions::Current,
                    request_headers: Arc::from([]),
                    response_headers: Arc::from([]),
                    sensitive_query: DEFAULT_SENSITIVE_QUERY_PARAMS
                        .iter()
                        .map(|s| Box::from(*s))
                        .collect(),
                    default_scheme: "http",
                    random_roots: true,
                    interned: Arc::default(),
                },
            },
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
    /// itself and costs nothing per request. Install the provider before building the layer.
    pub fn from_global() -> Self {
        Self::server(global::tracer("tower-trace"))
    }
}

impl<T, P, R, F, E> TraceLayer<T, P, R, F, E> {
    /// Selects the protocol conventions (automatic by default).
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.config.settings.protocol = protocol;
        self
    }

    /// Selects the RPC conventions for gRPC spans (current by default).
    pub fn with_rpc_conventions(mut self, conventions: RpcConventions) -> Self {
        self.config.settings.rpc = conventions;
        self
    }

    /// Uses `propagator` to read the caller's context: any of the `propagation` crate's
    /// propagators (W3C only is the default; `Propagator::w3c_and_cloud_trace()`,
    /// `Propagator::cloud_trace_one_way()`), or any OpenTelemetry `TextMapPropagator` through
    /// `propagation::TextMapAdapter`.
    pub fn with_propagator<P2: HeaderPropagator>(
        self,
        propagator: P2,
    ) -> TraceLayer<T, P2, R, F, E> {
        let Config {
            tracer,
            propagator: _,
            route,
            skip,
            public,
            settings,
        } = self.config;
        TraceLayer {
            config: Config {
                tracer,
                propagator,
                route,
                skip,
                public,
                settings,
            },
        }
    }

    /// Takes `http.route` from `route` instead of the default (axum's `MatchedPath` with the
    /// `axum` feature). Return a template (`/users/{id}`), never the raw path.
    pub fn with_route<R2: MakeRoute>(self, route: R2) -> TraceLayer<T, P, R2, F, E> {
        let Config {
            tracer,
            propagator,
            route: _,
            skip,
            public,
            settings,
        } = self.config;
        TraceLayer {
            config: Config {
                tracer,
                propagator,
                route,
                skip,
                public,
                settings,
            },
        }
    }

    /// Makes no span for requests where `skip` says yes (health checks, metrics scrapes).
    /// The caller's context still passes through: it is current while the handler runs, so a
    /// client layer called from it joins the caller's trace. Skipped requests without an
    /// incoming context cost nothing; with one, one allocation (the `Context`).
    pub fn skip_if<F2: RequestPredicate>(self, skip: F2) -> TraceLayer<T, P, R, F2, E> {
        let Config {
            tracer,
            propagator,
            route,
            skip: _,
            public,
            settings,
        } = self.config;
        TraceLayer {
            config: Config {
                tracer,
                propagator,
                route,
                skip,
                public,
                settings,
            },
        }
    }

    /// Treats requests where `public` says yes as coming from untrusted callers (the W3C
    /// "front gate"): their span starts a **new trace** and links to the caller's context
    /// instead of becoming its child, and the caller's `tracestate` and baggage are not
    /// propagated. Pass `true` for every request.
    pub fn public_endpoint_if<E2: RequestPredicate>(
        self,
        public: E2,
    ) -> TraceLayer<T, P, R, F, E2> {
        let Config {
            tracer,
            propagator,
            route,
            skip,
            public: _,
            settings,
        } = self.config;
        TraceLayer {
            config: Config {
                tracer,
                propagator,
                route,
                skip,
                public,
                settings,
            },
        }
    }

    /// Records these request headers as `http.request.header.<name>` (string arrays). No
    /// header is recorded unless listed here; `authorization`, `proxy-authorization`, `cookie`
    /// and `set-cookie` are never recorded, nor any value marked sensitive.
    pub fn with_request_headers<I>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = HeaderName>,
    {
        self.config.settings.request_headers = header_keys(names, "http.request.header.");
        self
    }

    /// Records these response headers as `http.response.header.<name>`, with the same rules
    /// as [`with_request_headers`](Self::with_request_headers).
    pub fn with_response_headers<I>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = HeaderName>,
    {
        self.config.settings.response_headers = header_keys(names, "http.response.header.");
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
        self.config.settings.sensitive_query = names.into_iter().map(Into::into).collect();
        self
    }

    /// The `url.scheme` to report when neither the URI nor `Forwarded`/`X-Forwarded-Proto`
    /// says (`http` by default; set `https` behind a TLS-terminating server).
    pub fn with_default_scheme(mut self, https: bool) -> Self {
        self.config.settings.default_scheme = if https { "https" } else { "http" };
        self
    }

    /// Whether traces started here are marked as having a random trace id (the W3C Level 2
    /// `random` flag, `0x02`, on every outgoing `traceparent`). On by default: the SDK's id
    /// generator is random. Turn it off with an id generator that is not.
    pub fn with_random_trace_id_flag(mut self, random: bool) -> Self {
        self.config.settings.random_roots = random;
        self
    }

    /// Turns the layer off (or on again): off, it passes requests through untouched and
    /// allocates nothing. With a no-op tracer the layer stays off whatever this says.
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.config.settings.enabled = enabled && !self.config.settings.noop_tracer;
        self
    }
}

impl<T: Tracer, P: Clone, R: Clone, F: Clone, E: Clone> TraceLayer<T, P, R, F, E> {
    /// The observer this layer drives: pair it with another on one lifecycle (the fused
    /// trace + metrics layer of `tower-metrics` does).
    pub fn observer(&self) -> ServerObserver<T, P, R, F, E> {
        ServerObserver::new(self.config.clone())
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

impl<S, T, P, R, F, E> Layer<S> for TraceLayer<T, P, R, F, E>
where
    T: Tracer,
    P: Clone,
    R: Clone,
    F: Clone,
    E: Clone,
{
    type Service = Observe<S, ServerObserver<T, P, R, F, E>>;

    fn layer(&self, inner: S) -> Self::Service {
        Observe::new(inner, self.observer())
    }
}

impl<T, P: Clone, R: Clone, F: Clone, E: Clone> Clone for TraceLayer<T, P, R, F, E> {
    fn clone(&self) -> Self {
        TraceLayer {
            config: self.config.clone(),
        }
    }
}

impl<T, P, R, F, E> std::fmt::Debug for TraceLayer<T, P, R, F, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceLayer")
            .field("enabled", &self.config.settings.enabled)
            .field("tracer", &std::any::type_name::<T>())
            .field("propagator", &std::any::type_name::<P>())
            .field("protocol", &self.config.settings.protocol)
            .field("rpc", &self.config.settings.rpc)
            .finish_non_exhaustive()
    }
}
