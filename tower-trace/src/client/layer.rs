use std::sync::Arc;

use opentelemetry::global::{self, BoxedTracer};
use opentelemetry::trace::Tracer;
use tower_layer::Layer;
use tower_telemetry_propagation::{HeaderPropagator, Propagator};

use super::observer::{ClientConfig, ClientObserver, ClientSettings};
use crate::conventions::{DEFAULT_SENSITIVE_QUERY_PARAMS, Protocol, RpcConventions};
use crate::lifecycle::Conventions;
use crate::lifecycle::{IntoObserveLayer, Observe, ObserveLayer, RequestFacts};
use crate::route::DefaultRoute;
use crate::span;
use crate::span::hooks::SpanHooks;
use crate::view::RequestInfo;

/// A Tower layer giving every outgoing request a CLIENT span and injecting its context.
///
/// Wraps any `tower::Service<http::Request<B>>`: hyper-util's client, a tonic `Channel`, an
/// axum or hyper service called in-process. See the [crate docs](crate#client-spans).
pub struct ClientTraceLayer<T, P = Propagator, H = SpanHooks> {
    conventions: Conventions,
    config: ClientConfig<T, P, H>,
}

impl<T: Tracer> ClientTraceLayer<T> {
    /// A client layer with `tracer`, W3C propagation and automatic HTTP/gRPC detection
    /// (`content-type: application/grpc`). A no-op tracer is detected here, once: the layer
    /// then makes no spans (and still propagates the current context).
    pub fn client(tracer: T) -> Self {
        let noop_tracer = span::is_noop(&tracer);
        ClientTraceLayer {
            conventions: Conventions::client(),
            config: ClientConfig {
                tracer: Arc::new(tracer),
                propagator: Propagator::w3c(),
                hooks: SpanHooks::default(),
                settings: ClientSettings {
                    enabled: !noop_tracer,
                    noop_tracer,
                    sensitive_query: DEFAULT_SENSITIVE_QUERY_PARAMS
                        .iter()
                        .map(|s| Box::from(*s))
                        .collect(),
                    random_roots: true,
                    #[cfg(feature = "tracing")]
                    logs: crate::logs::span::LogSpans::default(),
                },
            },
        }
    }

    /// [`client`](Self::client), always following the HTTP conventions.
    pub fn client_http(tracer: T) -> Self {
        Self::client(tracer).with_protocol(Protocol::Http)
    }

    /// [`client`](Self::client), always following the gRPC conventions.
    pub fn client_grpc(tracer: T) -> Self {
        Self::client(tracer).with_protocol(Protocol::Grpc)
    }
}

impl ClientTraceLayer<BoxedTracer> {
    /// A client layer with the global tracer provider's tracer, read once, now. With no
    /// provider installed it makes no spans but still propagates the current context.
    pub fn client_from_global() -> Self {
        let layer = Self::client(global::tracer("tower-telemetry"));
        if layer.config.settings.noop_tracer {
            span::warn_empty_globals("ClientTraceLayer::client_from_global()");
        }
        layer
    }
}

impl<T, P, H> ClientTraceLayer<T, P, H> {
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

    /// Uses `propagator` to write the context: e.g. `Propagator::w3c_and_cloud_trace()` to
    /// send `X-Cloud-Trace-Context` too, `.with_baggage()` for baggage.
    pub fn with_propagator<P2: HeaderPropagator>(
        self,
        propagator: P2,
    ) -> ClientTraceLayer<T, P2, H> {
        let ClientConfig {
            tracer,
            hooks,
            settings,
            ..
        } = self.config;
        ClientTraceLayer {
            conventions: self.conventions,
            config: ClientConfig {
                tracer,
                propagator,
                hooks,
                settings,
            },
        }
    }

    /// `host[:port]` of the server, for `server.address`/`server.port` and `url.full` when
    /// request URIs carry no authority (a tonic client below its channel sends path-only
    /// URIs; use the channel's target here).
    pub fn with_server_address(mut self, authority: impl Into<Arc<str>>) -> Self {
        self.conventions = self.conventions.with_server_address(authority);
        self
    }

    /// Replaces the query parameters redacted in `url.full` (the semconv list by default).
    pub fn with_sensitive_query_params<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<Box<str>>,
    {
        self.config.settings.sensitive_query = names.into_iter().map(Into::into).collect();
        self
    }

    /// Whether traces started by this layer (no parent) carry the W3C `random` flag. On by
    /// default; see [`TraceLayer::with_random_trace_id_flag`](crate::TraceLayer::with_random_trace_id_flag).
    pub fn with_random_trace_id_flag(mut self, random: bool) -> Self {
        self.config.settings.random_roots = random;
        self
    }

    /// The level of the call's `tracing` span (`INFO` by default); see the
    /// [`logs`](crate::logs) module.
    #[cfg(feature = "tracing")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
    pub fn with_tracing_level(mut self, level: tracing::Level) -> Self {
        self.config.settings.logs.level = level;
        self
    }

    /// Turns spans off (or on again). Off, the layer still injects the current context.
    /// With a no-op tracer there are no spans whatever this says.
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.config.settings.enabled = enabled && !self.config.settings.noop_tracer;
        self
    }

    /// The lifecycle's configuration; a fused metrics layer follows it too.
    pub fn conventions(&self) -> &Conventions {
        &self.conventions
    }
}

impl<T, P, N, Q> ClientTraceLayer<T, P, SpanHooks<N, Q>> {
    /// Names spans with `name` instead of the conventions' default (`{method}`,
    /// `pkg.Service/Method`).
    pub fn with_span_name<N2>(self, name: N2) -> ClientTraceLayer<T, P, SpanHooks<N2, Q>>
    where
        N2: Fn(&RequestInfo<'_>, &RequestFacts<'_>) -> std::borrow::Cow<'static, str>,
    {
        self.map_hooks(|hooks| SpanHooks {
            name,
            request: hooks.request,
        })
    }

    /// Adds attributes from the request to every span, before the sampling decision.
    pub fn with_request_attributes<Q2>(
        self,
        attributes: Q2,
    ) -> ClientTraceLayer<T, P, SpanHooks<N, Q2>>
    where
        Q2: Fn(&RequestInfo<'_>, &mut Vec<opentelemetry::KeyValue>),
    {
        self.map_hooks(|hooks| SpanHooks {
            name: hooks.name,
            request: attributes,
        })
    }

    fn map_hooks<H2>(self, f: impl FnOnce(SpanHooks<N, Q>) -> H2) -> ClientTraceLayer<T, P, H2> {
        let ClientConfig {
            tracer,
            propagator,
            hooks,
            settings,
        } = self.config;
        ClientTraceLayer {
            conventions: self.conventions,
            config: ClientConfig {
                tracer,
                propagator,
                hooks: f(hooks),
                settings,
            },
        }
    }
}

impl<T, P: Clone, H: Clone> ClientTraceLayer<T, P, H> {
    /// The observer this layer drives, to pair with another on one lifecycle.
    pub fn observer(&self) -> ClientObserver<T, P, H> {
        ClientObserver::new(self.config.clone())
    }
}

impl<T, P: Clone, H: Clone> IntoObserveLayer for ClientTraceLayer<T, P, H> {
    type Observer = ClientObserver<T, P, H>;
    type Route = DefaultRoute;
    type Filter = ();

    fn into_observe_layer(self) -> ObserveLayer<Self::Observer> {
        let observer = self.observer();
        ObserveLayer::new(self.conventions, observer)
    }
}

impl<T, P: Clone, H: Clone> Clone for ClientTraceLayer<T, P, H> {
    fn clone(&self) -> Self {
        ClientTraceLayer {
            conventions: self.conventions.clone(),
            config: self.config.clone(),
        }
    }
}

impl<S, T, P: Clone, H: Clone> Layer<S> for ClientTraceLayer<T, P, H> {
    type Service = Observe<S, ClientObserver<T, P, H>>;

    fn layer(&self, inner: S) -> Self::Service {
        self.clone().into_observe_layer().layer(inner)
    }
}

impl<T, P, H> std::fmt::Debug for ClientTraceLayer<T, P, H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTraceLayer")
            .field("enabled", &self.config.settings.enabled)
            .field("tracer", &std::any::type_name::<T>())
            .field("propagator", &std::any::type_name::<P>())
            .field("conventions", &self.conventions)
            .finish_non_exhaustive()
    }
}
