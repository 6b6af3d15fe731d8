use std::borrow::Cow;
use std::sync::Arc;

use opentelemetry::global;
use opentelemetry::metrics::Meter;
use tower_layer::Layer;
use tower_telemetry_trace::RequestInfo;
use tower_telemetry_trace::conventions::{Protocol, Role, RpcConventions};
use tower_telemetry_trace::hooks::{DefaultRoute, MakeRoute};
use tower_telemetry_trace::lifecycle::{Conventions, IntoObserveLayer, Observe, ObserveLayer};

use crate::exemplars::ExemplarFilter;
use crate::instruments::{Instruments, Options};
use crate::observer::{Inner, Label, MAX_SERVER_TARGETS, MetricsObserver, Targets};

/// A Tower layer recording RED metrics (rate, errors, duration) for a server or a client.
///
/// See the [crate docs](crate) for the instruments and their attributes. Type parameters, each
/// swapped by one setter: `R` the route source, `F` the filter, `L` the extra label.
pub struct MetricsLayer<R = DefaultRoute, F = (), L = ()> {
    conventions: Conventions<R, F>,
    meter: Meter,
    options: Options,
    label: L,
    instruments: Arc<Instruments>,
    max_targets: usize,
}

impl MetricsLayer {
    /// Server metrics from `meter`: `http.server.request.duration`,
    /// `http.server.active_requests` and, for gRPC, `rpc.server.call.duration`. HTTP or gRPC
    /// is detected per request from `content-type`.
    pub fn server(meter: &Meter) -> Self {
        Self::new(meter, Conventions::server())
    }

    /// [`server`](Self::server), always following the HTTP conventions.
    pub fn server_http(meter: &Meter) -> Self {
        Self::server(meter).with_protocol(Protocol::Http)
    }

    /// [`server`](Self::server), always following the gRPC conventions.
    pub fn server_grpc(meter: &Meter) -> Self {
        Self::server(meter).with_protocol(Protocol::Grpc)
    }

    /// [`server`](Self::server) with the global meter provider's meter, read once, now.
    ///
    /// Install the provider first. Unlike the trace layers' `*_from_global`, this cannot warn
    /// when the globals are empty (OpenTelemetry's metrics API gives no way to tell its no-op
    /// provider from a real one), and an empty global — none installed yet, or installed
    /// through a second version of `opentelemetry` (`cargo tree -i opentelemetry` must show
    /// one) — records nothing, silently. Prefer passing the meter: [`server`](Self::server).
    pub fn server_from_global() -> Self {
        Self::server(&global::meter("tower-telemetry"))
    }

    /// Client metrics from `meter`: `http.client.request.duration` and, for gRPC,
    /// `rpc.client.call.duration` (`http.client.active_requests` is opt-in).
    pub fn client(meter: &Meter) -> Self {
        Self::new(meter, Conventions::client())
    }

    /// [`client`](Self::client), always following the HTTP conventions.
    pub fn client_http(meter: &Meter) -> Self {
        Self::client(meter).with_protocol(Protocol::Http)
    }

    /// [`client`](Self::client), always following the gRPC conventions.
    pub fn client_grpc(meter: &Meter) -> Self {
        Self::client(meter).with_protocol(Protocol::Grpc)
    }

    /// [`client`](Self::client) with the global meter provider's meter, read once, now; see
    /// [`server_from_global`](Self::server_from_global) for what cannot be checked.
    pub fn client_from_global() -> Self {
        Self::client(&global::meter("tower-telemetry"))
    }

    fn new(meter: &Meter, conventions: Conventions) -> Self {
        let options = Options {
            active_requests: None,
            body_sizes: false,
            count_filtered: false,
            exemplars: ExemplarFilter::default(),
        };
        MetricsLayer {
            instruments: Arc::new(Instruments::new(
                meter,
                conventions.role(),
                conventions.rpc(),
                options,
            )),
            conventions,
            meter: meter.clone(),
            options,
            label: (),
            max_targets: MAX_SERVER_TARGETS,
        }
    }
}

impl<R, F, L> MetricsLayer<R, F, L> {
    /// The instruments again, for another role or RPC conventions (when fused with a layer
    /// of another role) or other options: built once per layer, never per request.
    fn rebuild(mut self, role: Role, rpc: RpcConventions) -> Self {
        self.instruments = Arc::new(Instruments::new(&self.meter, role, rpc, self.options));
        self
    }

    fn rebuilt(self) -> Self {
        let (role, rpc) = (self.conventions.role(), self.conventions.rpc());
        self.rebuild(role, rpc)
    }

    /// Follows one protocol's conventions instead of detecting it per request.
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.conventions = self.conventions.with_protocol(protocol);
        self
    }

    /// Records `http.{server,client}.active_requests` (on by default for servers, off for
    /// clients). Decremented exactly once per request on every path, dropped ones included.
    pub fn with_active_requests(mut self, enabled: bool) -> Self {
        self.options.active_requests = Some(enabled);
        self.rebuilt()
    }

    /// Which request durations keep an exemplar (the span's trace and span ids, the value,
    /// the time) in their bucket, for the Prometheus service's OpenMetrics output:
    /// [`ExemplarFilter::TraceBased`] by default (sampled requests only), as the OpenTelemetry
    /// SDK specification's default; [`ExemplarFilter::AlwaysOff`] keeps none, at no cost. The
    /// `prometheus` module (feature `prometheus`) serves them; [`kept_exemplars`](crate::kept_exemplars)
    /// reads them.
    ///
    /// ```
    /// use opentelemetry::global;
    /// use tower_telemetry_metrics::{ExemplarFilter, MetricsLayer};
    ///
    /// let layer = MetricsLayer::server(&global::meter("svc")).with_exemplars(ExemplarFilter::AlwaysOff);
    /// # let _ = layer;
    /// ```
    pub fn with_exemplars(mut self, filter: ExemplarFilter) -> Self {
        self.options.exemplars = filter;
        self.rebuilt()
    }

    /// Records the opt-in `http.{server,client}.{request,response}.body.size` (bytes; the
    /// request size from `Content-Length`, the response size counted as the body goes out).
    pub fn with_body_sizes(mut self, enabled: bool) -> Self {
        self.options.body_sizes = enabled;
        self.rebuilt()
    }

    /// Selects the RPC conventions: `RpcConventions::Classic` records `rpc.*.duration` in
    /// milliseconds with `rpc.system`, `rpc.service`, `rpc.method`, `rpc.grpc.status_code`;
    /// `RpcConventions::Both` records it and `rpc.*.call.duration`.
    pub fn with_rpc_conventions(mut self, conventions: RpcConventions) -> Self {
        self.conventions = self.conventions.with_rpc_conventions(conventions);
        self.rebuilt()
    }

    /// The `url.scheme` to report when neither the URI nor `Forwarded`/`X-Forwarded-Proto`
    /// says (`http` by default).
    pub fn with_default_scheme(mut self, https: bool) -> Self {
        self.conventions = self.conventions.with_default_scheme(https);
        self
    }

    /// `host[:port]` of the server for client requests whose URI has no authority (a tonic
    /// client below its channel).
    pub fn with_server_address(mut self, authority: impl Into<Arc<str>>) -> Self {
        self.conventions = self.conventions.with_server_address(authority);
        self
    }

    /// Keeps counting requests the filter ([`skip_if`](Self::skip_if), or a fused trace
    /// layer's `skip_if`) leaves out: by default a filtered request is in neither signal.
    /// Turn this on when the filter is there to keep noise out of traces but you still want
    /// the traffic in your rates, e.g. a load balancer's health checks whose failures should
    /// page you.
    pub fn count_filtered(mut self, count: bool) -> Self {
        self.options.count_filtered = count;
        self
    }

    /// Takes `http.route` from `route` (by default axum's `MatchedPath`, with the `axum`
    /// feature). Requests without a route get no `http.route` label, never their path.
    pub fn with_route<R2>(self, route: R2) -> MetricsLayer<R2, F, L>
    where
        R2: Fn(&RequestInfo<'_>) -> Option<Cow<'static, str>>,
    {
        self.with_make_route(route)
    }

    /// [`with_route`](Self::with_route) with any [`MakeRoute`].
    pub fn with_make_route<R2: MakeRoute>(self, route: R2) -> MetricsLayer<R2, F, L> {
        MetricsLayer {
            conventions: self.conventions.with_route(route),
            meter: self.meter,
            options: self.options,
            label: self.label,
            instruments: self.instruments,
            max_targets: self.max_targets,
        }
    }

    /// Records nothing for requests where `skip` says yes (unless
    /// [`count_filtered`](Self::count_filtered)).
    pub fn skip_if<F2>(self, skip: F2) -> MetricsLayer<R, F2, L>
    where
        F2: Fn(&RequestInfo<'_>) -> bool,
    {
        MetricsLayer {
            conventions: self.conventions.with_filter(skip),
            meter: self.meter,
            options: self.options,
            label: self.label,
            instruments: self.instruments,
            max_targets: self.max_targets,
        }
    }

    /// Adds one label `key` to the duration and body-size metrics, its value read from the
    /// request (e.g. a tenant header). **Cardinality rule**: each distinct value is a new
    /// series in every histogram, so the value must come from a small, known set; at most
    /// [`MAX_LABEL_VALUES`](crate::MAX_LABEL_VALUES) distinct values are kept per layer, later
    /// ones are recorded as `_OTHER`, and a request without a value has no such label.
    pub fn with_label<V>(self, key: &'static str, value: V) -> MetricsLayer<R, F, Label<V>>
    where
        V: for<'a> Fn(&RequestInfo<'a>) -> Option<&'a str>,
    {
        MetricsLayer {
            conventions: self.conventions,
            meter: self.meter,
            options: self.options,
            label: Label::new(opentelemetry::Key::from_static_str(key), value),
            instruments: self.instruments,
            max_targets: self.max_targets,
        }
    }

    /// How many distinct `server.address`/`server.port` pairs a client layer labels
    /// ([`MAX_SERVER_TARGETS`](crate::MAX_SERVER_TARGETS) by default); calls to later targets
    /// are recorded with `server.address="_OTHER"` and no port.
    pub fn with_max_server_targets(mut self, max: usize) -> Self {
        self.max_targets = max;
        self
    }

    /// The lifecycle's configuration.
    pub fn conventions(&self) -> &Conventions<R, F> {
        &self.conventions
    }

    /// The observer this layer drives, to pair with another on one lifecycle.
    pub fn observer(self) -> MetricsObserver<L> {
        MetricsObserver::new(Inner {
            instruments: self.instruments,
            count_filtered: self.options.count_filtered,
            label: self.label,
            targets: Targets::new(self.max_targets),
            capture_current: false,
        })
    }
}

impl<R, F, L> IntoObserveLayer for MetricsLayer<R, F, L> {
    type Observer = MetricsObserver<L>;
    type Route = R;
    type Filter = F;

    fn into_observe_layer(self) -> ObserveLayer<MetricsObserver<L>, R, F> {
        let MetricsLayer {
            conventions,
            options,
            label,
            instruments,
            max_targets,
            ..
        } = self;
        ObserveLayer::new(
            conventions,
            MetricsObserver::new(Inner {
                instruments,
                count_filtered: options.count_filtered,
                label,
                targets: Targets::new(max_targets),
                capture_current: true,
            }),
        )
    }
}

impl<R: Clone, F: Clone, L: Clone> Clone for MetricsLayer<R, F, L> {
    fn clone(&self) -> Self {
        MetricsLayer {
            conventions: self.conventions.clone(),
            meter: self.meter.clone(),
            options: self.options,
            label: self.label.clone(),
            instruments: Arc::clone(&self.instruments),
            max_targets: self.max_targets,
        }
    }
}

impl<R, F, L> std::fmt::Debug for MetricsLayer<R, F, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsLayer")
            .field("conventions", &self.conventions)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<S, R: Clone, F: Clone, L: Clone> Layer<S> for MetricsLayer<R, F, L> {
    type Service = Observe<S, MetricsObserver<L>, R, F>;

    fn layer(&self, inner: S) -> Self::Service {
        self.clone().into_observe_layer().layer(inner)
    }
}

// === fused trace + metrics ===

/// A trace layer and a metrics layer on **one** lifecycle, under the trace layer's
/// conventions: one future and one body wrapper, one set of facts, one verdict, and the span's
/// duration and the histogram's value are the same measurement. Built with [`WithMetrics`].
pub type TraceMetricsLayer<O, R = DefaultRoute, F = (), L = ()> =
    ObserveLayer<(O, MetricsObserver<L>), R, F>;

/// Adds RED metrics to a layer of the trace crate (or any lifecycle layer), fused on one
/// lifecycle: the metrics follow **its** conventions (protocol, RPC conventions, route,
/// default scheme, server address, filter), so the two signals can't disagree.
///
/// ```
/// use opentelemetry::global;
/// use tower_telemetry_metrics::WithMetrics;
/// use tower_telemetry_trace::TraceLayer;
///
/// let layer = TraceLayer::server(global::tracer("svc"))
///     .skip_if(|req| req.uri().path() == "/healthz") // neither a span nor metrics
///     .with_metrics(&global::meter("svc"));
/// # let _ = layer;
/// ```
pub trait WithMetrics: IntoObserveLayer + Sized {
    /// Fuses this layer with the metrics of its role (server or client) from `meter`.
    fn with_metrics(
        self,
        meter: &Meter,
    ) -> TraceMetricsLayer<Self::Observer, Self::Route, Self::Filter> {
        self.with_metrics_layer(MetricsLayer::server(meter))
    }

    /// Fuses this layer with `metrics`, configured as you like: its options (active
    /// requests, body sizes, counting filtered requests, an extra label) are kept; its
    /// conventions give way to this layer's, and its instruments are those of this layer's
    /// role.
    fn with_metrics_layer<R2, F2, L>(
        self,
        metrics: MetricsLayer<R2, F2, L>,
    ) -> TraceMetricsLayer<Self::Observer, Self::Route, Self::Filter, L> {
        let layer = self.into_observe_layer();
        let (role, rpc) = (layer.conventions().role(), layer.conventions().rpc());
        let metrics = if (role, rpc) == (metrics.conventions.role(), metrics.conventions.rpc()) {
            metrics
        } else {
            metrics.rebuild(role, rpc)
        };
        layer.and(metrics.observer())
    }
}

impl<L: IntoObserveLayer> WithMetrics for L {}
