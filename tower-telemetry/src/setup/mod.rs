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
//! and the per-signal `…_TRACES_…`/`…_METRICS_…` variants, `…_HEADERS`, `…_TIMEOUT`,
//! `…_COMPRESSION` (`gzip` with the `gzip` feature), `…_METRICS_TEMPORALITY_PREFERENCE`,
//! `OTEL_TRACES_SAMPLER` and `…_ARG`, `OTEL_BSP_*`, `OTEL_METRIC_EXPORT_INTERVAL`/`_TIMEOUT`,
//! `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_SERVICE_NAME`, `OTEL_SPAN_*_COUNT_LIMIT`. `https://`
//! endpoints need the `tls` feature.
//!
//! This setup reads only what the SDK lacks:
//!
//! | variable | values | default |
//! |---|---|---|
//! | `OTEL_SDK_DISABLED` | `true`: no exporters, layers still propagate context | `false` |
//! | `OTEL_TRACES_EXPORTER` | `otlp`, `console`, `none` (a list) | `otlp` |
//! | `OTEL_METRICS_EXPORTER` | `otlp`, `prometheus` (feature `prometheus`), `console`, `none` (a list) | `otlp` |
//! | `OTEL_EXPORTER_OTLP_PROTOCOL` (and `…_TRACES_…`, `…_METRICS_…`) | `grpc`, `http/protobuf`, `http/json` (feature `http-json`; without it, a warning and protobuf) | `http/protobuf` |
//! | `OTEL_PROPAGATORS` | `tracecontext`, `baggage`, `xcloudtrace` (both ways), `xcloudtrace_oneway` (extract only), `grpctracebin` (OpenCensus `grpc-trace-bin`, extract only), `none` | `tracecontext,baggage` |
//! | `OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION` | `explicit_bucket_histogram`, `base2_exponential_bucket_histogram` | explicit |
//! | `OTEL_METRICS_EXEMPLAR_FILTER` | `trace_based` (durations of sampled requests), `always_on`, `always_off`: which durations keep an exemplar for the Prometheus OpenMetrics output (the SDK 0.33 collects none itself) | `trace_based` |
//! | `OTEL_SEMCONV_STABILITY_OPT_IN` | a list; its `rpc` entries, read by [`RpcConventions::from_opt_in`]: `rpc` (current RPC conventions), `rpc/dup` (both; wins), `rpc/old` (classic) | current |
//! | `OTEL_EXPORTER_OTLP_CERTIFICATE` (and `…_TRACES_…`, `…_METRICS_…`) | with `tls`: a PEM file of CA certificates trusted besides the public (webpki) roots | public roots |
//! | `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`, `OTEL_EXPORTER_OTLP_CLIENT_KEY` (and per signal) | with `tls`: PEM files of the client certificate chain and its key (mutual TLS) | none |
//!
//! The transport must be known before `opentelemetry-otlp` builds an exporter, so the setup
//! reads the protocol variables (as `opentelemetry-otlp` does: the signal's, then the general
//! one, case-insensitive) and passes the protocol on. With `tls`, the setup gives both
//! transports their TLS configuration itself (rustls with ring, chosen explicitly: no
//! process-wide crypto provider is needed or installed), since `opentelemetry-otlp` 0.33 reads
//! none of the certificate variables; building the HTTP client itself, it also applies
//! `OTEL_EXPORTER_OTLP_TIMEOUT` (and `…_TRACES_…`/`…_METRICS_…`) to it, as
//! `opentelemetry-otlp` does to the client it builds. OTLP over HTTP uses a blocking client:
//! the SDK's batch span processor and periodic reader export from threads of their own.
//!
//! `OTEL_TRACES_SAMPLER` stays the SDK's: the setup only reports a name the SDK did not build
//! (the SDK's own warning is compiled out of a default build), asking the SDK rather than
//! keeping a copy of its list.
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
//! At the end, one line per exporter says how it went: `trace export over OTLP: flushed`,
//! `…: failed: <reason>` (the last export or the exporter's shutdown failed), or `…: timed
//! out after 5 s: what it still held is lost`, with what was lost since the last summary.
//! Nothing is reported after it (an export the timeout left running fails as the process
//! stops; that is the timeout already reported).
//!
//! # What is lost, reported
//!
//! Each exporter reports its first failed export at once, and the first span its full queue
//! drops (the batch processor's queue, `OTEL_BSP_MAX_QUEUE_SIZE`: a collector slower than the
//! traffic), then at most one summary a minute of both ("trace export over OTLP: 12,345 spans
//! dropped (queue full), 3 batches dropped (export failed) in the last 60 s (last error: …)"):
//! on stderr by default, or wherever [`TelemetryBuilder::on_diagnostic`] sends them (e.g.
//! `|m| tracing::warn!("{m}")`). Every span ended is either handed to the exporter or counted.
//!
//! [OpenTelemetry environment-variable rules]: https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/#parsing-empty-value

mod env;
mod exporters;
mod propagators;
mod queue;
mod report;
mod shutdown;
#[cfg(feature = "tls")]
mod tls;

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, SpanProcessor};
use tower_telemetry_metrics::{ExemplarFilter, MetricsLayer, WithMetrics};
use tower_telemetry_propagation::Propagator;
use tower_telemetry_trace::{ClientTraceLayer, RpcConventions, TraceLayer};

pub use crate::signal::shutdown_signal;
pub use env::SetupError;
pub use shutdown::DEFAULT_SHUTDOWN_BUDGET;

use env::{Env, Vars};
use exporters::{AddReader, AddSpanProcessor, Exporters, OtlpSettings};
use report::{Diagnostics, ExportReport};

pub use crate::{ClientLayer, ServerLayer};

/// The `/metrics` endpoint (feature `prometheus`).
#[cfg(feature = "prometheus")]
type MetricsEndpoint = tower_telemetry_metrics::prometheus::MetricsService;
/// Without the `prometheus` feature, there is none.
#[cfg(not(feature = "prometheus"))]
type MetricsEndpoint = ();

/// Which OTLP transport to use when set in code (it wins over `OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OtlpProtocol {
    /// OTLP/gRPC.
    Grpc,
    /// OTLP over HTTP with protobuf bodies.
    HttpProtobuf,
    /// OTLP over HTTP with JSON bodies (feature `http-json`).
    #[cfg(feature = "http-json")]
    #[cfg_attr(docsrs, doc(cfg(feature = "http-json")))]
    HttpJson,
}

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
    otlp: OtlpSettings,
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
/// propagator, RPC conventions) and, with `prometheus`, a `/metrics` service. Shut it down
/// with [`shutdown`](Self::shutdown); dropping it shuts down too (see the [module docs](self)).
pub struct Telemetry {
    tracer_provider: SdkTracerProvider,
    meter_provider: SdkMeterProvider,
    propagator: Propagator,
    rpc: RpcConventions,
    exemplars: ExemplarFilter,
    #[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
    prometheus: MetricsEndpoint,
    service_name: String,
    budget: Duration,
    diagnostics: Diagnostics,
    /// What each exporter lost, for its line at shutdown.
    reports: Vec<Arc<ExportReport>>,
    shut_down: bool,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut f = f.debug_struct("Telemetry");
        f.field("service_name", &self.service_name)
            .field("propagator", &self.propagator)
            .field("rpc", &self.rpc);
        #[cfg(feature = "prometheus")]
        f.field("prometheus", &self.prometheus.is_enabled());
        f.finish_non_exhaustive()
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
            otlp: OtlpSettings::default(),
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

    /// The exemplar filter `OTEL_METRICS_EXEMPLAR_FILTER` selects, which the built layers use
    /// (set it on layers of your own with `MetricsLayer::with_exemplars`).
    pub fn exemplar_filter(&self) -> ExemplarFilter {
        self.exemplars
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
        self.trace_layer().with_metrics_layer(
            MetricsLayer::server(&self.meter("tower-telemetry")).with_exemplars(self.exemplars),
        )
    }

    /// Client spans and RED metrics, fused, configured from the environment, for a hyper
    /// client, a tonic `Channel`, or reqwest (through `TraceMiddleware::from_layer`).
    pub fn client_layer(&self) -> ClientLayer {
        ClientTraceLayer::client(self.tracer("tower-telemetry"))
            .with_propagator(self.propagator)
            .with_rpc_conventions(self.rpc)
            .with_metrics_layer(
                MetricsLayer::client(&self.meter("tower-telemetry")).with_exemplars(self.exemplars),
            )
    }

    /// The `/metrics` endpoint (feature `prometheus`): the Prometheus text format when
    /// `OTEL_METRICS_EXPORTER` includes `prometheus`, else `404` saying how to turn it on.
    #[cfg(feature = "prometheus")]
    #[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
    pub fn metrics_service(&self) -> tower_telemetry_metrics::prometheus::MetricsService {
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
        self.otlp.endpoint = Some(endpoint.into());
        self
    }

    /// The OTLP transport, set in code: it wins over `OTEL_EXPORTER_OTLP_*PROTOCOL`.
    pub fn with_otlp_protocol(mut self, protocol: OtlpProtocol) -> Self {
        self.otlp.protocol = Some(protocol);
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
    pub fn build(self) -> Result<Telemetry, SetupError> {
        let env = Env::new(&self.vars, self.strict, &self.diagnostics);
        let disabled = env.bool("OTEL_SDK_DISABLED", false)?;
        let propagator = propagators::from_env(&env)?;
        let rpc = env::rpc_conventions(&env)?;
        let exemplars = env::exemplar_filter(&env)?;
        env::check_sampler(&env)?;
        let traces = env::trace_exporters(&env, disabled)?;
        let metrics = env::metric_exporters(&env, disabled)?;
        let exponential = env::exponential_histograms(&env, &metrics)?;
        let resource = env::resource(&env, &self.service_name);
        let service_name = resource
            .get(&opentelemetry::Key::from_static_str("service.name"))
            .map_or_else(|| self.service_name.clone(), |v| v.to_string());

        let exporters = Exporters {
            env: &env,
            otlp: &self.otlp,
            resource,
            summary_interval: self.summary_interval,
            diagnostics: &self.diagnostics,
            reports: std::cell::RefCell::default(),
        };
        let tracer_provider = exporters.tracer_provider(&traces, self.span_processors)?;
        let (meter_provider, prometheus) =
            exporters.meter_provider(&metrics, exponential, self.readers)?;

        Ok(Telemetry {
            tracer_provider,
            meter_provider,
            propagator,
            rpc,
            exemplars,
            prometheus,
            service_name,
            budget: self.budget,
            diagnostics: self.diagnostics.clone(),
            reports: exporters.reports.into_inner(),
            shut_down: false,
        })
    }
}

#[cfg(test)]
mod tests;
