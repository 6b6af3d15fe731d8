//! Tracer and meter providers from the standard `OTEL_*` environment variables (feature
//! `otlp`), so one program exports to the console, an OpenTelemetry Collector, Jaeger, Tempo,
//! Cloud Trace or Prometheus by configuration alone.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use tower_telemetry::setup::Telemetry;
//!
//! let telemetry = Telemetry::from_env("my-service")?; // the name unless OTEL_SERVICE_NAME says
//! let server = telemetry.server_layer();               // spans + RED metrics, fused
//! let client = telemetry.client_layer();               // for a hyper client or tonic Channel
//! // … serve …
//! telemetry.shutdown().await;                          // flush within one budget
//! # let _ = (server, client); Ok(()) }
//! ```
//!
//! # What reads what
//!
//! `opentelemetry-otlp` and the SDK read their own variables; this setup does not re-parse
//! them, so everything they support works as documented there: `OTEL_EXPORTER_OTLP_ENDPOINT`
//! and the per-signal `…_TRACES_…`/`…_METRICS_…` variants, `…_PROTOCOL` (`grpc`,
//! `http/protobuf`; per signal too), `…_HEADERS`, `…_TIMEOUT`, `…_COMPRESSION` (`gzip` with
//! the `gzip` feature), `…_METRICS_TEMPORALITY_PREFERENCE`, `OTEL_TRACES_SAMPLER` and
//! `…_ARG`, `OTEL_BSP_*`, `OTEL_METRIC_EXPORT_INTERVAL`/`_TIMEOUT`, `OTEL_RESOURCE_ATTRIBUTES`,
//! `OTEL_SERVICE_NAME`, `OTEL_SPAN_*_COUNT_LIMIT`. `https://` endpoints need the `tls` feature.
//!
//! This setup reads only what the SDK lacks:
//!
//! | variable | values | default |
//! |---|---|---|
//! | `OTEL_SDK_DISABLED` | `true`: no exporters, layers still propagate context | `false` |
//! | `OTEL_TRACES_EXPORTER` | `otlp`, `console`, `none` (a list) | `otlp` |
//! | `OTEL_METRICS_EXPORTER` | `otlp`, `prometheus`, `console`, `none` (a list) | `otlp` |
//! | `OTEL_PROPAGATORS` | `tracecontext`, `baggage`, `xcloudtrace` (both ways), `xcloudtrace_oneway` (extract only), `grpctracebin` (OpenCensus `grpc-trace-bin`, extract only), `none` | `tracecontext,baggage` |
//! | `OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION` | `explicit_bucket_histogram`, `base2_exponential_bucket_histogram` | explicit |
//! | `OTEL_SEMCONV_STABILITY_OPT_IN` | a list; its `rpc` entry: `rpc` (current RPC conventions), `rpc/dup` (both), `rpc/old` (classic) | current |
//! | `OTEL_TRACES_SAMPLER` | checked only, so a bad name is reported (the SDK builds the sampler) | |
//! | `OTEL_EXPORTER_OTLP_CERTIFICATE` (and `…_TRACES_…`, `…_METRICS_…`) | with `tls`: a PEM file of CA certificates trusted besides the public (webpki) roots | public roots |
//! | `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`, `OTEL_EXPORTER_OTLP_CLIENT_KEY` (and per signal) | with `tls`: PEM files of the client certificate chain and its key (mutual TLS) | none |
//!
//! With `tls`, the setup gives both transports their TLS configuration itself (rustls with
//! ring, chosen explicitly: no process-wide crypto provider is needed or installed), since
//! `opentelemetry-otlp` 0.33 reads none of the certificate variables; building the HTTP client
//! itself, it also applies `OTEL_EXPORTER_OTLP_TIMEOUT` (and `…_TRACES_…`/`…_METRICS_…`) to it,
//! as `opentelemetry-otlp` does to the client it builds.
//!
//! The [OpenTelemetry environment-variable rules] apply: an empty value is unset; a value that
//! cannot be used gets **one warning naming the variable** and the default; an unknown name in
//! a list is ignored with a warning. [`TelemetryBuilder::strict`] makes those errors instead.
//!
//! # Shutdown
//!
//! [`Telemetry::shutdown`] flushes and shuts traces and metrics down **concurrently within one
//! budget** (5 s by default, [`TelemetryBuilder::with_shutdown_budget`]), whatever the
//! collector does. It is `async` and hands the blocking work to Tokio's blocking pool, so it
//! never stalls a current-thread runtime (whose thread the OTLP/gRPC exporter needs). Dropping
//! a [`Telemetry`] shuts down too, also within the budget; on a current-thread runtime with
//! OTLP/gRPC prefer `shutdown().await`, as the drop blocks the thread the exporter needs and
//! can take the whole budget. [`shutdown_signal`] resolves on SIGTERM or SIGINT.
//!
//! # Export failures
//!
//! The first failure of each exporter is reported at once, then at most one summary a minute
//! ("N batches dropped in the last 60s"): on stderr by default, or wherever
//! [`TelemetryBuilder::on_diagnostic`] sends them (e.g. `|m| tracing::warn!("{m}")`).
//!
//! [OpenTelemetry environment-variable rules]: https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/#parsing-empty-value

mod env;
mod report;
mod shutdown;
#[cfg(feature = "tls")]
mod tls;

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{
    Aggregation, Instrument, InstrumentKind, PeriodicReader, SdkMeterProvider, Stream,
};
use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracer, SdkTracerProvider, SpanProcessor};
use tower_telemetry_metrics::prometheus::MetricsService;
use tower_telemetry_metrics::{TraceMetricsLayer, WithMetrics};
use tower_telemetry_propagation::Propagator;
use tower_telemetry_trace::hooks::DefaultRoute;
use tower_telemetry_trace::{
    ClientObserver, ClientTraceLayer, RpcConventions, ServerObserver, TraceLayer,
};

pub use crate::signal::shutdown_signal;
pub use env::SetupError;
pub use shutdown::DEFAULT_SHUTDOWN_BUDGET;

use env::{Env, Vars};
use report::{Diagnostics, FailureReport, Reported};

/// The fused server layer [`Telemetry::server_layer`] builds.
pub type ServerLayer = TraceMetricsLayer<ServerObserver<SdkTracer, Propagator>, DefaultRoute, ()>;
/// The fused client layer [`Telemetry::client_layer`] builds.
pub type ClientLayer = TraceMetricsLayer<ClientObserver<SdkTracer, Propagator>, DefaultRoute, ()>;

/// Which OTLP transport to use when set in code (it wins over `OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OtlpProtocol {
    /// OTLP/gRPC.
    Grpc,
    /// OTLP over HTTP with protobuf bodies.
    HttpProtobuf,
}

type AddSpanProcessor = Box<
    dyn FnOnce(
            opentelemetry_sdk::trace::TracerProviderBuilder,
        ) -> opentelemetry_sdk::trace::TracerProviderBuilder
        + Send,
>;
type AddReader = Box<
    dyn FnOnce(
            opentelemetry_sdk::metrics::MeterProviderBuilder,
        ) -> opentelemetry_sdk::metrics::MeterProviderBuilder
        + Send,
>;

/// Builds a [`Telemetry`]: where the variables come from, strictness, extra processors and
/// readers, the shutdown budget, where diagnostics go.
pub struct TelemetryBuilder {
    service_name: String,
    vars: Vars,
    strict: bool,
    span_processors: Vec<AddSpanProcessor>,
    readers: Vec<AddReader>,
    budget: Duration,
    summary_interval: Duration,
    diagnostics: Diagnostics,
    otlp_endpoint: Option<String>,
    otlp_protocol: Option<OtlpProtocol>,
}

impl std::fmt::Debug for TelemetryBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryBuilder")
            .field("service_name", &self.service_name)
            .field("strict", &self.strict)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

/// The providers built from the environment, with what the layers need (tracer, meter,
/// propagator, RPC conventions) and a `/metrics` service. Shut it down with
/// [`shutdown`](Self::shutdown); dropping it shuts down too (see the [module docs](self)).
pub struct Telemetry {
    tracer_provider: SdkTracerProvider,
    meter_provider: SdkMeterProvider,
    propagator: Propagator,
    rpc: RpcConventions,
    prometheus: MetricsService,
    service_name: String,
    budget: Duration,
    diagnostics: Diagnostics,
    shut_down: bool,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field("service_name", &self.service_name)
            .field("propagator", &self.propagator)
            .field("rpc", &self.rpc)
            .field("prometheus", &self.prometheus.is_enabled())
            .finish_non_exhaustive()
    }
}

impl Telemetry {
    /// Builds everything from the process environment; `service_name` unless
    /// `OTEL_SERVICE_NAME` (or `service.name` in `OTEL_RESOURCE_ATTRIBUTES`) says otherwise.
    /// Needs a Tokio runtime when OTLP/gRPC is configured.
    ///
    /// # Errors
    ///
    /// When an exporter cannot be built (e.g. an `https://` endpoint without the `tls`
    /// feature). Bad values only warn, unless [`strict`](TelemetryBuilder::strict).
    pub fn from_env(service_name: &str) -> Result<Telemetry, SetupError> {
        Self::builder(service_name).build()
    }

    /// A builder reading the process environment.
    pub fn builder(service_name: &str) -> TelemetryBuilder {
        TelemetryBuilder {
            service_name: service_name.to_owned(),
            vars: Box::new(|name| std::env::var(name).ok()),
            strict: false,
            span_processors: Vec::new(),
            readers: Vec::new(),
            budget: DEFAULT_SHUTDOWN_BUDGET,
            summary_interval: Duration::from_secs(60),
            diagnostics: Diagnostics::stderr(),
            otlp_endpoint: None,
            otlp_protocol: None,
        }
    }

    /// A tracer named `name` (the instrumentation scope).
    pub fn tracer(&self, name: &'static str) -> SdkTracer {
        self.tracer_provider.tracer(name)
    }

    /// A meter named `name`.
    pub fn meter(&self, name: &'static str) -> Meter {
        self.meter_provider.meter(name)
    }

    /// The propagator `OTEL_PROPAGATORS` describes.
    pub fn propagator(&self) -> Propagator {
        self.propagator
    }

    /// The RPC conventions `OTEL_SEMCONV_STABILITY_OPT_IN` selects.
    pub fn rpc_conventions(&self) -> RpcConventions {
        self.rpc
    }

    /// A server trace layer configured from the environment (propagator, RPC conventions),
    /// to customize further (`skip_if`, `with_route`, …) and then fuse with
    /// `.with_metrics(&telemetry.meter(…))`.
    pub fn trace_layer(&self) -> TraceLayer<SdkTracer, Propagator> {
        TraceLayer::server(self.tracer("tower-telemetry"))
            .with_propagator(self.propagator)
            .with_rpc_conventions(self.rpc)
    }

    /// Server spans and RED metrics, fused, configured from the environment.
    pub fn server_layer(&self) -> ServerLayer {
        self.trace_layer()
            .with_metrics(&self.meter("tower-telemetry"))
    }

    /// Client spans and RED metrics, fused, configured from the environment, for a hyper
    /// client, a tonic `Channel`, or reqwest (through `TraceMiddleware::from_layer`).
    pub fn client_layer(&self) -> ClientLayer {
        ClientTraceLayer::client(self.tracer("tower-telemetry"))
            .with_propagator(self.propagator)
            .with_rpc_conventions(self.rpc)
            .with_metrics(&self.meter("tower-telemetry"))
    }

    /// The `/metrics` endpoint: the Prometheus text format when `OTEL_METRICS_EXPORTER`
    /// includes `prometheus`, else `404` saying how to turn it on.
    pub fn metrics_service(&self) -> MetricsService {
        self.prometheus.clone()
    }

    /// The `service.name` in use.
    pub fn service_name(&self) -> &str {
        &self.service_name
    }

    /// The tracer provider.
    pub fn tracer_provider(&self) -> &SdkTracerProvider {
        &self.tracer_provider
    }

    /// The meter provider.
    pub fn meter_provider(&self) -> &SdkMeterProvider {
        &self.meter_provider
    }

    /// The warnings reported so far (configuration, export failures; the latest 100), as sent
    /// to the diagnostics sink.
    pub fn diagnostics(&self) -> Vec<String> {
        self.diagnostics.messages()
    }

    /// Installs the providers and the propagator as OpenTelemetry's globals (for libraries
    /// that read them, and the `*_from_global` layers).
    pub fn install_global(&self) {
        opentelemetry::global::set_tracer_provider(self.tracer_provider.clone());
        opentelemetry::global::set_meter_provider(self.meter_provider.clone());
        opentelemetry::global::set_text_map_propagator(self.propagator);
    }

    /// Exports what is buffered now (blocking).
    pub fn flush(&self) {
        let _ = self.tracer_provider.force_flush();
        let _ = self.meter_provider.force_flush();
    }

    /// Flushes and shuts every signal down concurrently, within the budget, without
    /// blocking the runtime: safe on a current-thread runtime with OTLP/gRPC.
    pub async fn shutdown(mut self) {
        let Some(work) = self.shutdown_work() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                let _ = handle.spawn_blocking(work).await;
            }
            Err(_) => work(),
        }
    }

    /// [`shutdown`](Self::shutdown) for code outside an async context: blocks up to the
    /// budget. On a Tokio runtime's thread prefer `shutdown().await`.
    pub fn shutdown_blocking(mut self) {
        if let Some(work) = self.shutdown_work() {
            work();
        }
    }

    fn shutdown_work(&mut self) -> Option<impl FnOnce() + Send + 'static> {
        if std::mem::replace(&mut self.shut_down, true) {
            return None;
        }
        let (tracer_provider, meter_provider) =
            (self.tracer_provider.clone(), self.meter_provider.clone());
        let (budget, diagnostics) = (self.budget, self.diagnostics.clone());
        Some(move || {
            shutdown::shutdown_within(tracer_provider, meter_provider, budget, &diagnostics);
        })
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(work) = self.shutdown_work() {
            work();
        }
    }
}

impl TelemetryBuilder {
    /// Reads this setup's variables (the table in the [module docs](self)) from `vars`
    /// instead of the process environment; the SDK and `opentelemetry-otlp` still read
    /// theirs from the process environment.
    pub fn with_vars(mut self, vars: impl Fn(&str) -> Option<String> + 'static) -> Self {
        self.vars = Box::new(vars);
        self
    }

    /// Fails [`build`](Self::build) on any value that cannot be used, naming the variable,
    /// instead of warning and using the default.
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// The OTLP endpoint, set in code: it wins over the `OTEL_EXPORTER_OTLP_*ENDPOINT`
    /// variables (for HTTP, `/v1/traces` and `/v1/metrics` are appended).
    pub fn with_otlp_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.otlp_endpoint = Some(endpoint.into());
        self
    }

    /// The OTLP transport, set in code: it wins over `OTEL_EXPORTER_OTLP_*PROTOCOL`.
    pub fn with_otlp_protocol(mut self, protocol: OtlpProtocol) -> Self {
        self.otlp_protocol = Some(protocol);
        self
    }

    /// Adds a span processor besides the configured exporters.
    pub fn with_span_processor<P: SpanProcessor + 'static>(mut self, processor: P) -> Self {
        self.span_processors
            .push(Box::new(move |b| b.with_span_processor(processor)));
        self
    }

    /// Adds a metric reader besides the configured exporters. Views apply to every reader of
    /// a provider: with `OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION` asking for
    /// exponential histograms, this reader gets them too (a Prometheus reader added here cannot
    /// show them: leave the variable unset, or choose `OTEL_METRICS_EXPORTER=prometheus`, which
    /// the setup checks).
    pub fn with_reader<R: opentelemetry_sdk::metrics::reader::MetricReader>(
        mut self,
        reader: R,
    ) -> Self {
        self.readers.push(Box::new(move |b| b.with_reader(reader)));
        self
    }

    /// The budget for flushing and shutting down all signals together (5 s by default).
    pub fn with_shutdown_budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// How often repeated export failures are summarized (a minute by default).
    pub fn with_failure_summary_interval(mut self, interval: Duration) -> Self {
        self.summary_interval = interval;
        self
    }

    /// Sends warnings and export failures to `sink` instead of stderr.
    pub fn on_diagnostic(mut self, sink: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.diagnostics = Diagnostics::to(Arc::new(sink));
        self
    }

    /// Builds the providers.
    ///
    /// # Errors
    ///
    /// An exporter that cannot be built, or (in strict mode) the first variable that cannot
    /// be used.
    pub fn build(mut self) -> Result<Telemetry, SetupError> {
        let env = Env {
            vars: &self.vars,
            strict: self.strict,
            diagnostics: &self.diagnostics,
            warned: Default::default(),
        };
        let disabled = env.bool("OTEL_SDK_DISABLED", false)?;
        let propagator = propagator(&env)?;
        let rpc = rpc_conventions(&env)?;
        env.choice(
            "OTEL_TRACES_SAMPLER",
            &[
                "always_on",
                "always_off",
                "traceidratio",
                "parentbased_always_on",
                "parentbased_always_off",
                "parentbased_traceidratio",
                "parentbased_jaeger_remote",
                "jaeger_remote",
                "xray",
            ],
            "parentbased_always_on",
        )?;
        let traces = if disabled {
            Vec::new()
        } else {
            env.list(
                "OTEL_TRACES_EXPORTER",
                &["otlp", "console", "none"],
                &["otlp"],
            )?
        };
        let metrics = if disabled {
            Vec::new()
        } else {
            env.list(
                "OTEL_METRICS_EXPORTER",
                &["otlp", "prometheus", "console", "none"],
                &["otlp"],
            )?
        };
        let mut exponential = env.choice(
            "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION",
            &[
                "explicit_bucket_histogram",
                "base2_exponential_bucket_histogram",
            ],
            "explicit_bucket_histogram",
        )? == "base2_exponential_bucket_histogram";
        if exponential && metrics.contains(&"prometheus") {
            // Views apply to every reader of a provider, and the Prometheus text format needs
            // explicit buckets.
            env.reject(
                "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION",
                "base2_exponential_bucket_histogram",
                "exponential histograms apply to every reader, and the Prometheus exporter is on",
                (),
                "explicit buckets",
            )?;
            exponential = false;
        }
        let resource = resource(&env, &self.service_name);
        let service_name = resource
            .get(&opentelemetry::Key::from_static_str("service.name"))
            .map_or_else(|| self.service_name.clone(), |v| v.to_string());

        let report = |what: String| {
            FailureReport::new(what, self.summary_interval, self.diagnostics.clone())
        };

        // Traces.
        let mut tracer_builder = SdkTracerProvider::builder().with_resource(resource.clone());
        for exporter in traces {
            match exporter {
                "otlp" => {
                    let exporter = self.span_exporter(&env)?;
                    let what = "trace export over OTLP".to_owned();
                    tracer_builder = tracer_builder.with_span_processor(
                        BatchSpanProcessor::builder(Reported {
                            inner: exporter,
                            report: report(what),
                        })
                        .build(),
                    );
                }
                "console" => {
                    tracer_builder = tracer_builder.with_span_processor(
                        BatchSpanProcessor::builder(opentelemetry_stdout::SpanExporter::default())
                            .build(),
                    );
                }
                _ => {}
            }
        }
        for add in std::mem::take(&mut self.span_processors) {
            tracer_builder = add(tracer_builder);
        }

        // Metrics.
        let mut meter_builder = SdkMeterProvider::builder().with_resource(resource);
        if exponential {
            meter_builder = meter_builder.with_view(|instrument: &Instrument| {
                (instrument.kind() == InstrumentKind::Histogram).then(|| {
                    Stream::builder()
                        .with_aggregation(Aggregation::Base2ExponentialHistogram {
                            max_size: 160,
                            max_scale: 20,
                            record_min_max: true,
                        })
                        .build()
                        .ok()
                })?
            });
        }
        let mut prometheus = MetricsService::disabled();
        for exporter in metrics {
            match exporter {
                "otlp" => {
                    let exporter = self.metric_exporter(&env)?;
                    let reader = PeriodicReader::builder(Reported {
                        inner: exporter,
                        report: report("metric export over OTLP".to_owned()),
                    })
                    .build();
                    meter_builder = meter_builder.with_reader(reader);
                }
                "prometheus" => {
                    let (reader, service) = tower_telemetry_metrics::prometheus::exporter()
                        .map_err(|e| {
                            SetupError::new("OTEL_METRICS_EXPORTER", "prometheus", e.to_string())
                        })?;
                    meter_builder = meter_builder.with_reader(reader);
                    prometheus = service;
                }
                "console" => {
                    meter_builder = meter_builder.with_reader(
                        PeriodicReader::builder(opentelemetry_stdout::MetricExporter::default())
                            .build(),
                    );
                }
                _ => {}
            }
        }
        for add in std::mem::take(&mut self.readers) {
            meter_builder = add(meter_builder);
        }

        Ok(Telemetry {
            tracer_provider: tracer_builder.build(),
            meter_provider: meter_builder.build(),
            propagator,
            rpc,
            prometheus,
            service_name,
            budget: self.budget,
            diagnostics: self.diagnostics,
            shut_down: false,
        })
    }

    /// The OTLP span exporter: from the environment (`opentelemetry-otlp` reads it), unless
    /// an endpoint or protocol was set in code; with the `tls` feature, with the TLS
    /// configuration of [`tls`] (which `opentelemetry-otlp` does not read).
    #[cfg_attr(not(feature = "tls"), allow(unused_variables))]
    fn span_exporter(&self, env: &Env<'_>) -> Result<opentelemetry_otlp::SpanExporter, SetupError> {
        use opentelemetry_otlp::SpanExporter;
        let fail = |e: String| SetupError::new("OTEL_TRACES_EXPORTER", "otlp", e);
        let built = match self.protocol("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") {
            OtlpProtocol::Grpc => {
                let builder =
                    with_endpoint(SpanExporter::builder().with_tonic(), self.endpoint(None));
                #[cfg(feature = "tls")]
                let builder = opentelemetry_otlp::WithTonicConfig::with_tls_config(
                    builder,
                    tls::OtlpTls::from_env(env, "TRACES")?.tonic(),
                );
                builder.build()
            }
            OtlpProtocol::HttpProtobuf => {
                let builder = with_endpoint(
                    SpanExporter::builder().with_http(),
                    self.endpoint(Some("/v1/traces")),
                );
                #[cfg(feature = "tls")]
                let builder = opentelemetry_otlp::WithHttpConfig::with_http_client(
                    builder,
                    tls::OtlpTls::from_env(env, "TRACES")?
                        .http_client(tls::http_timeout(env, "TRACES")?)
                        .map_err(fail)?,
                );
                builder.build()
            }
        };
        built.map_err(|e| fail(e.to_string()))
    }

    /// The OTLP metric exporter; see [`span_exporter`](Self::span_exporter).
    #[cfg_attr(not(feature = "tls"), allow(unused_variables))]
    fn metric_exporter(
        &self,
        env: &Env<'_>,
    ) -> Result<opentelemetry_otlp::MetricExporter, SetupError> {
        use opentelemetry_otlp::MetricExporter;
        let fail = |e: String| SetupError::new("OTEL_METRICS_EXPORTER", "otlp", e);
        let built = match self.protocol("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL") {
            OtlpProtocol::Grpc => {
                let builder =
                    with_endpoint(MetricExporter::builder().with_tonic(), self.endpoint(None));
                #[cfg(feature = "tls")]
                let builder = opentelemetry_otlp::WithTonicConfig::with_tls_config(
                    builder,
                    tls::OtlpTls::from_env(env, "METRICS")?.tonic(),
                );
                builder.build()
            }
            OtlpProtocol::HttpProtobuf => {
                let builder = with_endpoint(
                    MetricExporter::builder().with_http(),
                    self.endpoint(Some("/v1/metrics")),
                );
                #[cfg(feature = "tls")]
                let builder = opentelemetry_otlp::WithHttpConfig::with_http_client(
                    builder,
                    tls::OtlpTls::from_env(env, "METRICS")?
                        .http_client(tls::http_timeout(env, "METRICS")?)
                        .map_err(fail)?,
                );
                builder.build()
            }
        };
        built.map_err(|e| fail(e.to_string()))
    }

    /// The protocol set in code, else the one the variables ask for (`opentelemetry-otlp`
    /// chooses the same way: the signal's variable, the general one, then HTTP/protobuf).
    fn protocol(&self, signal: &str) -> OtlpProtocol {
        self.otlp_protocol
            .unwrap_or_else(|| protocol_from_env(&self.vars, signal))
    }

    /// The endpoint set in code, if any (for HTTP, with the signal's `path` appended, as the
    /// OTLP exporter spec says for the general endpoint); else `opentelemetry-otlp` reads it.
    fn endpoint(&self, path: Option<&str>) -> Option<String> {
        let endpoint = self.otlp_endpoint.as_deref()?;
        Some(match path {
            Some(path) => endpoint_for(endpoint, path),
            None => endpoint.to_owned(),
        })
    }
}

fn with_endpoint<B: opentelemetry_otlp::WithExportConfig>(
    builder: B,
    endpoint: Option<String>,
) -> B {
    match endpoint {
        Some(endpoint) => builder.with_endpoint(endpoint),
        None => builder,
    }
}

/// An HTTP signal URL from a base endpoint set in code.
fn endpoint_for(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

/// The protocol the variables ask for, for an endpoint set in code without a protocol
/// (`opentelemetry-otlp` chooses the same way: the signal's variable, the general one, then
/// HTTP/protobuf).
fn protocol_from_env(vars: &Vars, signal: &str) -> OtlpProtocol {
    let value = vars(signal).or_else(|| vars("OTEL_EXPORTER_OTLP_PROTOCOL"));
    match value.as_deref().map(str::trim) {
        Some("grpc") => OtlpProtocol::Grpc,
        _ => OtlpProtocol::HttpProtobuf,
    }
}

/// `OTEL_PROPAGATORS` as this crate's composite propagator. W3C Trace Context is always
/// extracted and injected (the composite is built on it).
fn propagator(env: &Env<'_>) -> Result<Propagator, SetupError> {
    let mut names = env.list(
        "OTEL_PROPAGATORS",
        &[
            "tracecontext",
            "baggage",
            "xcloudtrace",
            "xcloudtrace_oneway",
            "grpctracebin",
            "none",
        ],
        &["tracecontext", "baggage"],
    )?;
    if names.contains(&"xcloudtrace") && names.contains(&"xcloudtrace_oneway") {
        env.reject(
            "OTEL_PROPAGATORS",
            "xcloudtrace,xcloudtrace_oneway",
            "xcloudtrace and xcloudtrace_oneway exclude each other",
            (),
            "xcloudtrace",
        )?;
        names.retain(|n| *n != "xcloudtrace_oneway");
    }
    let has = |n: &str| names.contains(&n);
    let mut propagator = if has("xcloudtrace") {
        Propagator::w3c_and_cloud_trace()
    } else if has("xcloudtrace_oneway") {
        Propagator::cloud_trace_one_way()
    } else {
        Propagator::w3c()
    };
    if has("baggage") {
        propagator = propagator.with_baggage();
    }
    if has("grpctracebin") {
        propagator = propagator.with_grpc_trace_bin();
    }
    Ok(propagator)
}

/// The `rpc` entry of `OTEL_SEMCONV_STABILITY_OPT_IN` (the list may name other domains, which
/// are not ours to judge).
fn rpc_conventions(env: &Env<'_>) -> Result<RpcConventions, SetupError> {
    let Some(value) = env.get("OTEL_SEMCONV_STABILITY_OPT_IN") else {
        return Ok(RpcConventions::Current);
    };
    let mut rpc = RpcConventions::Current;
    for item in value.split(',').map(str::trim) {
        match item {
            "rpc" => rpc = RpcConventions::Current,
            "rpc/dup" => rpc = RpcConventions::Both,
            "rpc/old" => rpc = RpcConventions::Classic,
            other if other.starts_with("rpc") => {
                return env.reject(
                    "OTEL_SEMCONV_STABILITY_OPT_IN",
                    &value,
                    &format!("unknown RPC entry {other:?} (expected rpc, rpc/dup or rpc/old)"),
                    RpcConventions::Current,
                    "the current RPC conventions",
                );
            }
            _ => {}
        }
    }
    Ok(rpc)
}

/// The SDK's resource (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, the SDK's own
/// attributes), with `service_name` when the environment names no service.
/// `OTEL_SERVICE_NAME` from the configured variables wins (so `with_vars` can set it).
fn resource(env: &Env<'_>, service_name: &str) -> Resource {
    if let Some(name) = env.get("OTEL_SERVICE_NAME") {
        return Resource::builder().with_service_name(name).build();
    }
    let resource = Resource::builder().build();
    let named = resource
        .get(&opentelemetry::Key::from_static_str("service.name"))
        .is_some_and(|v| !v.as_str().starts_with("unknown_service"));
    if named {
        resource
    } else {
        Resource::builder()
            .with_service_name(service_name.to_owned())
            .build()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Builds from `vars` only, no exporter that needs a collector; the diagnostics seen.
    fn build(vars: &[(&str, &str)], strict: bool) -> (Result<Telemetry, SetupError>, Vec<String>) {
        let mut map: HashMap<String, String> = HashMap::from([
            ("OTEL_TRACES_EXPORTER".to_owned(), "none".to_owned()),
            ("OTEL_METRICS_EXPORTER".to_owned(), "none".to_owned()),
        ]);
        for (k, v) in vars {
            map.insert((*k).to_owned(), (*v).to_owned());
        }
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let result = Telemetry::builder("in-code")
            .with_vars(move |k| map.get(k).cloned())
            .strict(strict)
            .on_diagnostic(move |m| sink.lock().unwrap().push(m.to_owned()))
            .build();
        let seen = seen.lock().unwrap().clone();
        (result, seen)
    }

    #[rustfmt::skip]
    const BAD: &[(&str, &str)] = &[
        ("OTEL_SDK_DISABLED", "yes"),
        ("OTEL_TRACES_EXPORTER", "zipkin"),
        ("OTEL_METRICS_EXPORTER", "statsd"),
        ("OTEL_PROPAGATORS", "b3"),
        ("OTEL_TRACES_SAMPLER", "sometimes"),
        ("OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION", "sum"),
        ("OTEL_SEMCONV_STABILITY_OPT_IN", "rpc/new"),
    ];

    #[test]
    fn a_bad_value_warns_once_naming_the_variable_and_uses_the_default() {
        for (name, value) in BAD {
            let (result, seen) = build(&[(name, value)], false);
            let telemetry = result.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(seen.len(), 1, "{name}: one warning: {seen:?}");
            assert!(seen[0].contains(name), "{name}: named: {seen:?}");
            assert!(seen[0].contains(value), "{name}: the value shown: {seen:?}");
            // The defaults.
            assert_eq!(telemetry.rpc_conventions(), RpcConventions::Current);
            assert_eq!(
                telemetry.propagator(),
                Propagator::w3c().with_baggage(),
                "{name}"
            );
        }
    }

    #[test]
    fn strict_mode_fails_with_the_variables_name() {
        for (name, value) in BAD {
            let (result, seen) = build(&[(name, value)], true);
            let error = result.err().unwrap_or_else(|| panic!("{name}: accepted"));
            assert_eq!(error.variable(), *name);
            assert!(seen.is_empty(), "{name}: an error, not a warning");
        }
    }

    #[test]
    fn empty_is_unset() {
        for (name, _) in BAD {
            let (result, seen) = build(&[(name, "  ")], true);
            assert!(result.is_ok(), "{name}");
            assert!(seen.is_empty(), "{name}: {seen:?}");
        }
    }

    #[test]
    fn known_values() {
        let (result, seen) = build(
            &[
                (
                    "OTEL_PROPAGATORS",
                    "tracecontext, XCloudTrace_OneWay,grpctracebin",
                ),
                ("OTEL_SEMCONV_STABILITY_OPT_IN", "http,rpc/old"),
                ("OTEL_SERVICE_NAME", "from-env"),
            ],
            true,
        );
        let telemetry = result.unwrap();
        assert!(seen.is_empty(), "{seen:?}");
        assert_eq!(
            telemetry.propagator(),
            Propagator::cloud_trace_one_way().with_grpc_trace_bin()
        );
        assert_eq!(telemetry.rpc_conventions(), RpcConventions::Classic);
        assert_eq!(telemetry.service_name(), "from-env");
    }

    #[test]
    fn an_unknown_list_entry_is_ignored_and_the_rest_kept() {
        let (result, seen) = build(&[("OTEL_PROPAGATORS", "b3,xcloudtrace")], false);
        assert_eq!(
            result.unwrap().propagator(),
            Propagator::w3c_and_cloud_trace()
        );
        assert_eq!(seen.len(), 1, "{seen:?}");
    }

    #[test]
    fn prometheus_when_asked_else_a_404_service() {
        let (result, _) = build(&[("OTEL_METRICS_EXPORTER", "prometheus")], true);
        assert!(result.unwrap().metrics_service().is_enabled());
        let (result, _) = build(&[], true);
        assert!(!result.unwrap().metrics_service().is_enabled());
    }

    #[test]
    fn exponential_histograms_are_refused_next_to_prometheus() {
        let (result, seen) = build(
            &[
                ("OTEL_METRICS_EXPORTER", "prometheus"),
                (
                    "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION",
                    "base2_exponential_bucket_histogram",
                ),
            ],
            false,
        );
        assert!(result.is_ok());
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert!(seen[0].contains("Prometheus"), "{seen:?}");
    }

    #[test]
    fn export_failures_are_reported_first_then_summarized() {
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = Arc::clone(&seen);
        let diagnostics = Diagnostics::to(Arc::new(move |m: &str| {
            sink.lock().unwrap().push(m.to_owned());
        }));
        let report = FailureReport::new(
            "trace export over OTLP".to_owned(),
            Duration::from_millis(50),
            diagnostics,
        );
        let failed = || {
            Err(opentelemetry_sdk::error::OTelSdkError::InternalFailure(
                "down".into(),
            ))
        };
        for _ in 0..5 {
            report.record(&failed());
        }
        assert_eq!(
            seen.lock().unwrap().len(),
            1,
            "the first at once, then quiet"
        );
        std::thread::sleep(Duration::from_millis(60));
        report.record(&failed());
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert!(
            seen[0].contains("failed") && seen[0].contains("down"),
            "{seen:?}"
        );
        assert!(seen[1].contains("5 batches dropped"), "{seen:?}");
    }

    /// The certificate variables (feature `tls`; read when an OTLP exporter is built): a file
    /// that cannot be read or holds no PEM, or half a client identity, gets one warning naming
    /// the variable and the default; strict mode fails with the name; the per-signal variable
    /// wins over the general one.
    #[cfg(feature = "tls")]
    #[test]
    fn certificate_variables_follow_the_rules() {
        let dir = std::env::temp_dir().join(format!("tt-tls-vars-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let garbage = dir.join("garbage.pem");
        std::fs::write(&garbage, "not a certificate").unwrap();
        let garbage = garbage.to_str().unwrap();
        // Both signals over OTLP: a general variable is read for each, and warned about once.
        let otlp = [
            ("OTEL_TRACES_EXPORTER", "otlp"),
            ("OTEL_METRICS_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://127.0.0.1:1"),
        ];
        // (the variables, the one at fault, the reason given)
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
        let cases: &[Case<'_>] = &[
            (
                &[("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem")],
                "OTEL_EXPORTER_OTLP_CERTIFICATE",
                "cannot read it",
            ),
            (
                &[("OTEL_EXPORTER_OTLP_CERTIFICATE", garbage)],
                "OTEL_EXPORTER_OTLP_CERTIFICATE",
                "no PEM certificate",
            ),
            (
                &[
                    // Traces only: the general variable is not read at all.
                    ("OTEL_METRICS_EXPORTER", "none"),
                    ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/general.pem"),
                    ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", garbage),
                ],
                "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
                "no PEM certificate",
            ),
            (
                &[("OTEL_EXPORTER_OTLP_CLIENT_KEY", garbage)],
                "OTEL_EXPORTER_OTLP_CLIENT_KEY",
                "no PEM private key",
            ),
            (
                &[("OTEL_EXPORTER_OTLP_TIMEOUT", "soon")],
                "OTEL_EXPORTER_OTLP_TIMEOUT",
                "expected milliseconds",
            ),
        ];
        for (vars, name, reason) in cases {
            let all: Vec<_> = otlp.iter().chain(vars.iter()).copied().collect();
            let (result, seen) = build(&all, false);
            assert!(result.is_ok(), "{name}: {result:?}");
            assert_eq!(seen.len(), 1, "{name}: one warning: {seen:?}");
            assert!(
                seen[0].starts_with(&format!("{name}=")) && seen[0].contains(reason),
                "{name}: {seen:?}"
            );
            let (result, _) = build(&all, true);
            assert_eq!(result.unwrap_err().variable(), *name, "strict");
        }
        // A CA file whose PEM holds no valid certificate.
        let pem = "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n";
        let bad_ca = dir.join("bad-ca.pem");
        std::fs::write(&bad_ca, pem).unwrap();
        let all: Vec<_> = otlp
            .iter()
            .copied()
            .chain([("OTEL_EXPORTER_OTLP_CERTIFICATE", bad_ca.to_str().unwrap())])
            .collect();
        let (result, seen) = build(&all, false);
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert!(
            seen[0].contains("not a valid X.509 certificate"),
            "{seen:?}"
        );
        // A client certificate and a key that parse but don't make an identity.
        let key = dir.join("key.pem");
        std::fs::write(
            &key,
            "-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let client = dir.join("client-cert.pem");
        std::fs::write(&client, pem).unwrap();
        let all: Vec<_> = otlp
            .iter()
            .copied()
            .chain([
                (
                    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                    client.to_str().unwrap(),
                ),
                ("OTEL_EXPORTER_OTLP_CLIENT_KEY", key.to_str().unwrap()),
            ])
            .collect();
        let (result, seen) = build(&all, false);
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert!(
            seen[0].starts_with("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE=")
                && seen[0].contains("unusable with its key"),
            "{seen:?}"
        );
        // A client certificate without its key.
        let half = dir.join("client.pem");
        std::fs::write(&half, pem).unwrap();
        let all: Vec<_> = otlp
            .iter()
            .copied()
            .chain([(
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                half.to_str().unwrap(),
            )])
            .collect();
        let (result, seen) = build(&all, false);
        assert!(result.is_ok());
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert!(seen[0].contains("needs its key"), "{seen:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
