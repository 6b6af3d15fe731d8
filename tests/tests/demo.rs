//! `cargo run --example demo` runs this: three services, the workload, the waterfalls and the
//! RED table. Checked here on its plain (no colour) output.

use examples::demo::{DemoTelemetry, Style, WORKLOAD, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_prints_waterfalls_and_the_red_table() {
    let telemetry = DemoTelemetry::from_env().expect("no OTEL_* variables in the test environment");
    let mut out = Vec::new();
    run(&telemetry, &mut out, Style::plain()).await.unwrap();
    let text = String::from_utf8(out).unwrap();

    assert!(!text.contains('\x1b'), "no colour when not a terminal");
    for line in text.lines() {
        assert!(
            line.chars().count() <= 80,
            "fits 80 columns: {line:?} ({})",
            line.chars().count()
        );
    }
    assert_eq!(
        text.matches("\n  [").count(),
        WORKLOAD.len(),
        "a progress line per step:\n{text}"
    );
    assert!(
        text.contains(&format!("Traces ({})", WORKLOAD.len())),
        "one trace per request:\n{text}"
    );
    // The checkout's tree: frontend → backend over HTTP, frontend → greeter over gRPC.
    let checkout = text
        .split("trace ")
        .find(|t| t.contains("GET /checkout/{id}"))
        .unwrap();
    let rows: Vec<&str> = checkout.lines().skip(1).map(str::trim_start).collect();
    assert!(
        rows[0].starts_with("frontend server GET /checkout/{id}"),
        "{checkout}"
    );
    assert!(
        rows.iter()
            .any(|r| r.starts_with("backend  server     GET /inventory/{id}")),
        "{checkout}"
    );
    assert!(
        rows.iter()
            .any(|r| r.starts_with("greeter  server     test.Echo/Say")),
        "{checkout}"
    );
    // Its log lines, from every service it went through, under its waterfall.
    let logs: Vec<&str> = checkout
        .split("logs, each with trace_id=")
        .nth(1)
        .expect("the checkout's logs")
        .lines()
        .skip(1)
        .map(str::trim_start)
        .collect();
    for service in ["frontend", "backend ", "greeter "] {
        assert!(
            logs.iter()
                .any(|l| l.starts_with(&format!("INFO  {service}"))),
            "a line from {service}:\n{checkout}"
        );
    }
    // The request from Google's load balancer continues its trace id, in its logs too.
    assert!(
        text.contains("trace 105445aa7843bc8bf206b12000100000"),
        "{text}"
    );
    assert!(
        text.contains("logs, each with trace_id=105445aa7843bc8bf206b12000100000:"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("  ERROR backend  item explode")),
        "{text}"
    );
    // Errors are marked.
    assert!(
        text.lines()
            .any(|l| l.starts_with('✗') && l.contains("GET /fail")),
        "{text}"
    );
    // The RED table.
    let red = text.split("RED per service and route").nth(1).unwrap();
    assert!(
        red.lines()
            .any(|l| l.starts_with("frontend GET /checkout/{id}") && l.contains("     3 ")),
        "{red}"
    );
    assert!(
        red.lines()
            .any(|l| l.starts_with("frontend GET /fail") && l.contains("100%")),
        "{red}"
    );
    assert!(
        red.lines().any(|l| l.starts_with("greeter  test.Echo/Say")),
        "{red}"
    );
    tokio::task::spawn_blocking(move || drop(telemetry))
        .await
        .unwrap();
}
