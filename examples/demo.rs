//! Run with `cargo run --example demo` (add `-- --serve` to keep the services up).
//!
//! A frontend (axum) calls a backend (axum) over HTTP and a greeter (tonic) over gRPC, every
//! service behind `tower-trace` and `tower-metrics`. A short scripted workload runs (successes,
//! a 404, a 500, a slow call, a request carrying Google's `X-Cloud-Trace-Context`, a gRPC
//! error), then each trace is printed as a waterfall with the log lines its requests wrote
//! (each carries the trace id: the trace crate's `tracing` feature), and the RED metrics as a
//! table.
//!
//! Nothing outside the process is needed. The standard `OTEL_*` variables send the same
//! telemetry elsewhere, e.g. to an OpenTelemetry Collector:
//! `OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 cargo run --example demo`.

use examples::demo::{self, DemoTelemetry, Style};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let serve = std::env::args().skip(1).any(|a| a == "--serve");
    let style = Style::detect();
    // Bad OTEL_* values are reported here, by name, before anything starts.
    let telemetry = match DemoTelemetry::from_env() {
        Ok(telemetry) => telemetry,
        Err(e) => {
            eprintln!("demo: telemetry configuration: {e}");
            std::process::exit(2);
        }
    };
    let mut out = std::io::stdout().lock();
    let services = demo::run(&telemetry, &mut out, style).await?;
    let addresses = services.addresses;
    drop(out);
    if serve {
        // Handlers installed before saying we're up: a stop sent right after is not lost.
        let stop = tower_telemetry::shutdown_signal();
        println!();
        println!(
            "Serving until SIGTERM or Ctrl-C; the frontend is listening on http://{}",
            addresses.frontend
        );
        println!("  frontend  http://{}/checkout/42", addresses.frontend);
        println!("  backend   http://{}/inventory/1", addresses.backend);
        println!("  greeter   grpc://{} (test.Echo/Say)", addresses.greeter);
        println!(
            "  metrics   http://{}/metrics (with OTEL_METRICS_EXPORTER=prometheus)",
            addresses.frontend
        );
        println!("            http://{}/metrics", addresses.backend);
        stop.await;
    }
    // Stop accepting, drain in-flight requests (bounded), then flush and shut down the
    // exporters (bounded too).
    let cut = services.shutdown().await;
    if cut > 0 {
        eprintln!("demo: {cut} connections cut at the drain deadline");
    }
    tokio::task::spawn_blocking(move || drop(telemetry)).await?;
    Ok(())
}
