//! With a tracer provider installed in the globals, building layers from them warns nothing.

use opentelemetry_sdk::trace::SdkTracerProvider;
use tower_telemetry_trace::__private::empty_globals_warnings;
use tower_telemetry_trace::{ClientTraceLayer, TraceLayer};

#[test]
fn installed_globals_do_not_warn() {
    opentelemetry::global::set_tracer_provider(SdkTracerProvider::builder().build());
    let _server = TraceLayer::server_from_global();
    let _client = ClientTraceLayer::client_from_global();
    assert_eq!(empty_globals_warnings(), 0);
}
