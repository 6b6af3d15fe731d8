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
    // Under each route, the trace of its slowest bucket's exemplar, one of the waterfalls'.
    let slowest: Vec<&str> = red
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("slowest bucket "))
        .collect();
    assert!(slowest.len() >= 3, "{red}");
    for line in &slowest {
        let trace = line.rsplit("trace ").next().unwrap();
        assert_eq!(trace.len(), 32, "{line}");
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("trace {trace}"))),
            "{line}: its waterfall is above"
        );
    }
    let checkout = red
        .lines()
        .skip_while(|l| !l.starts_with("frontend GET /checkout/{id}"))
        .nth(1)
        .unwrap();
    assert!(checkout.contains("slowest bucket <= "), "{red}");
    tokio::task::spawn_blocking(move || drop(telemetry))
        .await
        .unwrap();
}

/// `cargo run --example demo -- --serve` as a process: SIGTERM while a request is in flight
/// and a client is stalled in its request head: the request is answered, the process exits 0
/// within the drain deadline (4 s) plus the telemetry budget (5 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_serve_drains_and_exits_on_sigterm() {
    use std::time::{Duration, Instant};
    use tokio::io::AsyncWriteExt as _;
    let mut demo = integration_tests::ExampleProcess::start_with_args(
        "demo",
        &["--serve"],
        &[("OTEL_METRICS_EXPORTER", "prometheus")],
    );
    let front = demo.addr;
    let mut stalled = tokio::net::TcpStream::connect(front).await.unwrap();
    stalled.write_all(b"GET /checkout/1 HT").await.unwrap();
    // `/slow` takes 150 ms (the backend sleeps): signal once the frontend counts it active.
    let deadline = Instant::now() + Duration::from_secs(20);
    let in_flight = loop {
        let request = tokio::spawn(integration_tests::get(front, "/slow", &[]));
        let mut seen = false;
        while !request.is_finished() {
            let page = integration_tests::get(front, "/metrics", &[]).await.1;
            seen = page.lines().any(|l| {
                // The scrape is not counted, the stalled head is not a request yet: the one
                // active request is `/slow`.
                l.starts_with("http_server_active_requests{") && l.ends_with(" 1")
            });
            if seen {
                break;
            }
        }
        if seen {
            break request;
        }
        assert!(Instant::now() < deadline, "/slow never seen in flight");
    };
    let (status, took) = demo.stop("TERM", Duration::from_secs(15)).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?} after {took:?}\n{}",
        demo.stderr()
    );
    assert!(took < Duration::from_secs(9), "{took:?}");
    assert_eq!(
        in_flight.await.unwrap(),
        (http::StatusCode::OK, "finally".to_owned()),
        "answered while draining"
    );
    drop(stalled);
}
