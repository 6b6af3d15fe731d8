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
//! # Export failures
//!
//! The first failure of each exporter is reported at once, then at most one summary a minute
//! ("N batches dropped in the last 60s"): on stderr by default, or wherever
//! [`TelemetryBuilder::on_diagnostic`] sends them (e.g. `|m| tracing::warn!("{m}")`).
//!
//! [OpenTelemetry environment-variable rules]: https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/#parsing-empty-value

mod env;
mod exporters;
mod propagators;
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
use exporters::{AddReader, AddSpanProcessor, Exporters, OtlpSettings};
use report::Diagnostics;

/// The fused server layer [`Telemetry::server_layer`] builds.
pub type ServerLayer = TraceMetricsLayer<ServerObserver<SdkTracer, Propagator>, DefaultRoute, ()>;
/// The fused client layer [`Telemetry::client_layer`] builds.
pub type ClientLayer = TraceMetricsLayer<ClientObserver<SdkTracer, Propagator>, DefaultRoute, ()>;

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
    #[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
    prometheus: MetricsEndpoint,
    service_name: String,
    budget: Duration,
    diagnostics: Diagnostics,
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
        };
        let tracer_provider = exporters.tracer_provider(&traces, self.span_processors)?;
        let (meter_provider, prometheus) =
            exporters.meter_provider(&metrics, exponential, self.readers)?;

        Ok(Telemetry {
            tracer_provider,
            meter_provider,
            propagator,
            rpc,
            prometheus,
            service_name,
            budget: self.budget,
            diagnostics: self.diagnostics.clone(),
            shut_down: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use super::report::FailureReport;
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

    #[cfg(feature = "prometheus")]
    #[test]
    fn prometheus_when_asked_else_a_404_service() {
        let (result, _) = build(&[("OTEL_METRICS_EXPORTER", "prometheus")], true);
        assert!(result.unwrap().metrics_service().is_enabled());
        let (result, _) = build(&[], true);
        assert!(!result.unwrap().metrics_service().is_enabled());
    }

    #[cfg(feature = "prometheus")]
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

    /// The setup reads `OTEL_SEMCONV_STABILITY_OPT_IN` with the trace crate's parser, and the
    /// layers it builds use what that gives.
    #[test]
    fn the_semconv_opt_in_is_read_as_the_trace_crate_reads_it() {
        #[rustfmt::skip]
        let cases = [
            ("rpc/dup,rpc", RpcConventions::Both, "rpc/dup wins over rpc"),
            ("rpc,rpc/old", RpcConventions::Current, "rpc wins over rpc/old"),
            ("RPC/DUP", RpcConventions::Both, "case-insensitive"),
            (" rpc/old ", RpcConventions::Classic, "trimmed"),
            ("http,database", RpcConventions::Current, "no rpc entry: the default"),
            ("http/dup,rpc/old", RpcConventions::Classic, "other categories ignored"),
        ];
        for (value, expected, why) in cases {
            let (result, seen) = build(&[("OTEL_SEMCONV_STABILITY_OPT_IN", value)], true);
            let telemetry = result.unwrap_or_else(|e| panic!("{value:?}: {e}"));
            assert!(seen.is_empty(), "{value:?}: {seen:?}");
            assert_eq!(telemetry.rpc_conventions(), expected, "{value:?}: {why}");
            assert_eq!(
                RpcConventions::from_opt_in(value).unwrap_or_default(),
                expected,
                "{value:?}: the trace crate agrees"
            );
        }
        // An unknown RPC entry next to known ones: one warning, the others still apply.
        let (result, seen) = build(
            &[("OTEL_SEMCONV_STABILITY_OPT_IN", "rpc/new, Rpc/Dup")],
            false,
        );
        assert_eq!(result.unwrap().rpc_conventions(), RpcConventions::Both);
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert!(seen[0].contains("\"rpc/new\""), "{seen:?}");
    }

    /// Records the spans that end.
    #[derive(Debug, Clone, Default)]
    struct Capture(Arc<Mutex<Vec<opentelemetry_sdk::trace::SpanData>>>);

    impl SpanProcessor for Capture {
        fn on_start(&self, _: &mut opentelemetry_sdk::trace::Span, _: &opentelemetry::Context) {}

        fn on_end(&self, span: opentelemetry_sdk::trace::SpanData) {
            self.0.lock().unwrap().push(span);
        }

        fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
            Ok(())
        }

        fn shutdown_with_timeout(&self, _: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
            Ok(())
        }
    }

    /// The layers the setup builds follow the RPC conventions the opt-in selects: the server
    /// and client spans of a gRPC call carry `rpc.system.name` (current), `rpc.system`
    /// (classic), or both.
    #[tokio::test]
    async fn the_built_layers_use_the_selected_rpc_conventions() {
        use axum::body::Body;
        use tower::{Layer as _, ServiceExt as _};

        let grpc = || {
            axum::http::Response::builder()
                .header("content-type", "application/grpc")
                .header("grpc-status", "0")
                .body(Body::empty())
                .unwrap()
        };
        let call = || {
            axum::http::Request::post("http://svc.test/pkg.Greeter/SayHello")
                .header("content-type", "application/grpc")
                .body(Body::empty())
                .unwrap()
        };
        #[rustfmt::skip]
        let cases = [
            ("rpc/dup,rpc", true, true),
            ("rpc,rpc/old", true, false),
            ("RPC/OLD", false, true),
            ("http,database", true, false),
        ];
        for (value, current, classic) in cases {
            let capture = Capture::default();
            let vars: HashMap<&str, &str> = HashMap::from([
                ("OTEL_TRACES_EXPORTER", "none"),
                ("OTEL_METRICS_EXPORTER", "none"),
                ("OTEL_SEMCONV_STABILITY_OPT_IN", value),
            ]);
            let telemetry = Telemetry::builder("rpc")
                .with_vars(move |k| vars.get(k).map(|v| (*v).to_owned()))
                .with_span_processor(capture.clone())
                .strict(true)
                .build()
                .unwrap();
            let server = telemetry.server_layer().layer(tower::service_fn(|_| async {
                Ok::<_, std::convert::Infallible>(grpc())
            }));
            let client = telemetry.client_layer().layer(tower::service_fn(|_| async {
                Ok::<_, std::convert::Infallible>(grpc())
            }));
            let response = server.oneshot(call()).await.unwrap();
            axum::body::to_bytes(Body::new(response.into_body()), usize::MAX)
                .await
                .unwrap();
            let response = client.oneshot(call()).await.unwrap();
            axum::body::to_bytes(Body::new(response.into_body()), usize::MAX)
                .await
                .unwrap();
            let spans = capture.0.lock().unwrap().clone();
            assert_eq!(spans.len(), 2, "{value:?}: a server and a client span");
            for span in spans {
                let has = |key: &str| span.attributes.iter().any(|kv| kv.key.as_str() == key);
                assert_eq!(has("rpc.system.name"), current, "{value:?}: {span:?}");
                assert_eq!(has("rpc.system"), classic, "{value:?}: {span:?}");
            }
        }
    }

    /// The OTLP protocol variables: the signal's wins, case does not matter, `http/json` is
    /// used with the `http-json` feature and otherwise warns, naming the variable and saying
    /// what is used instead.
    #[test]
    fn otlp_protocol_selection() {
        let pick = |vars: &[(&str, &str)], strict: bool| {
            let map: HashMap<String, String> = vars
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            let vars: Vars = Box::new(move |k| map.get(k).cloned());
            let seen = Arc::new(Mutex::new(Vec::<String>::new()));
            let sink = Arc::clone(&seen);
            let diagnostics = Diagnostics::to(Arc::new(move |m: &str| {
                sink.lock().unwrap().push(m.to_owned());
            }));
            let env = Env::new(&vars, strict, &diagnostics);
            let picked = exporters::protocol_from_env(&env, "TRACES");
            let seen = seen.lock().unwrap().clone();
            (picked, seen)
        };
        const GENERAL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
        const TRACES: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
        #[rustfmt::skip]
        let cases: &[(&[(&str, &str)], OtlpProtocol)] = &[
            (&[], OtlpProtocol::HttpProtobuf),
            (&[(GENERAL, "grpc")], OtlpProtocol::Grpc),
            (&[(GENERAL, " GRPC ")], OtlpProtocol::Grpc),
            (&[(GENERAL, "grpc"), (TRACES, "http/protobuf")], OtlpProtocol::HttpProtobuf),
            (&[(GENERAL, "http/protobuf"), (TRACES, "grpc")], OtlpProtocol::Grpc),
            (&[(GENERAL, "grpc"), (TRACES, " ")], OtlpProtocol::Grpc),
        ];
        for (vars, expected) in cases {
            let (picked, seen) = pick(vars, true);
            assert_eq!(picked, Ok(*expected), "{vars:?}");
            assert!(seen.is_empty(), "{vars:?}: {seen:?}");
        }
        for name in [GENERAL, TRACES] {
            let (picked, seen) = pick(&[(name, "HTTP/JSON")], false);
            #[cfg(feature = "http-json")]
            {
                assert_eq!(picked, Ok(OtlpProtocol::HttpJson), "{name}");
                assert!(seen.is_empty(), "{name}: {seen:?}");
            }
            #[cfg(not(feature = "http-json"))]
            {
                assert_eq!(picked, Ok(OtlpProtocol::HttpProtobuf), "{name}");
                assert_eq!(seen.len(), 1, "{name}: {seen:?}");
                assert!(
                    seen[0].starts_with(&format!("{name}=\"HTTP/JSON\" ignored"))
                        && seen[0].contains("`http-json` feature")
                        && seen[0].ends_with("using http/protobuf"),
                    "{name}: {seen:?}"
                );
                let (picked, _) = pick(&[(name, "http/json")], true);
                assert_eq!(picked.unwrap_err().variable(), name, "strict");
            }
        }
    }

    /// `OTEL_TRACES_SAMPLER` is judged by what the SDK chose for it, not by a list of names.
    #[test]
    fn a_sampler_the_sdk_did_not_build_is_reported() {
        use opentelemetry_sdk::trace::Sampler;
        let fallback = format!("{:?}", Sampler::ParentBased(Box::new(Sampler::AlwaysOn)));
        let always_off = format!("{:?}", Sampler::AlwaysOff);
        let judge = |value: &str, chosen: &str, strict: bool| {
            let vars: Vars = Box::new(|_| None);
            let seen = Arc::new(Mutex::new(Vec::<String>::new()));
            let sink = Arc::clone(&seen);
            let diagnostics = Diagnostics::to(Arc::new(move |m: &str| {
                sink.lock().unwrap().push(m.to_owned());
            }));
            let env = Env::new(&vars, strict, &diagnostics);
            let result = env::check_sampler_choice(&env, value, chosen);
            let seen = seen.lock().unwrap().clone();
            (result, seen)
        };
        // (the value, what the SDK chose, whether it is reported)
        #[rustfmt::skip]
        let cases = [
            ("always_off", &always_off, false),
            ("parentbased_always_on", &fallback, false),
            ("", &fallback, false),
            ("sometimes", &fallback, true),
            ("ALWAYS_OFF", &fallback, true),
            ("xray", &fallback, true),
        ];
        for (value, chosen, reported) in cases {
            let (result, seen) = judge(value, chosen, false);
            assert_eq!(result, Ok(()), "{value:?}");
            assert_eq!(seen.len(), usize::from(reported), "{value:?}: {seen:?}");
            if reported {
                assert!(
                    seen[0].starts_with(&format!("OTEL_TRACES_SAMPLER={value:?} ignored")),
                    "{seen:?}"
                );
                let (result, _) = judge(value, chosen, true);
                assert_eq!(result.unwrap_err().variable(), "OTEL_TRACES_SAMPLER");
            }
        }
        // The SDK's own reading of the variable, in a process of its own (a test cannot set
        // this one's environment).
        for (value, reported) in [
            ("sometimes", true),
            ("Always_Off", true),
            ("always_off", false),
        ] {
            let output = std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "setup::tests::sampler_in_a_process", "--ignored"])
                .env("OTEL_TRACES_SAMPLER", value)
                .env("SAMPLER_REPORTED", if reported { "1" } else { "0" })
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(
                output.status.success() && stdout.contains("1 passed"),
                "OTEL_TRACES_SAMPLER={value}: {stdout}"
            );
        }
    }

    /// Run by `a_sampler_the_sdk_did_not_build_is_reported` with `OTEL_TRACES_SAMPLER` set.
    #[test]
    #[ignore = "run in a process of its own, with OTEL_TRACES_SAMPLER set"]
    fn sampler_in_a_process() {
        let value = std::env::var("OTEL_TRACES_SAMPLER").unwrap();
        let reported = std::env::var("SAMPLER_REPORTED").unwrap() == "1";
        let (result, seen) = build(&[], false);
        assert!(result.is_ok());
        assert_eq!(seen.len(), usize::from(reported), "{value}: {seen:?}");
        let (result, _) = build(&[], true);
        assert_eq!(
            result.err().map(|e| e.variable().to_owned()),
            reported.then(|| "OTEL_TRACES_SAMPLER".to_owned()),
            "{value}: strict"
        );
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
