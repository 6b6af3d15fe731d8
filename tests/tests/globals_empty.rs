//! A layer built from OpenTelemetry's globals with no provider there warns once per process
//! (the two-versions trap: a provider installed through another `opentelemetry` version).

use tower_telemetry_trace::__private::empty_globals_warnings;
use tower_telemetry_trace::{ClientTraceLayer, TraceLayer};

#[test]
fn empty_globals_warn_once() {
    assert_eq!(empty_globals_warnings(), 0);
    let _server = TraceLayer::server_from_global();
    assert_eq!(empty_globals_warnings(), 1, "warned");
    let _again = TraceLayer::server_from_global();
    let _client = ClientTraceLayer::client_from_global();
    assert_eq!(empty_globals_warnings(), 1, "once per process");
}
