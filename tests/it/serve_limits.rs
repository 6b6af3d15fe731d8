//! The validation server as users run it (a process), against clients that never speak, a
//! flood of idle connections under a file limit, a collector slower than the traffic, and
//! its shutdown output, line by line. Its serve timeouts are made small through its
//! environment (`HEADER_READ_TIMEOUT_MS`, `IDLE_TIMEOUT_MS`), so each test runs in seconds.

use std::time::{Duration, Instant};

use axum::Router;
use integration_tests::{ExampleProcess, black_hole};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// The HTTP/2 connection preface (RFC 9113 §3.4).
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// An HTTP/2 frame (RFC 9113 §4.1).
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap().to_be_bytes();
    let mut frame = vec![len[1], len[2], len[3], kind, flags];
    frame.extend_from_slice(&stream.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// The preface and an empty SETTINGS frame: what an HTTP/2 client sends first.
fn h2_hello() -> Vec<u8> {
    [PREFACE, &frame(0x4, 0, 0, &[])].concat()
}

/// `GET /` on stream 1, ending it (HPACK static table, RFC 7541 Appendix A: `:method GET`,
/// `:scheme http`, `:path /`).
fn h2_get_root() -> Vec<u8> {
    frame(0x1, 0x4 | 0x1, 1, &[0x82, 0x86, 0x84])
}

/// Waits at most `limit` for the server to close `stream` (EOF or reset); whether it did.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut sink = Vec::new();
    tokio::time::timeout(limit, stream.read_to_end(&mut sink))
        .await
        .is_ok()
}

/// The lines the process wrote to stderr.
fn lines(server: &ExampleProcess) -> Vec<String> {
    server.stderr().lines().map(str::to_owned).collect()
}

/// 20 connections that send nothing, 20 that stop inside the HTTP/2 preface, 10 HTTP/2
/// connections idle after their SETTINGS and 10 idle after a request: each is closed within
/// the timeout + 2 s, and the server keeps answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_that_never_speak_or_go_idle_are_closed() {
    let server = ExampleProcess::start(
        "validation_server",
        &[
            ("HEADER_READ_TIMEOUT_MS", "1000"),
            ("IDLE_TIMEOUT_MS", "1000"),
        ],
    );
    let addr = server.addr;
    let hello_and_get = [h2_hello(), h2_get_root()].concat();
    let mut openings: Vec<(&str, Vec<u8>)> = Vec::new();
    openings.extend((0..20).map(|_| ("nothing", Vec::new())));
    openings.extend((0..20).map(|_| ("part of the HTTP/2 preface", PREFACE[..12].to_vec())));
    openings.extend((0..10).map(|_| ("HTTP/2 SETTINGS, no request", h2_hello())));
    openings.extend((0..10).map(|_| ("HTTP/2, idle after a request", hello_and_get.clone())));
    let started = Instant::now();
    let mut streams = Vec::new();
    for (what, opening) in &openings {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(opening).await.unwrap();
        streams.push((*what, stream));
    }
    let limit = Duration::from_secs(3);
    let mut closing = tokio::task::JoinSet::new();
    for (what, mut stream) in streams {
        closing.spawn(async move { (what, closed_within(&mut stream, limit).await) });
    }
    while let Some(closed) = closing.join_next().await {
        let (what, closed) = closed.unwrap();
        assert!(closed, "{what}: still open after {:?}", started.elapsed());
    }
    assert!(started.elapsed() < limit + Duration::from_millis(500));
    assert_eq!(integration_tests::get(addr, "/", &[]).await.0, 200);
}

/// Opens 300 connections that send nothing, lets the server take them from its backlog, then
/// asserts that a request is answered with 200 within a second; returns the connections, to
/// hold until the checks are done.
async fn flood_then_request(server: &ExampleProcess) -> Vec<TcpStream> {
    let mut held = Vec::new();
    for _ in 0..300 {
        held.push(TcpStream::connect(server.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let answered = tokio::time::timeout(
        Duration::from_secs(1),
        integration_tests::get(server.addr, "/", &[]),
    )
    .await
    .expect("answered within a second");
    assert_eq!(answered.0, 200);
    assert!(started.elapsed() < Duration::from_secs(1));
    held
}

/// Under a limit of 256 open files, 300 connections that send nothing cannot stop the
/// server: a request is answered within a second (the oldest idle connections make room),
/// and the cap is reported once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_idle_connections_under_a_file_limit_does_not_stop_requests() {
    let server = ExampleProcess::start_with_file_limit("validation_server", 256, &[]);
    let held = flood_then_request(&server).await;
    let capped: Vec<_> = lines(&server)
        .into_iter()
        .filter(|l| l.contains("connections open, the limit"))
        .collect();
    assert_eq!(
        capped,
        [
            "tower-telemetry: serve: 192 connections open, the limit: each new one closes the \
          oldest idle one (reported once; see Serve::max_connections)"
        ],
        "{}",
        server.stderr()
    );
    drop(held);
}

/// With a cap above the file limit, accepting runs out of descriptors (`EMFILE`): reported
/// once on stderr, an idle connection is closed to make room, and a request is still answered
/// within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_file_descriptors_is_reported_once_and_requests_are_served() {
    let server = ExampleProcess::start_with_file_limit(
        "validation_server",
        256,
        &[("MAX_CONNECTIONS", "10000")],
    );
    let held = flood_then_request(&server).await;
    let failed: Vec<_> = lines(&server)
        .into_iter()
        .filter(|l| l.contains("accepting a connection failed"))
        .collect();
    assert_eq!(failed.len(), 1, "{}", server.stderr());
    assert!(
        failed[0].starts_with(
            "tower-telemetry: serve: accepting a connection failed: Too many open files"
        ),
        "{failed:?}"
    );
    drop(held);
}

/// A collector that never answers: the queue (8 spans) fills, the first drop is on stderr at
/// once, and at shutdown the exporter's line says it timed out and how many spans were
/// dropped: every span beyond the 16 the exporter took (one batch in its export, one queued).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_dropped_by_a_full_queue_are_counted_on_stderr() {
    let hole = black_hole().await;
    let endpoint = format!("http://{hole}");
    let mut server = ExampleProcess::start(
        "validation_server",
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "60000"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "8"),
            ("OTEL_BSP_SCHEDULE_DELAY", "60000"),
        ],
    );
    for _ in 0..100 {
        assert_eq!(integration_tests::get(server.addr, "/", &[]).await.0, 200);
    }
    let status = server.stop("TERM", Duration::from_secs(10)).await.0;
    assert!(status.is_some_and(|s| s.success()), "{}", server.stderr());
    let lines = lines(&server);
    assert_eq!(
        lines.first().map(String::as_str),
        Some(
            "tower-telemetry: trace export over OTLP: the queue of 8 spans is full: spans are \
             dropped (counted, summarized every 60 s; raise OTEL_BSP_MAX_QUEUE_SIZE or see to \
             the collector)"
        ),
        "{lines:#?}"
    );
    let traces = lines
        .iter()
        .find(|l| l.starts_with("tower-telemetry: trace export over OTLP: timed out"))
        .unwrap_or_else(|| panic!("{lines:#?}"));
    assert_eq!(
        traces,
        "tower-telemetry: trace export over OTLP: timed out after 5 s: what it still held is \
         lost; since the last report: 84 spans dropped (queue full)",
        "{lines:#?}"
    );
}

/// A collector that answers: SIGTERM, then exactly one line per exporter, "flushed".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shutdown_says_flushed_once_per_exporter() {
    let collector = integration_tests::serve_axum(Router::new().fallback(|| async { "" })).await;
    let endpoint = format!("http://{collector}");
    let mut server = ExampleProcess::start(
        "validation_server",
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ],
    );
    assert_eq!(integration_tests::get(server.addr, "/", &[]).await.0, 200);
    let status = server.stop("TERM", Duration::from_secs(10)).await.0;
    assert!(status.is_some_and(|s| s.success()), "{}", server.stderr());
    assert_eq!(
        lines(&server),
        [
            "tower-telemetry: trace export over OTLP: flushed",
            "tower-telemetry: metric export over OTLP: flushed",
        ]
    );
}

/// A collector that is down: the first failure while running, then at shutdown the line of
/// each exporter says it failed and why; nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shutdown_says_why_an_exporter_failed() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let endpoint = format!("http://{closed}");
    let mut server = ExampleProcess::start(
        "validation_server",
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_BSP_SCHEDULE_DELAY", "60000"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "600000"),
        ],
    );
    assert_eq!(integration_tests::get(server.addr, "/", &[]).await.0, 200);
    let status = server.stop("TERM", Duration::from_secs(10)).await.0;
    assert!(status.is_some_and(|s| s.success()), "{}", server.stderr());
    let lines = lines(&server);
    assert_eq!(lines.len(), 2, "{lines:#?}");
    for (line, what) in lines.iter().zip(["trace", "metric"]) {
        assert!(
            line.starts_with(&format!(
                "tower-telemetry: {what} export over OTLP: failed: "
            )),
            "{lines:#?}"
        );
    }
}
