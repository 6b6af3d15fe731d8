use std::sync::Arc;

use opentelemetry::global;
use opentelemetry::metrics::Meter;
use opentelemetry::trace::Tracer;
use tower_layer::Layer;
use tower_trace::classify::Role;
use tower_trace::lifecycle::Observe;
use tower_trace::{
    ClientObserver, ClientTraceLayer, DefaultRoute, MakeRoute, Protocol, RpcConventions,
    ServerObserver, TraceLayer,
};

use crate::instruments::{Instruments, Options};
use crate::observer::{Inner, Interned, MetricsObserver};

/// A Tower layer recording RED metrics (rate, errors, duration) for a server or a client.
///
/// See the [crate docs](crate) for the instruments and their attributes.
pub struct MetricsLayer<R = DefaultRoute> {
    meter: Meter,
    role: Role,
    protocol: Protocol,
    options: Options,
    route: R,
    default_scheme: &'static str,
    instruments: Arc<Instruments>,
    interned: Arc<Interned>,
}

impl MetricsLayer {
    /// Server metrics from `meter`: `http.server.request.duration`,
    /// `http.server.active_requests` and, for gRPC, `rpc.server.call.duration`. HTTP or gRPC
    /// is detected per request from `content-type`.
    pub fn server(meter: &Meter) -> Self {
        Self::new(
            meter,
            Role::Server,
            Options {
                active_requests: true,
                body_sizes: false,
                rpc: RpcConventions::Current,
            },
        )
    }

    /// Client metrics from `meter`: `http.client.request.duration` and, for gRPC,
    /// `rpc.client.call.duration` (`http.client.active_requests` is opt-in).
    pub fn client(meter: &Meter) -> Self {
        Self::new(
            meter,
            Role::Client,
            Options {
                active_requests: false,
                body_sizes: false,
                rpc: RpcConventions::Current,
            },
        )
    }

    /// [`server`](Self::server) with the global meter provider's meter, read once, now.
    pub fn server_from_global() -> Self {
        Self::server(&global::meter("tower-metrics"))
    }

    /// [`client`](Self::client) with the global meter provider's meter, read once, now.
    pub fn client_from_global() -> Self {
        Self::client(&global::meter("tower-metrics"))
    }

    fn new(meter: &Meter, role: Role, options: Options) -> Self {
        MetricsLayer {
            meter: meter.clone(),
            role,
            protocol: Protocol::Auto,
            options,
            route: DefaultRoute,
            default_scheme: "http",
            instruments: Arc::new(Instruments::new(meter, role, options)),
            interned: Arc::new(Interned::new()),
        }
    }
}

impl<R> MetricsLayer<R> {
    fn rebuild(mut self) -> Self {
        self.instruments = Arc::new(Instruments::new(&self.meter, self.role, self.options));
        self
    }

    /// Follows the conventions of one protocol instead of detecting it per request.
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// Records `http.{server,client}.active_requests` (on by default for servers, off for
    /// clients). Decremented exactly once per request on every path, dropped ones included.
    pub fn with_active_requests(mut self, enabled: bool) -> Self {
        self.options.active_requests = enabled;
        self.rebuild()
    }

    /// Records the opt-in `http.{server,client}.{request,response}.body.size` (bytes; the
    /// request size from `Content-Length`, the response size counted as the body goes out).
    pub fn with_body_sizes(mut self, enabled: bool) -> Self {
        self.options.body_sizes = enabled;
        self.rebuild()
    }

    /// Selects the RPC conventions: [`RpcConventions::Classic`] records `rpc.*.duration` in
    /// milliseconds with `rpc.system`, `rpc.service`, `rpc.method`, `rpc.grpc.status_code`.
    pub fn with_rpc_conventions(mut self, conventions: RpcConventions) -> Self {
        self.options.rpc = conventions;
        self.rebuild()
    }

    /// Takes `http.route` from `route` (by default axum's `MatchedPath`, with the `axum`
    /// feature). Requests without a route get no `http.route` label, never their path.
    pub fn with_route<R2: MakeRoute>(self, route: R2) -> MetricsLayer<R2> {
        MetricsLayer {
            meter: self.meter,
            role: self.role,
            protocol: self.protocol,
            options: self.options,
            route,
            default_scheme: self.default_scheme,
            instruments: self.instruments,
            interned: self.interned,
        }
    }

    /// The `url.scheme` to report when neither the URI nor `Forwarded`/`X-Forwarded-Proto`
    /// says (`http` by default).
    pub fn with_default_scheme(mut self, https: bool) -> Self {
        self.default_scheme = if https { "https" } else { "http" };
        self
    }

    /// The observer this layer drives, to pair with another on one lifecycle.
    pub fn observer(&self) -> MetricsObserver<R>
    where
        R: Clone,
    {
        MetricsObserver::new(Inner {
            role: self.role,
            protocol: self.protocol,
            rpc: self.options.rpc,
            route: self.route.clone(),
            default_scheme: self.default_scheme,
            instruments: Arc::clone(&self.instruments),
            interned: Arc::clone(&self.interned),
        })
    }
}

impl<R: Clone> Clone for MetricsLayer<R> {
    fn clone(&self) -> Self {
        MetricsLayer {
            meter: self.meter.clone(),
            role: self.role,
            protocol: self.protocol,
            options: self.options,
            route: self.route.clone(),
            default_scheme: self.default_scheme,
            instruments: Arc::clone(&self.instruments),
            interned: Arc::clone(&self.interned),
        }
    }
}

impl<R> std::fmt::Debug for MetricsLayer<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsLayer")
            .field("role", &self.role)
            .field("protocol", &self.protocol)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<S, R: Clone> Layer<S> for MetricsLayer<R> {
    type Service = Observe<S, MetricsObserver<R>>;

    fn layer(&self, inner: S) -> Self::Service {
        Observe::new(inner, self.observer())
    }
}

// === fused trace + metrics ===

/// A trace layer and a metrics layer on **one** lifecycle: one future and one body wrapper,
/// and the span's duration and the histogram's value are the same measurement (the same clock
/// readings). Built with [`WithMetrics`].
#[derive(Debug, Clone)]
pub struct TraceMetricsLayer<L, R = DefaultRoute> {
    trace: L,
    metrics: MetricsLayer<R>,
}

/// Adds RED metrics to a `tower-trace` layer, fused on one lifecycle.
///
/// ```
/// use opentelemetry::global;
/// use tower_metrics::WithMetrics;
/// use tower_trace::TraceLayer;
///
/// let layer = TraceLayer::server(global::tracer("svc")).with_metrics(&global::meter("svc"));
/// # let _ = layer;
/// ```
pub trait WithMetrics: Sized {
    /// Fuses this layer with the metrics layer of its role ([`MetricsLayer::server`] for a
    /// `TraceLayer`, [`MetricsLayer::client`] for a `ClientTraceLayer`) from `meter`.
    fn with_metrics(self, meter: &Meter) -> TraceMetricsLayer<Self>;

    /// Fuses this layer with `metrics`, configured as you like.
    fn with_metrics_layer<R>(self, metrics: MetricsLayer<R>) -> TraceMetricsLayer<Self, R> {
        TraceMetricsLayer {
            trace: self,
            metrics,
        }
    }
}

impl<T, P, R, F, E> WithMetrics for TraceLayer<T, P, R, F, E> {
    fn with_metrics(self, meter: &Meter) -> TraceMetricsLayer<Self> {
        self.with_metrics_layer(MetricsLayer::server(meter))
    }
}

impl<T, P> WithMetrics for ClientTraceLayer<T, P> {
    fn with_metrics(self, meter: &Meter) -> TraceMetricsLayer<Self> {
        self.with_metrics_layer(MetricsLayer::client(meter))
    }
}

impl<S, T, P, R, F, E, MR> Layer<S> for TraceMetricsLayer<TraceLayer<T, P, R, F, E>, MR>
where
    T: Tracer,
    P: Clone,
    R: Clone,
    F: Clone,
    E: Clone,
    MR: Clone,
{
    type Service = Observe<S, (ServerObserver<T, P, R, F, E>, MetricsObserver<MR>)>;

    fn layer(&self, inner: S) -> Self::Service {
        Observe::new(inner, (self.trace.observer(), self.metrics.observer()))
    }
}

impl<S, T, P, MR> Layer<S> for TraceMetricsLayer<ClientTraceLayer<T, P>, MR>
where
    T: Tracer,
    P: Clone,
    MR: Clone,
{
    type Service = Observe<S, (ClientObserver<T, P>, MetricsObserver<MR>)>;

    fn layer(&self, inner: S) -> Self::Service {
        Observe::new(inner, (self.trace.observer(), self.metrics.observer()))
    }
}
