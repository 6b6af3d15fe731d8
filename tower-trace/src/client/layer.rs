use std::sync::Arc;

use opentelemetry::global::{self, BoxedTracer};
use opentelemetry::trace::Tracer;
use propagation::{HeaderPropagator, Propagator};
use tower_layer::Layer;

use super::observer::{ClientConfig, ClientObserver, ClientSettings};
use crate::conventions::{Protocol, RpcConventions};
use crate::lifecycle::Observe;
use crate::redact::DEFAULT_SENSITIVE_QUERY_PARAMS;

/// A Tower layer giving every outgoing request a CLIENT span and injecting its context.
///
/// Wraps any `tower::Service<http::Request<B>>`: hyper-util's client, a tonic `Channel`, an
/// axum or hyper service called in-process. See the [module docs](crate#client-spans).
pub struct ClientTraceLayer<T, P = Propagator> {
    config: ClientConfig<T, P>,
}

impl<T: Tracer> ClientTraceLayer<T> {
    /// A client layer with `tracer`, W3C propagation and automatic HTTP/gRPC detection
    /// (`content-type: application/grpc`). A no-op tracer is detected here, once: the layer
    /// then makes no spans (and still propagates the current context).
    pub fn new(tracer: T) -> Self {
        let noop_tracer = crate::server::is_noop(&tracer);
        ClientTraceLayer {
            config: ClientConfig {
                tracer: Arc::new(tracer),
                propagator: Propagator::w3c(),
                settings: ClientSettings {
                    enabled: !noop_tracer,
                    noop_tracer,
                    protocol: Protocol::Auto,
                    rpc: RpcConventions::Current,
                    sensitive_query: DEFAULT_SENSITIVE_QUERY_PARAMS
                        .iter()
                        .map(|s| Box::from(*s))
                        .collect(),
                    server_authority: None,
                    random_roots: true,
                },
            },
        }
    }

    /// [`new`](Self::new), always following the HTTP conventions.
    pub fn client_http(tracer: T) -> Self {
        Self::new(tracer).with_protocol(Protocol::Http)
    }

    /// [`new`](Self::new), always following the gRPC conventions.
    pub fn client_grpc(tracer: T) -> Self {
        Self::new(tracer).with_protocol(Protocol::Grpc)
    }
}

impl ClientTraceLayer<BoxedTracer> {
    /// A client layer with the global tracer provider's tracer, read once, now. With no
    /// provider installed it makes no spans but still propagates the current context.
    pub fn from_global() -> Self {
        Self::new(global::tracer("tower-trace"))
    }
}

impl<T, P> ClientTraceLayer<T, P> {
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

    /// Uses `propagator` to write the context: e.g. `Propagator::w3c_and_cloud_trace()` to
    /// send `X-Cloud-Trace-Context` too, `.with_baggage()` for baggage.
    pub fn with_propagator<P2: HeaderPropagator>(self, propagator: P2) -> ClientTraceLayer<T, P2> {
        let ClientConfig {
            tracer,
            propagator: _,
            settings,
        } = self.config;
        ClientTraceLayer {
            config: ClientConfig {
                tracer,
                propagator,
                settings,
            },
        }
    }

    /// `host[:port]` of the server, for `server.address`/`server.port` and `url.full` when
    /// request URIs carry no authority (a tonic client below its channel sends path-only
    /// URIs; use the channel's target here).
    pub fn with_server_address(mut self, authority: impl Into<Arc<str>>) -> Self {
        self.config.settings.server_authority = Some(authority.into());
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

    /// Turns spans off (or on again). Off, the layer still injects the current context.
    /// With a no-op tracer there are no spans whatever this says.
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.config.settings.enabled = enabled && !self.config.settings.noop_tracer;
        self
    }

    /// The observer this layer drives, for the reqwest middleware or a fused layer.
    pub fn observer(&self) -> ClientObserver<T, P>
    where
        T: Tracer,
        P: Clone,
    {
        ClientObserver::new(self.config.clone())
    }
}

impl<T, P: Clone> Clone for ClientTraceLayer<T, P> {
    fn clone(&self) -> Self {
        ClientTraceLayer {
            config: self.config.clone(),
        }
    }
}

impl<S, T: Tracer, P: Clone> Layer<S> for ClientTraceLayer<T, P> {
    type Service = Observe<S, ClientObserver<T, P>>;

    fn layer(&self, inner: S) -> Self::Service {
        Observe::new(inner, self.observer())
    }
}

impl<T, P> std::fmt::Debug for ClientTraceLayer<T, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTraceLayer")
            .field("enabled", &self.config.settings.enabled)
            .field("tracer", &std::any::type_name::<T>())
            .field("propagator", &std::any::type_name::<P>())
            .field("protocol", &self.config.settings.protocol)
            .finish_non_exhaustive()
    }
}
