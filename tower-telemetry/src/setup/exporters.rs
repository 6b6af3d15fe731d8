//! The exporters `OTEL_TRACES_EXPORTER` and `OTEL_METRICS_EXPORTER` name, and the providers
//! built on them: OTLP (one builder for both signals, over gRPC or HTTP), the console, and
//! Prometheus (feature `prometheus`).
//!
//! `opentelemetry-otlp` reads the [OTLP exporter variables] itself (endpoint, headers, timeout,
//! compression); this module chooses the transport (`…_PROTOCOL`, which it must know before
//! `opentelemetry-otlp` builds anything) and, with `tls`, hands over the TLS configuration.
//!
//! OTLP over HTTP uses `opentelemetry-otlp`'s blocking reqwest client: the SDK's
//! `BatchSpanProcessor` and `PeriodicReader` export on threads of their own, driving the
//! exporter with `futures_executor::block_on`, where an async client finds no Tokio reactor
//! (`opentelemetry-otlp` 0.33's crate docs say the same: "OTLP/HTTP should use the default
//! `reqwest-blocking-client`" with them).
//!
//! [OTLP exporter variables]: https://opentelemetry.io/docs/specs/otel/protocol/exporter/#configuration-options

use std::cell::RefCell;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry_otlp::{
    ExporterBuildError, HttpExporterBuilderSet, MetricExporterBuilder, SpanExporterBuilder,
    TonicExporterBuilderSet, WithExportConfig, WithHttpConfig, WithTonicConfig,
};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{
    Aggregation, Instrument, InstrumentKind, MeterProviderBuilder, PeriodicReader,
    SdkMeterProvider, Stream,
};
use opentelemetry_sdk::trace::{SdkTracerProvider, TracerProviderBuilder};

use super::env::{Env, SetupError};
use super::queue;
use super::report::{Diagnostics, ExportReport, Reported};
#[cfg(feature = "tls")]
use super::tls;
use super::{MetricsEndpoint, OtlpProtocol};

/// Adds a span processor given in code ([`with_span_processor`](super::TelemetryBuilder::with_span_processor)).
pub(super) type AddSpanProcessor =
    Box<dyn FnOnce(TracerProviderBuilder) -> TracerProviderBuilder + Send>;
/// Adds a metric reader given in code ([`with_reader`](super::TelemetryBuilder::with_reader)).
pub(super) type AddReader = Box<dyn FnOnce(MeterProviderBuilder) -> MeterProviderBuilder + Send>;

/// The OTLP settings made in code, which win over the variables.
#[derive(Debug, Clone, Default)]
pub(super) struct OtlpSettings {
    pub(super) endpoint: Option<String>,
    pub(super) protocol: Option<OtlpProtocol>,
}

/// What the providers are built with.
pub(super) struct Exporters<'a> {
    pub(super) env: &'a Env<'a>,
    pub(super) otlp: &'a OtlpSettings,
    pub(super) resource: Resource,
    pub(super) summary_interval: Duration,
    pub(super) diagnostics: &'a Diagnostics,
    /// The reports of the exporters built, for the shutdown's lines.
    pub(super) reports: RefCell<Vec<Arc<ExportReport>>>,
}

impl Exporters<'_> {
    /// The tracer provider: a batch processor per exporter in `names`, then `extra`.
    pub(super) fn tracer_provider(
        &self,
        names: &[&str],
        extra: Vec<AddSpanProcessor>,
    ) -> Result<SdkTracerProvider, SetupError> {
        let mut builder = SdkTracerProvider::builder().with_resource(self.resource.clone());
        for name in names {
            match *name {
                "otlp" => {
                    let exporter = self.otlp::<Traces>()?;
                    let report = self.report("traces", "trace export over OTLP");
                    builder = builder.with_span_processor(queue::batch(
                        Reported {
                            inner: exporter,
                            report: Arc::clone(&report),
                        },
                        report,
                    ));
                }
                "console" => {
                    let report = self.report("traces", "trace export to the console");
                    builder = builder.with_span_processor(queue::batch(
                        Reported {
                            inner: opentelemetry_stdout::SpanExporter::default(),
                            report: Arc::clone(&report),
                        },
                        report,
                    ));
                }
                _ => {}
            }
        }
        Ok(extra
            .into_iter()
            .fold(builder, |builder, add| add(builder))
            .build())
    }

    /// The meter provider: a reader per exporter in `names`, then `extra`; exponential
    /// histograms when `exponential`; and the `/metrics` endpoint.
    pub(super) fn meter_provider(
        &self,
        names: &[&str],
        exponential: bool,
        extra: Vec<AddReader>,
    ) -> Result<(SdkMeterProvider, MetricsEndpoint), SetupError> {
        let mut builder = SdkMeterProvider::builder().with_resource(self.resource.clone());
        if exponential {
            builder = builder.with_view(|instrument: &Instrument| {
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
        #[cfg(feature = "prometheus")]
        let mut endpoint = tower_telemetry_metrics::prometheus::MetricsService::disabled();
        #[cfg(not(feature = "prometheus"))]
        let endpoint = ();
        for name in names {
            match *name {
                "otlp" => {
                    let exporter = self.otlp::<Metrics>()?;
                    let report = self.report("metrics", "metric export over OTLP");
                    builder = builder.with_reader(
                        PeriodicReader::builder(Reported {
                            inner: exporter,
                            report,
                        })
                        .build(),
                    );
                }
                #[cfg(feature = "prometheus")]
                "prometheus" => {
                    let (reader, service) = tower_telemetry_metrics::prometheus::exporter()
                        .map_err(|e| {
                            SetupError::new("OTEL_METRICS_EXPORTER", "prometheus", e.to_string())
                        })?;
                    builder = builder.with_reader(reader);
                    endpoint = service;
                }
                "console" => {
                    let report = self.report("metrics", "metric export to the console");
                    builder = builder.with_reader(
                        PeriodicReader::builder(Reported {
                            inner: opentelemetry_stdout::MetricExporter::default(),
                            report,
                        })
                        .build(),
                    );
                }
                _ => {}
            }
        }
        let provider = extra
            .into_iter()
            .fold(builder, |builder, add| add(builder))
            .build();
        Ok((provider, endpoint))
    }

    /// A report of what the exporter `what` loses, kept for the shutdown's lines.
    fn report(&self, signal: &'static str, what: &str) -> Arc<ExportReport> {
        let report = ExportReport::new(
            signal,
            what.to_owned(),
            self.summary_interval,
            self.diagnostics.clone(),
        );
        self.reports.borrow_mut().push(Arc::clone(&report));
        report
    }

    /// The OTLP exporter of signal `S`: from the environment (`opentelemetry-otlp` reads it),
    /// unless an endpoint or protocol was set in code; with the `tls` feature, with the TLS
    /// configuration of [`tls`] (which `opentelemetry-otlp` does not read).
    fn otlp<S: Signal>(&self) -> Result<S::Exporter, SetupError> {
        let built = match self.protocol(S::NAME)? {
            OtlpProtocol::Grpc => {
                let builder = with_endpoint(S::grpc(), self.endpoint(None));
                #[cfg(feature = "tls")]
                let builder =
                    builder.with_tls_config(tls::OtlpTls::from_env(self.env, S::NAME)?.tonic());
                S::build_grpc(builder)
            }
            http => {
                // Always set: `opentelemetry-otlp` prefers JSON when its `http-json` feature is
                // on anywhere in the build, and protobuf is the spec's default.
                let builder = with_endpoint(S::http(), self.endpoint(Some(S::PATH)))
                    .with_protocol(http.wire());
                #[cfg(feature = "tls")]
                let builder = builder.with_http_client(
                    tls::OtlpTls::from_env(self.env, S::NAME)?
                        .http_client(tls::http_timeout(self.env, S::NAME)?)
                        .map_err(|e| SetupError::new(S::EXPORTER_VARIABLE, "otlp", e))?,
                );
                S::build_http(builder)
            }
        };
        built.map_err(|e| SetupError::new(S::EXPORTER_VARIABLE, "otlp", e.to_string()))
    }

    /// The protocol set in code, else the one `OTEL_EXPORTER_OTLP_{signal}_PROTOCOL` or
    /// `OTEL_EXPORTER_OTLP_PROTOCOL` names (case-insensitive, as `opentelemetry-otlp` reads
    /// them), else HTTP/protobuf, the spec's default.
    fn protocol(&self, signal: &str) -> Result<OtlpProtocol, SetupError> {
        match self.otlp.protocol {
            Some(protocol) => Ok(protocol),
            None => protocol_from_env(self.env, signal),
        }
    }

    /// The endpoint set in code, if any (for HTTP, with the signal's `path` appended, as the
    /// OTLP exporter spec says for the general endpoint); else `opentelemetry-otlp` reads it.
    fn endpoint(&self, path: Option<&str>) -> Option<String> {
        let endpoint = self.otlp.endpoint.as_deref()?;
        Some(match path {
            Some(path) => format!("{}{path}", endpoint.trim_end_matches('/')),
            None => endpoint.to_owned(),
        })
    }
}

/// The OTLP protocol the variables name for `signal` (`TRACES`, `METRICS`): the signal's
/// variable wins over the general one. `http/json` without the `http-json` feature, or a value
/// that names no protocol, gets one warning naming the variable, and HTTP/protobuf.
pub(super) fn protocol_from_env(env: &Env<'_>, signal: &str) -> Result<OtlpProtocol, SetupError> {
    const DEFAULT: OtlpProtocol = OtlpProtocol::HttpProtobuf;
    let name = env.otlp_variable(signal, "PROTOCOL");
    let Some(value) = env.get(&name) else {
        return Ok(DEFAULT);
    };
    let reject = |reason: &str| env.reject(&name, &value, reason, DEFAULT, "http/protobuf");
    match value.to_ascii_lowercase().as_str() {
        "grpc" => Ok(OtlpProtocol::Grpc),
        "http/protobuf" => Ok(OtlpProtocol::HttpProtobuf),
        #[cfg(feature = "http-json")]
        "http/json" => Ok(OtlpProtocol::HttpJson),
        #[cfg(not(feature = "http-json"))]
        "http/json" => reject("OTLP/HTTP with JSON needs tower-telemetry's `http-json` feature"),
        _ => reject("expected grpc, http/protobuf or http/json"),
    }
}

impl OtlpProtocol {
    /// The body encoding of an HTTP protocol, as `opentelemetry-otlp` names it.
    fn wire(self) -> opentelemetry_otlp::Protocol {
        match self {
            #[cfg(feature = "http-json")]
            OtlpProtocol::HttpJson => opentelemetry_otlp::Protocol::HttpJson,
            OtlpProtocol::Grpc | OtlpProtocol::HttpProtobuf => {
                opentelemetry_otlp::Protocol::HttpBinary
            }
        }
    }
}

fn with_endpoint<B: WithExportConfig>(builder: B, endpoint: Option<String>) -> B {
    match endpoint {
        Some(endpoint) => builder.with_endpoint(endpoint),
        None => builder,
    }
}

/// What differs between the OTLP exporters of traces and metrics: their builders and names.
trait Signal {
    /// As in the per-signal variables: `OTEL_EXPORTER_OTLP_{NAME}_PROTOCOL`.
    const NAME: &'static str;
    /// The variable an exporter that fails to build is reported under.
    const EXPORTER_VARIABLE: &'static str;
    /// The path appended to a general HTTP endpoint.
    const PATH: &'static str;
    type Exporter;
    type Grpc: WithExportConfig + WithTonicConfig;
    type Http: WithExportConfig + WithHttpConfig;
    fn grpc() -> Self::Grpc;
    fn http() -> Self::Http;
    fn build_grpc(builder: Self::Grpc) -> Result<Self::Exporter, ExporterBuildError>;
    fn build_http(builder: Self::Http) -> Result<Self::Exporter, ExporterBuildError>;
}

struct Traces;

impl Signal for Traces {
    const NAME: &'static str = "TRACES";
    const EXPORTER_VARIABLE: &'static str = "OTEL_TRACES_EXPORTER";
    const PATH: &'static str = "/v1/traces";
    type Exporter = opentelemetry_otlp::SpanExporter;
    type Grpc = SpanExporterBuilder<TonicExporterBuilderSet>;
    type Http = SpanExporterBuilder<HttpExporterBuilderSet>;

    fn grpc() -> Self::Grpc {
        opentelemetry_otlp::SpanExporter::builder().with_tonic()
    }

    fn http() -> Self::Http {
        opentelemetry_otlp::SpanExporter::builder().with_http()
    }

    fn build_grpc(builder: Self::Grpc) -> Result<Self::Exporter, ExporterBuildError> {
        builder.build()
    }

    fn build_http(builder: Self::Http) -> Result<Self::Exporter, ExporterBuildError> {
        builder.build()
    }
}

struct Metrics;

impl Signal for Metrics {
    const NAME: &'static str = "METRICS";
    const EXPORTER_VARIABLE: &'static str = "OTEL_METRICS_EXPORTER";
    const PATH: &'static str = "/v1/metrics";
    type Exporter = opentelemetry_otlp::MetricExporter;
    type Grpc = MetricExporterBuilder<TonicExporterBuilderSet>;
    type Http = MetricExporterBuilder<HttpExporterBuilderSet>;

    fn grpc() -> Self::Grpc {
        opentelemetry_otlp::MetricExporter::builder().with_tonic()
    }

    fn http() -> Self::Http {
        opentelemetry_otlp::MetricExporter::builder().with_http()
    }

    fn build_grpc(builder: Self::Grpc) -> Result<Self::Exporter, ExporterBuildError> {
        builder.build()
    }

    fn build_http(builder: Self::Http) -> Result<Self::Exporter, ExporterBuildError> {
        builder.build()
    }
}
