//! The serve loop against real clients on 127.0.0.1.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::get;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use super::{Drained, serve};

/// `/slow/{ms}` answers after that many milliseconds; `/peer` with the peer's address as
/// axum's `ConnectInfo` saw it.
fn app() -> Router {
    Router::new()
        .route(
            "/slow/{ms}",
            get(
                |axum::extract::Path(ms): axum::extract::Path<u64>| async move {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    "done"
                },
            ),
        )
        .route(
            "/peer",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { format!("{peer}") }),
        )
}

/// A server on 127.0.0.1 with `configure` applied; the trigger that stops it and what it
/// returned.
async fn start(
    configure: impl FnOnce(super::Serve<Router>) -> super::Serve<Router>,
) -> (
    SocketAddr,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<Drained>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = configure(serve(listener, app()));
    let handle = tokio::spawn(server.with_graceful_shutdown(async {
        let _ = stopped.await;
    }));
    (addr, stop, handle)
}

/// Sends `path` as an HTTP/1.1 request that closes the connection; the whole answer.
async fn request(addr: SocketAddr, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await?;
    Ok(answer)
}

#[tokio::test]
async fn the_peer_address_reaches_connect_info() {
    let (addr, stop, handle) = start(|s| s).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let local = stream.local_addr().unwrap();
    stream
        .write_all(b"GET /peer HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.ends_with(&format!("\r\n\r\n{local}")), "{answer}");
    stop.send(()).unwrap();
    assert_eq!(handle.await.unwrap().connections_cut, 0);
}

/// Stalled partial heads do not hold the drain; a request in flight finishes within the
/// deadline; one slower than the deadline is cut with its connection.
#[tokio::test]
async fn the_drain_is_bounded_by_its_deadline() {
    let deadline = Duration::from_millis(800);
    let (addr, stop, handle) = start(|s| s.drain_deadline(deadline)).await;
    let mut stalled = Vec::new();
    for _ in 0..20 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(b"GET / HT").await.unwrap();
        stalled.push(stream);
    }
    let within = tokio::spawn(request(addr, "/slow/300"));
    let beyond = tokio::spawn(request(addr, "/slow/5000"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stopping = Instant::now();
    stop.send(()).unwrap();
    let drained = handle.await.unwrap();
    let took = stopping.elapsed();
    assert!(
        took >= deadline && took < deadline + Duration::from_millis(500),
        "{took:?}"
    );
    // The 20 stalled connections and the slow request's.
    assert_eq!(drained.connections_cut, 21, "{drained:?}");
    let within = within.await.unwrap().unwrap();
    assert!(within.starts_with("HTTP/1.1 200 OK\r\n"), "{within}");
    assert!(within.ends_with("done"), "{within}");
    // Cut: the connection closed without an answer.
    assert_eq!(beyond.await.unwrap().unwrap_or_default(), "");
    // The stalled clients see their connections closed.
    for mut stream in stalled {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(1), stream.read_to_end(&mut rest))
            .await
            .expect("closed by the server");
        assert!(read.is_err() || rest.is_empty(), "{rest:?}");
    }
    // Nothing listens any more.
    assert!(TcpStream::connect(addr).await.is_err());
}

/// Without stragglers the drain ends as soon as the last request is answered; an idle
/// keep-alive connection does not hold it.
#[tokio::test]
async fn a_drain_without_stragglers_ends_at_once() {
    let (addr, stop, handle) = start(|s| s).await;
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /slow/0 HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = idle.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200 OK\r\n"));
    let in_flight = tokio::spawn(request(addr, "/slow/200"));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let stopping = Instant::now();
    stop.send(()).unwrap();
    let drained = handle.await.unwrap();
    assert_eq!(drained.connections_cut, 0);
    assert!(stopping.elapsed() < Duration::from_secs(1), "{drained:?}");
    assert!(in_flight.await.unwrap().unwrap().ends_with("done"));
    // The idle connection was closed by the server.
    assert_eq!(idle.read(&mut buf).await.unwrap_or(0), 0);
}

/// A client that never finishes its request head is disconnected after the header-read
/// timeout, while the server keeps serving.
#[tokio::test]
async fn a_stalled_head_is_closed_after_the_header_read_timeout() {
    let (addr, stop, handle) = start(|s| s.header_read_timeout(Duration::from_millis(300))).await;
    let mut stalled = TcpStream::connect(addr).await.unwrap();
    stalled.write_all(b"GET / HT").await.unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), stalled.read_to_end(&mut rest))
        .await
        .expect("closed after the header-read timeout");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(2),
        "{took:?}"
    );
    assert!(request(addr, "/slow/0").await.unwrap().ends_with("done"));
    stop.send(()).unwrap();
    assert_eq!(handle.await.unwrap().connections_cut, 0);
}

// === connections that never speak, idle ones, the cap ===

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

const SETTINGS: u8 = 0x4;
const HEADERS: u8 = 0x1;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;

/// An empty SETTINGS frame after the preface: what an HTTP/2 client sends first.
fn h2_hello() -> Vec<u8> {
    [PREFACE, &frame(SETTINGS, 0, 0, &[])].concat()
}

/// `GET /slow/{ms}` on stream 1, ending the stream (HPACK, RFC 7541: `:method GET`,
/// `:scheme http`, `:path` as a literal of the static table's name 4).
fn h2_get(ms: u64) -> Vec<u8> {
    let path = format!("/slow/{ms}");
    let mut block = vec![0x82, 0x86, 0x04, u8::try_from(path.len()).unwrap()];
    block.extend_from_slice(path.as_bytes());
    frame(HEADERS, 0x4 | 0x1, 1, &block)
}

/// Reads frames until the server closes the connection (or `limit` passes: a panic naming
/// the frames read); the types of the frames it sent and how long it took to close.
async fn frames_until_closed(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    let mut kinds = Vec::new();
    let read = async {
        loop {
            let mut head = [0u8; 9];
            if stream.read_exact(&mut head).await.is_err() {
                return;
            }
            kinds.push(head[3]);
            let len = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
            let mut payload = vec![0u8; len];
            if stream.read_exact(&mut payload).await.is_err() {
                return;
            }
        }
    };
    let closed = tokio::time::timeout(limit, read).await.is_ok();
    assert!(closed, "not closed after {limit:?}; frames read: {kinds:?}");
    (kinds, started.elapsed())
}

/// Waits for the server to close `stream` (EOF or reset), at most `limit`; how long it took.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Duration {
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(limit, stream.read_to_end(&mut rest))
        .await
        .expect("the server closed the connection");
    started.elapsed()
}

/// Nothing sent, part of the HTTP/2 preface, or the preface and SETTINGS without a request:
/// each connection is closed at the header-read timeout (which hyper's own HTTP/1 timer does
/// not cover), while the server keeps serving.
#[tokio::test]
async fn silent_connections_are_closed_whatever_the_protocol() {
    let timeout = Duration::from_millis(300);
    let (addr, stop, handle) = start(|s| s.header_read_timeout(timeout)).await;
    let mut silent = Vec::new();
    for opening in [&b""[..], &PREFACE[..10], &h2_hello()] {
        for _ in 0..5 {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            stream.write_all(opening).await.unwrap();
            silent.push((opening.len(), stream));
        }
    }
    let started = Instant::now();
    for (opening, stream) in &mut silent {
        let _ = closed_within(stream, Duration::from_secs(3)).await;
        let took = started.elapsed();
        assert!(
            took >= timeout - Duration::from_millis(50) && took < timeout + Duration::from_secs(1),
            "{opening} bytes sent: closed after {took:?}"
        );
    }
    assert!(request(addr, "/slow/0").await.unwrap().ends_with("done"));
    stop.send(()).unwrap();
    assert_eq!(handle.await.unwrap().connections_cut, 0);
}

/// An HTTP/2 connection idle after its request gets a GOAWAY at the idle timeout and is
/// closed; one that had a request in flight all along is not.
#[tokio::test]
async fn an_idle_http2_connection_gets_a_goaway_and_is_closed() {
    let idle = Duration::from_millis(400);
    let (addr, stop, handle) = start(|s| {
        s.idle_timeout(idle)
            .header_read_timeout(Duration::from_secs(10))
    })
    .await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(&[h2_hello(), h2_get(700)].concat())
        .await
        .unwrap();
    // The response after 700 ms (busy, longer than the idle timeout), then 400 ms idle.
    let (kinds, took) = frames_until_closed(&mut stream, Duration::from_secs(4)).await;
    // hyper's graceful GOAWAY (followed by a PING this client does not answer: the close
    // grace of a second ends it).
    let goaway = kinds.iter().position(|&k| k == GOAWAY);
    let response = kinds.iter().position(|&k| k == HEADERS);
    assert!(response.is_some() && goaway > response, "{kinds:?}");
    assert!(
        took >= Duration::from_millis(1100) && took < Duration::from_millis(3500),
        "{took:?}"
    );
    stop.send(()).unwrap();
    assert_eq!(handle.await.unwrap().connections_cut, 0);
}

/// A peer that stops answering HTTP/2 PINGs while its request is in flight is disconnected
/// after the keep-alive timeout.
#[tokio::test]
async fn an_http2_peer_that_stops_answering_pings_is_disconnected() {
    let (addr, stop, handle) = start(|s| {
        s.http2_keep_alive(Some((
            Duration::from_millis(200),
            Duration::from_millis(200),
        )))
    })
    .await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(&[h2_hello(), h2_get(30_000)].concat())
        .await
        .unwrap();
    let (kinds, took) = frames_until_closed(&mut stream, Duration::from_secs(4)).await;
    assert!(kinds.contains(&PING), "{kinds:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    stop.send(()).unwrap();
    assert_eq!(handle.await.unwrap().connections_cut, 0);
}

/// At the cap, a new connection closes the oldest one without a request in flight: a request
/// is served at once while idle connections flood the server, and one in flight is kept.
#[tokio::test]
async fn at_the_cap_the_oldest_idle_connection_makes_room() {
    let (addr, stop, handle) = start(|s| {
        s.max_connections(4)
            .header_read_timeout(Duration::from_secs(30))
    })
    .await;
    let busy = tokio::spawn(request(addr, "/slow/800"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut idle = Vec::new();
    for _ in 0..8 {
        idle.push(TcpStream::connect(addr).await.unwrap());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let started = Instant::now();
    assert!(request(addr, "/slow/0").await.unwrap().ends_with("done"));
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    // The oldest idle ones were closed; the newest two are still open.
    for stream in &mut idle[..6] {
        let _ = closed_within(stream, Duration::from_secs(1)).await;
    }
    for stream in &mut idle[6..] {
        let mut byte = [0u8; 1];
        assert!(
            tokio::time::timeout(Duration::from_millis(100), stream.read(&mut byte))
                .await
                .is_err(),
            "still open"
        );
    }
    assert!(busy.await.unwrap().unwrap().ends_with("done"));
    stop.send(()).unwrap();
    let _ = handle.await.unwrap();
}
