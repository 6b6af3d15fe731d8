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
            format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
                .as_bytes(),
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
    let (addr, stop, handle) =
        start(|s| s.header_read_timeout(Duration::from_millis(300))).await;
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
