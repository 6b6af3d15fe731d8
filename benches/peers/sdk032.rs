//! axum-otel-metrics' meter provider: that crate is built on SDK 0.32, so it gets a provider of
//! its own, configured as the harness's (aggregation on every recording, a reader that never
//! collects during a run).

use std::time::Duration;

use opentelemetry_sdk_032::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};

pub fn meter_provider() -> SdkMeterProvider {
    let reader = PeriodicReader::builder(InMemoryMetricExporter::default()).with_interval(Duration::from_secs(3600)).build();
    SdkMeterProvider::builder().with_reader(reader).build()
}
