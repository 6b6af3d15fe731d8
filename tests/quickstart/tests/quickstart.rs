//! Runs the quick start as a user would (console spans, Prometheus metrics), sends a request,
//! scrapes `/metrics`, stops it with SIGTERM and reads its span on stdout.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn get(path: &str) -> Option<String> {
    let mut stream = TcpStream::connect("127.0.0.1:3000").ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:3000\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

#[test]
fn the_quick_start_serves_a_span_a_metric_and_metrics() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_quickstart-check"))
        .env("OTEL_TRACES_EXPORTER", "console")
        .env("OTEL_METRICS_EXPORTER", "prometheus")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the quick start");
    let deadline = Instant::now() + Duration::from_secs(30);
    let response = loop {
        if let Some(response) = get("/users/7") {
            break response;
        }
        assert!(
            Instant::now() < deadline,
            "the quick start never listened on :3000"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let metrics = get("/metrics").expect("/metrics");
    let bucket = metrics
        .lines()
        .find(|l| l.starts_with("http_server_request_duration_seconds_count"))
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!(bucket.contains(r#"http_route="/users/{id}""#), "{bucket}");
    assert!(bucket.ends_with(" 1"), "one request counted: {bucket}");

    let status = Command::new("kill")
        .args(["-s", "TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "SIGTERM: still running after 10 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "{exit:?}");
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert!(
        stdout.contains("GET /users/{id}"),
        "the span, flushed at shutdown:\n{stdout}"
    );
}
