//! Tracer and meter providers from the standard `OTEL_*` environment variables (feature
//! `setup`), so the same program exports to the console, an OpenTelemetry Collector, Jaeger,
//! Tempo, Cloud Trace or Prometheus by configuration alone.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use tower_telemetry_metrics::setup::Telemetry;
//!
//! // Must run inside a Tokio runtime when OTLP over gRPC is configured.
//! let telemetry = Telemetry::from_env("my-service")?; // the name unless OTEL_SERVICE_NAME is set
//! let tracer = telemetry.tracer("my-service");
//! let meter = telemetry.meter("my-service");
//! let propagator = telemetry.propagator();
//! // … build the layers with them …
//! drop(telemetry); // flushes and shuts down (bounded)
//! # Ok(()) }
//! ```
//!
//! | variable | values | default |
//! |---|---|---|
//! | `OTEL_SERVICE_NAME` | the `service.name`; wins over `OTEL_RESOURCE_ATTRIBUTES` and the name given in code | the name given in code |
//! | `OTEL_RESOURCE_ATTRIBUTES` | `key=value,…` (percent-encoded values) | none |
//! | `OTEL_TRACES_EXPORTER` | `otlp`, `console`, `none` (a comma-separated list) | `otlp` |
//! | `OTEL_METRICS_EXPORTER` | `otlp`, `prometheus`, `console`, `none` (a list) | `otlp` |
//! | `OTEL_EXPORTER_OTLP_ENDPOINT` | the collector's base URL; `/v1/traces`, `/v1/metrics` are appended for HTTP | `http://localhost:4317` (gRPC), `http://localhost:4318` (HTTP) |
//! | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` | a signal's full URL | from the above |
//! | `OTEL_EXPORTER_OTLP_PROTOCOL` | `grpc`, `http/protobuf` | `http/protobuf` |
//! | `OTEL_EXPORTER_OTLP_HEADERS` | `key=value,…` | none |
//! | `OTEL_EXPORTER_OTLP_TIMEOUT` | milliseconds | 10000 |
//! | `OTEL_TRACES_SAMPLER` | `always_on`, `always_off`, `traceidratio`, `parentbased_always_on`, `parentbased_always_off`, `parentbased_traceidratio` | `parentbased_always_on` |
//! | `OTEL_TRACES_SAMPLER_ARG` | the ratio, 0 to 1, for the ratio samplers | 1 |
//! | `OTEL_PROPAGATORS` | `tracecontext`, `baggage`, `xcloudtrace` (both ways), `xcloudtrace_oneway` (extract only), `none` | `tracecontext,baggage` |
//! | `OTEL_BSP_SCHEDULE_DELAY` | milliseconds between span batches | 5000 |
//! | `OTEL_METRIC_EXPORT_INTERVAL` | milliseconds between metric exports | 60000 |
//! | `OTEL_SDK_DISABLED` | `true` turns everything off | `false` |
//!
//! A value that cannot be used is a [`SetupError`] naming the variable, never a panic and
//! never a silent fallback. W3C Trace Context is always extracted and injected: the crate's
//! composite propagator is built on it (`OTEL_PROPAGATORS=none` leaves it in place).

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::resource::TelemetryResourceDetector;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracer, SdkTracerProvider, SpanProcessor,
};
use tower_telemetry_trace::propagation::Propagator;

use crate::prometheus::MetricsService;

/// A variable that could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupError {
    variable: String,
    value: String,
    reason: String,
}

impl SetupError {
    fn new(variable: &str, value: &str, reason: impl Into<String>) -> Self {
        SetupError {
            variable: variable.to_owned(),
            value: value.to_owned(),
            reason: reason.into(),
        }
    }

    /// The variable at fault (or the component, for an exporter that failed to build).
    pub fn variable(&self) -> &str {
        &self.variable
    }
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={:?}: {}", self.variable, self.value, self.reason)
    }
}

impl std::error::Error for SetupError {}

/// Where variables are read from.
type Vars = Box<dyn Fn(&str) -> Option<String>>;
/// An extra span processor, added when the provider is built (build time only).
type AddSpanProcessor = Box<
    dyn FnOnce(
        opentelemetry_sdk::trace::TracerProviderBuilder,
    ) -> opentelemetry_sdk::trace::TracerProviderBuilder,
>;
/// An extra metric reader, likewise.
type AddReader = Box<
    dyn FnOnce(
        opentelemetry_sdk::metrics::MeterProviderBuilder,
    ) -> opentelemetry_sdk::metrics::MeterProviderBuilder,
>;

/// How the providers get their configuration: the process environment, or a function (for
/// tests, or configuration from elsewhere).
pub struct TelemetryBuilder {
    service_name: String,
    vars: Vars,
    span_processors: Vec<AddSpanProcessor>,
    readers: Vec<AddReader>,
    shutdown_timeout: Duration,
}

impl fmt::Debug for TelemetryBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelemetryBuilder")
            .field("service_name", &self.service_name)
            .finish_non_exhaustive()
    }
}

/// The providers built from the environment, and the guard that flushes and shuts them down
/// when dropped (or on [`Telemetry::shutdown`]), within a bounded time even when the
/// collector is down.
pub struct Telemetry {
    tracer_provider: SdkTracerProvider,
    meter_provider: SdkMeterProvider,
    propagator: Propagator,
    prometheus: Option<MetricsService>,
    service_name: String,
    shutdown_timeout: Duration,
    shut_down: bool,
}

impl fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Telemetry")
            .field("service_name", &self.service_name)
            .field("propagator", &self.propagator)
            .field("prometheus", &self.prometheus.is_some())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OtlpProtocol {
    Grpc,
    HttpProtobuf,
}

impl Telemetry {
    /// Builds everything from the process environment; `service_name` unless
    /// `OTEL_SERVICE_NAME` says otherwise.
    ///
    /// # Errors
    ///
    /// A [`SetupError`] naming the first variable that cannot be used.
    pub fn from_env(service_name: &str) -> Result<Telemetry, SetupError> {
        Self::builder(service_name).build()
    }

    /// A builder reading the process environment.
    pub fn builder(service_name: &str) -> TelemetryBuilder {
        TelemetryBuilder {
            service_name: service_name.to_owned(),
            vars: Box::new(|name| std::env::var(name).ok()),
            span_processors: Vec::new(),
            readers: Vec::new(),
            shutdown_timeout: Duration::from_secs(5),
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

    /// The propagator `OTEL_PROPAGATORS` describes, for the layers' `with_propagator`.
    pub fn propagator(&self) -> Propagator {
        self.propagator
    }

    /// The Prometheus endpoint, when `OTEL_METRICS_EXPORTER` includes `prometheus`.
    pub fn metrics_service(&self) -> Option<MetricsService> {
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

    /// Installs the providers and the propagator as OpenTelemetry's globals.
    pub fn install_global(&self) {
        opentelemetry::global::set_tracer_provider(self.tracer_provider.clone());
        opentelemetry::global::set_meter_provider(self.meter_provider.clone());
        opentelemetry::global::set_text_map_propagator(self.propagator);
    }

    /// Exports what is buffered now.
    pub fn flush(&self) {
        let _ = self.tracer_provider.force_flush();
        let _ = self.meter_provider.force_flush();
    }

    /// Flushes and shuts down, waiting at most the shutdown timeout (5 s by default).
    pub fn shutdown(mut self) {
        self.shutdown_now();
    }

    fn shutdown_now(&mut self) {
        if std::mem::replace(&mut self.shut_down, true) {
            return;
        }
        let _ = self
            .tracer_provider
            .shutdown_with_timeout(self.shutdown_timeout);
        let _ = self
            .meter_provider
            .shutdown_with_timeout(self.shutdown_timeout);
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        self.shutdown_now();
    }
}

impl TelemetryBuilder {
    /// Reads variables from `vars` instead of the process environment.
    pub fn with_vars(mut self, vars: impl Fn(&str) -> Option<String> + 'static) -> Self {
        self.vars = Box::new(vars);
        self
    }

    /// Adds a span processor besides the configured exporters (the demo keeps its spans in
    /// memory to print them).
    pub fn with_span_processor<P: SpanProcessor + 'static>(mut self, processor: P) -> Self {
        self.span_processors
            .push(Box::new(move |b| b.with_span_processor(processor)));
        self
    }

    /// Adds a metric reader besides the configured exporters.
    pub fn with_reader<R: opentelemetry_sdk::metrics::reader::MetricReader>(
        mut self,
        reader: R,
    ) -> Self {
        self.readers.push(Box::new(move |b| b.with_reader(reader)));
        self
    }

    /// How long shutting down may take (5 s by default).
    pub fn with_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    fn var(&self, name: &str) -> Option<String> {
        (self.vars)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn millis(&self, name: &str) -> Result<Option<Duration>, SetupError> {
        self.var(name)
            .map(|v| {
                v.parse::<u64>().map(Duration::from_millis).map_err(|_| {
                    SetupError::new(name, &v, "expected a whole number of milliseconds")
                })
            })
            .transpose()
    }

    fn list(&self, name: &str, default: &str, allowed: &[&str]) -> Result<Vec<String>, SetupError> {
        let value = self.var(name).unwrap_or_else(|| default.to_owned());
        let items: Vec<String> = value
            .split(',')
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect();
        for item in &items {
            if !allowed.contains(&item.as_str()) {
                return Err(SetupError::new(
                    name,
                    &value,
                    format!("unknown value {item:?}; expected {}", allowed.join(", ")),
                ));
            }
        }
        Ok(items)
    }

    fn pairs(&self, name: &str) -> Result<Vec<(String, String)>, SetupError> {
        let Some(value) = self.var(name) else {
            return Ok(Vec::new());
        };
        value
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(|pair| match pair.split_once('=') {
                Some((k, v)) if !k.trim().is_empty() => {
                    Ok((k.trim().to_owned(), percent_decode(v.trim())))
                }
                _ => Err(SetupError::new(
                    name,
                    &value,
                    format!("{pair:?} is not key=value"),
                )),
            })
            .collect()
    }

    fn sampler(&self) -> Result<Sampler, SetupError> {
        let Some(name) = self.var("OTEL_TRACES_SAMPLER") else {
            return Ok(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)));
        };
        let ratio = || -> Result<f64, SetupError> {
            match self.var("OTEL_TRACES_SAMPLER_ARG") {
                None => Ok(1.0),
                Some(arg) => match arg.parse::<f64>() {
                    Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
                    _ => Err(SetupError::new(
                        "OTEL_TRACES_SAMPLER_ARG",
                        &arg,
                        "expected a ratio between 0 and 1",
                    )),
                },
            }
        };
        Ok(match name.to_ascii_lowercase().as_str() {
            "always_on" => Sampler::AlwaysOn,
            "always_off" => Sampler::AlwaysOff,
            "traceidratio" => Sampler::TraceIdRatioBased(ratio()?),
            "parentbased_always_on" => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
            "parentbased_always_off" => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
            "parentbased_traceidratio" => {
                Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio()?)))
            }
            _ => {
                return Err(SetupError::new(
                    "OTEL_TRACES_SAMPLER",
                    &name,
                    "expected always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio",
                ));
            }
        })
    }

    fn propagator(&self) -> Result<Propagator, SetupError> {
        let names = self.list(
            "OTEL_PROPAGATORS",
            "tracecontext,baggage",
            &[
                "tracecontext",
                "baggage",
                "xcloudtrace",
                "xcloudtrace_oneway",
                "none",
            ],
        )?;
        let has = |n: &str| names.iter().any(|x| x == n);
        if has("xcloudtrace") && has("xcloudtrace_oneway") {
            return Err(SetupError::new(
                "OTEL_PROPAGATORS",
                &names.join(","),
                "xcloudtrace and xcloudtrace_oneway exclude each other",
            ));
        }
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
        Ok(propagator)
    }

    fn protocol(&self) -> Result<OtlpProtocol, SetupError> {
        match self.var("OTEL_EXPORTER_OTLP_PROTOCOL").as_deref() {
            None | Some("http/protobuf") => Ok(OtlpProtocol::HttpProtobuf),
            Some("grpc") => Ok(OtlpProtocol::Grpc),
            Some(other) => Err(SetupError::new(
                "OTEL_EXPORTER_OTLP_PROTOCOL",
                other,
                "expected grpc or http/protobuf",
            )),
        }
    }

    /// The endpoint of one signal: its own variable as is, else the base with the signal path
    /// (HTTP) or the base (gRPC), else the protocol's default.
    fn endpoint(
        &self,
        protocol: OtlpProtocol,
        signal_var: &str,
        path: &str,
    ) -> Result<String, SetupError> {
        let check = |var: &str, url: String| -> Result<String, SetupError> {
            url.parse::<http::Uri>()
                .ok()
                .filter(|u| u.scheme().is_some() && u.host().is_some())
                .map(|_| url.clone())
                .ok_or_else(|| {
                    SetupError::new(var, &url, "expected an absolute http:// or https:// URL")
                })
        };
        if let Some(url) = self.var(signal_var) {
            return check(signal_var, url);
        }
        let base = match self.var("OTEL_EXPORTER_OTLP_ENDPOINT") {
            Some(base) => check("OTEL_EXPORTER_OTLP_ENDPOINT", base)?,
            None => match protocol {
                OtlpProtocol::Grpc => "http://localhost:4317".to_owned(),
                OtlpProtocol::HttpProtobuf => "http://localhost:4318".to_owned(),
            },
        };
        Ok(match protocol {
            OtlpProtocol::Grpc => base,
            OtlpProtocol::HttpProtobuf => format!("{}{path}", base.trim_end_matches('/')),
        })
    }

    fn resource(&self) -> Result<(Resource, String), SetupError> {
        let attributes = self.pairs("OTEL_RESOURCE_ATTRIBUTES")?;
        let from_attributes = attributes
            .iter()
            .find(|(k, _)| k == "service.name")
            .map(|(_, v)| v.clone());
        let service_name = self
            .var("OTEL_SERVICE_NAME")
            .or(from_attributes)
            .unwrap_or_else(|| self.service_name.clone());
        let resource = Resource::builder_empty()
            .with_detector(Box::new(TelemetryResourceDetector))
            .with_attributes(attributes.into_iter().map(|(k, v)| KeyValue::new(k, v)))
            .with_service_name(service_name.clone())
            .build();
        Ok((resource, service_name))
    }

    /// Builds the providers.
    ///
    /// # Errors
    ///
    /// A [`SetupError`] naming the first variable that cannot be used, or the exporter that
    /// failed to build.
    pub fn build(mut self) -> Result<Telemetry, SetupError> {
        let disabled = match self
            .var("OTEL_SDK_DISABLED")
            .map(|v| v.to_ascii_lowercase())
        {
            None => false,
            Some(v) if v == "true" => true,
            Some(v) if v == "false" => false,
            Some(v) => {
                return Err(SetupError::new(
                    "OTEL_SDK_DISABLED",
                    &v,
                    "expected true or false",
                ));
            }
        };
        let (resource, service_name) = self.resource()?;
        let propagator = self.propagator()?;
        let sampler = self.sampler()?;
        let traces = if disabled {
            Vec::new()
        } else {
            self.list("OTEL_TRACES_EXPORTER", "otlp", &["otlp", "console", "none"])?
        };
        let metrics = if disabled {
            Vec::new()
        } else {
            self.list(
                "OTEL_METRICS_EXPORTER",
                "otlp",
                &["otlp", "prometheus", "console", "none"],
            )?
        };
        let needs_otlp = traces.iter().chain(&metrics).any(|e| e == "otlp");
        let protocol = if needs_otlp {
            self.protocol()?
        } else {
            OtlpProtocol::HttpProtobuf
        };
        let headers: HashMap<String, String> = self
            .pairs("OTEL_EXPORTER_OTLP_HEADERS")?
            .into_iter()
            .collect();
        let timeout = self.millis("OTEL_EXPORTER_OTLP_TIMEOUT")?;
        let batch_delay = self.millis("OTEL_BSP_SCHEDULE_DELAY")?;
        let metric_interval = self.millis("OTEL_METRIC_EXPORT_INTERVAL")?;

        // Traces.
        let mut tracer_builder = SdkTracerProvider::builder()
            .with_resource(resource.clone())
            .with_sampler(sampler);
        let batch_config = || {
            let mut config = BatchConfigBuilder::default();
            if let Some(delay) = batch_delay {
                config = config.with_scheduled_delay(delay);
            }
            config.build()
        };
        for exporter in &traces {
            match exporter.as_str() {
                "otlp" => {
                    let endpoint = self.endpoint(
                        protocol,
                        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                        "/v1/traces",
                    )?;
                    let otlp = OtlpSettings {
                        endpoint,
                        timeout,
                        headers: &headers,
                    };
                    let built = match protocol {
                        OtlpProtocol::Grpc => otlp
                            .tonic(opentelemetry_otlp::SpanExporter::builder().with_tonic())
                            .build(),
                        OtlpProtocol::HttpProtobuf => otlp
                            .http(opentelemetry_otlp::SpanExporter::builder().with_http())
                            .build(),
                    };
                    let exporter = built.map_err(|e| {
                        SetupError::new("OTEL_TRACES_EXPORTER", "otlp", e.to_string())
                    })?;
                    tracer_builder = tracer_builder.with_span_processor(
                        BatchSpanProcessor::builder(exporter)
                            .with_batch_config(batch_config())
                            .build(),
                    );
                }
                "console" => {
                    tracer_builder = tracer_builder.with_span_processor(
                        BatchSpanProcessor::builder(opentelemetry_stdout::SpanExporter::default())
                            .with_batch_config(batch_config())
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
        let mut prometheus = None;
        for exporter in &metrics {
            match exporter.as_str() {
                "otlp" => {
                    let endpoint = self.endpoint(
                        protocol,
                        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                        "/v1/metrics",
                    )?;
                    let otlp = OtlpSettings {
                        endpoint,
                        timeout,
                        headers: &headers,
                    };
                    let built = match protocol {
                        OtlpProtocol::Grpc => otlp
                            .tonic(opentelemetry_otlp::MetricExporter::builder().with_tonic())
                            .build(),
                        OtlpProtocol::HttpProtobuf => otlp
                            .http(opentelemetry_otlp::MetricExporter::builder().with_http())
                            .build(),
                    };
                    let exporter = built.map_err(|e| {
                        SetupError::new("OTEL_METRICS_EXPORTER", "otlp", e.to_string())
                    })?;
                    let mut reader = PeriodicReader::builder(exporter);
                    if let Some(interval) = metric_interval {
                        reader = reader.with_interval(interval);
                    }
                    meter_builder = meter_builder.with_reader(reader.build());
                }
                "prometheus" => {
                    let (reader, service) = crate::prometheus::exporter().map_err(|e| {
                        SetupError::new("OTEL_METRICS_EXPORTER", "prometheus", e.to_string())
                    })?;
                    meter_builder = meter_builder.with_reader(reader);
                    prometheus = Some(service);
                }
                "console" => {
                    let mut reader =
                        PeriodicReader::builder(opentelemetry_stdout::MetricExporter::default());
                    if let Some(interval) = metric_interval {
                        reader = reader.with_interval(interval);
                    }
                    meter_builder = meter_builder.with_reader(reader.build());
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
            prometheus,
            service_name,
            shutdown_timeout: self.shutdown_timeout,
            shut_down: false,
        })
    }
}

/// What every OTLP exporter gets, whatever the signal.
struct OtlpSettings<'a> {
    endpoint: String,
    timeout: Option<Duration>,
    headers: &'a HashMap<String, String>,
}

impl OtlpSettings<'_> {
    fn tonic<B: WithExportConfig + WithTonicConfig>(self, builder: B) -> B {
        let builder = builder.with_endpoint(self.endpoint);
        let builder = match self.timeout {
            Some(t) => builder.with_timeout(t),
            None => builder,
        };
        builder.with_metadata(metadata(self.headers))
    }

    fn http<B: WithExportConfig + WithHttpConfig>(self, builder: B) -> B {
        let builder = builder
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(self.endpoint);
        let builder = match self.timeout {
            Some(t) => builder.with_timeout(t),
            None => builder,
        };
        builder.with_headers(self.headers.clone())
    }
}

fn metadata(headers: &HashMap<String, String>) -> tonic::metadata::MetadataMap {
    let mut map = http::HeaderMap::new();
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (
            http::HeaderName::from_bytes(k.as_bytes()),
            http::HeaderValue::from_str(v),
        ) {
            map.insert(k, v);
        }
    }
    tonic::metadata::MetadataMap::from_headers(map)
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).and_then(|b| hex(*b)),
            bytes.get(i + 2).and_then(|b| hex(*b)),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(vars: &[(&str, &str)]) -> Result<Telemetry, SetupError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Telemetry::builder("from-code")
            .with_vars(move |k| vars.get(k).cloned())
            .build()
    }

    #[test]
    fn bad_values_name_the_variable() {
        #[rustfmt::skip]
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("OTEL_TRACES_SAMPLER", "sometimes")], "OTEL_TRACES_SAMPLER"),
            (&[("OTEL_TRACES_SAMPLER", "traceidratio"), ("OTEL_TRACES_SAMPLER_ARG", "1.5")], "OTEL_TRACES_SAMPLER_ARG"),
            (&[("OTEL_TRACES_EXPORTER", "zipkin")], "OTEL_TRACES_EXPORTER"),
            (&[("OTEL_METRICS_EXPORTER", "statsd")], "OTEL_METRICS_EXPORTER"),
            (&[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")], "OTEL_EXPORTER_OTLP_PROTOCOL"),
            (&[("OTEL_EXPORTER_OTLP_ENDPOINT", "not a url")], "OTEL_EXPORTER_OTLP_ENDPOINT"),
            (&[("OTEL_PROPAGATORS", "b3")], "OTEL_PROPAGATORS"),
            (&[("OTEL_BSP_SCHEDULE_DELAY", "soon")], "OTEL_BSP_SCHEDULE_DELAY"),
            (&[("OTEL_RESOURCE_ATTRIBUTES", "novalue")], "OTEL_RESOURCE_ATTRIBUTES"),
            (&[("OTEL_SDK_DISABLED", "maybe")], "OTEL_SDK_DISABLED"),
        ];
        for (vars, variable) in cases {
            let err = build(vars).expect_err(variable);
            assert_eq!(err.variable(), *variable, "{err}");
            assert!(err.to_string().starts_with(variable), "{err}");
        }
    }

    #[test]
    fn service_name_precedence() {
        let none = [
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "none"),
        ];
        assert_eq!(build(&none).unwrap().service_name(), "from-code");
        let attrs = [
            none[0],
            none[1],
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.name=from%20attrs,deployment.environment=dev",
            ),
        ];
        assert_eq!(build(&attrs).unwrap().service_name(), "from attrs");
        let both = [
            attrs[0],
            attrs[1],
            attrs[2],
            ("OTEL_SERVICE_NAME", "from-env"),
        ];
        assert_eq!(
            build(&both).unwrap().service_name(),
            "from-env",
            "code never overrides OTEL_SERVICE_NAME"
        );
    }

    #[test]
    fn propagators() {
        let base = [
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "none"),
        ];
        let with = |p: &'static str| {
            let mut v = base.to_vec();
            v.push(("OTEL_PROPAGATORS", p));
            build(&v).unwrap().propagator()
        };
        assert_eq!(with("tracecontext"), Propagator::w3c());
        assert_eq!(
            with("tracecontext,baggage"),
            Propagator::w3c().with_baggage()
        );
        assert_eq!(
            with("tracecontext,xcloudtrace"),
            Propagator::w3c_and_cloud_trace()
        );
        assert_eq!(
            with("xcloudtrace_oneway, tracecontext"),
            Propagator::cloud_trace_one_way()
        );
        assert_eq!(
            build(&base).unwrap().propagator(),
            Propagator::w3c().with_baggage(),
            "default"
        );
    }

    #[test]
    fn prometheus_exporter_from_env() {
        let t = build(&[
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "prometheus"),
        ])
        .unwrap();
        assert!(t.metrics_service().is_some());
    }
}
