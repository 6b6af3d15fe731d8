//! Prometheus exposition (feature `prometheus`): the OpenTelemetry Prometheus exporter and a
//! Tower service serving what it collects, to mount at `/metrics`.
//!
//! # Formats
//!
//! The service answers in the format the scraper's `Accept` header prefers (RFC 9110 §12.5.1):
//!
//! - **OpenMetrics 1.0 text** ([`OPENMETRICS_CONTENT_TYPE`]) when asked for
//!   (`application/openmetrics-text; version=1.0.0`, as Prometheus asks first): counters as
//!   `_total` samples of a family named without it, `# EOF` last, and **exemplars** on the
//!   duration histograms' `_bucket` lines (see below);
//! - otherwise, the classic text format ([`CONTENT_TYPE`], `text/plain; version=0.0.4`),
//!   byte for byte what the `prometheus` crate's `TextEncoder` writes. A missing, malformed or
//!   unservable `Accept` header gets this one.
//!
//! Both come from one collection of the registry: names, unit suffixes, `otel_scope_*` labels
//! and `target_info` are the same in both.
//!
//! # Exemplars
//!
//! Each duration the metrics layers record (`http.{server,client}.request.duration`,
//! `rpc.{server,client}.call.duration`, the classic `rpc.{server,client}.duration`) in a
//! sampled span offers an exemplar to its bucket (see
//! [`MetricsLayer::with_exemplars`](crate::MetricsLayer::with_exemplars) and
//! [`ExemplarFilter`](crate::ExemplarFilter)); the OpenMetrics output writes, on each
//! `_bucket` line, the latest one whose value is in that bucket:
//!
//! ```text
//! http_server_request_duration_seconds_bucket{…,le="0.25"} 7 # {trace_id="4bf92f3577b34da6a3ce929d0e0e4736",span_id="00f067aa0ba902b7"} 0.132 1765130000.123
//! ```
//!
//! Prometheus stores them with `--enable-feature=exemplar-storage`, and Grafana links them to
//! the trace. The layers keep them in the process, and the service finds every layer's by
//! metric name and label set, whichever meter provider the layer records to.

use std::convert::Infallible;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use opentelemetry_prometheus::PrometheusExporter;
use prometheus::{Encoder, Registry, TextEncoder};
use tower_service::Service;

mod accept;
mod openmetrics;

pub use openmetrics::CONTENT_TYPE as OPENMETRICS_CONTENT_TYPE;

/// The Prometheus text format's content type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Creates the pair: the reader to install in an `SdkMeterProvider` and the service that
/// serves what it collects.
///
/// ```
/// use opentelemetry::metrics::MeterProvider as _;
/// use opentelemetry_sdk::metrics::SdkMeterProvider;
///
/// let (reader, metrics) = tower_telemetry_metrics::prometheus::exporter().expect("registry");
/// let provider = SdkMeterProvider::builder().with_reader(reader).build();
/// let meter = provider.meter("my-service");
/// // axum: Router::new().route_service("/metrics", metrics)
/// # let _ = (meter, metrics);
/// ```
///
/// # Errors
///
/// When the exporter cannot register with its registry (it never does with a new one).
pub fn exporter()
-> Result<(PrometheusExporter, MetricsService), opentelemetry_sdk::error::OTelSdkError> {
    let registry = Registry::new();
    let exporter = opentelemetry_prometheus::exporter()
        .with_registry(registry.clone())
        .build()?;
    Ok((
        exporter,
        MetricsService {
            registry: Some(registry),
        },
    ))
}

/// Serves a Prometheus registry in the text exposition format, for any request (mount it on
/// `GET /metrics`). Cheap to clone.
#[derive(Debug, Clone)]
pub struct MetricsService {
    /// `None`: Prometheus exposition is not configured; requests get 404 saying so.
    registry: Option<Registry>,
}

impl MetricsService {
    /// Serves `registry` (one the OpenTelemetry exporter was built with).
    pub fn new(registry: Registry) -> Self {
        MetricsService {
            registry: Some(registry),
        }
    }

    /// A service answering `404 Not Found` with a message saying Prometheus exposition is
    /// off (e.g. `OTEL_METRICS_EXPORTER` does not include `prometheus`), so a `/metrics`
    /// route can be mounted whatever the configuration.
    pub fn disabled() -> Self {
        MetricsService { registry: None }
    }

    /// Whether this service serves metrics (not [`disabled`](Self::disabled)).
    pub fn is_enabled(&self) -> bool {
        self.registry.is_some()
    }

    /// The classic exposition text, as served (empty when disabled).
    pub fn render(&self) -> Result<Vec<u8>, prometheus::Error> {
        let mut out = Vec::with_capacity(16 * 1024);
        if let Some(registry) = &self.registry {
            TextEncoder::new().encode(&registry.gather(), &mut out)?;
        }
        Ok(out)
    }

    /// The OpenMetrics 1.0 text, with exemplars, as served (only `# EOF` when disabled).
    pub fn render_openmetrics(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        let families = self
            .registry
            .as_ref()
            .map_or_else(Vec::new, Registry::gather);
        openmetrics::encode(&families, &crate::exemplars::index(), &mut out);
        out
    }
}

impl<B> Service<Request<B>> for MetricsService {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        if self.registry.is_none() {
            let mut response = Response::new(Full::new(Bytes::from_static(
                b"Prometheus exposition is off: add `prometheus` to OTEL_METRICS_EXPORTER\n",
            )));
            *response.status_mut() = StatusCode::NOT_FOUND;
            return std::future::ready(Ok(response));
        }
        if accept::prefers_openmetrics(request.headers()) {
            let mut response = Response::new(Full::new(Bytes::from(self.render_openmetrics())));
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static(OPENMETRICS_CONTENT_TYPE),
            );
            return std::future::ready(Ok(response));
        }
        let response = match self.render() {
            Ok(body) => {
                let mut response = Response::new(Full::new(Bytes::from(body)));
                response.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static(CONTENT_TYPE),
                );
                response
            }
            Err(e) => {
                let mut response = Response::new(Full::new(Bytes::from(format!(
                    "encoding metrics failed: {e}\n"
                ))));
                *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                response
            }
        };
        std::future::ready(Ok(response))
    }
}
