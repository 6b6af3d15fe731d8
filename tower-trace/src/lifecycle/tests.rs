//! The lifecycle's contract: every path finishes exactly once, at the true end.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use tower::{Layer, ServiceBuilder, ServiceExt, service_fn};

use super::*;
use crate::view::ResponseInfo;

type Log = Arc<Mutex<Vec<String>>>;

/// Logs every hook.
#[derive(Clone)]
struct Recorder {
    log: Log,
    name: &'static str,
    cx: Option<Context>,
}

struct Rec {
    log: Log,
    name: &'static str,
    cx: Option<Context>,
}

/// A value naming the context a record offers, to see which one `End::context` hands on.
#[derive(Debug)]
struct Named(&'static str);

impl<B> Observer<B> for Recorder {
    type Record = Rec;
    fn on_request(&self, request: &mut Request<B>, _: &RequestFacts<'_>) -> Option<Rec> {
        if request.uri().path() == "/skip" {
            return None;
        }
        self.log
            .lock()
            .unwrap()
            .push(format!("{}:request", self.name));
        Some(Rec {
            log: self.log.clone(),
            name: self.name,
            cx: self.cx.clone(),
        })
    }
}

impl Record for Rec {
    fn context(&self) -> Option<&Context> {
        self.cx.as_ref()
    }
    fn on_response(&mut self, response: &ResponseInfo<'_>, facts: &Facts) {
        assert_eq!(
            facts.status(),
            Some(response.status().as_u16()),
            "facts first"
        );
        self.log
            .lock()
            .unwrap()
            .push(format!("{}:head {}", self.name, response.status().as_u16()));
    }
    fn on_body_chunk(&mut self, len: usize) {
        self.log
            .lock()
            .unwrap()
            .push(format!("{}:chunk {len}", self.name));
    }
    fn on_trailers(&mut self, trailers: &HeaderMap) {
        self.log
            .lock()
            .unwrap()
            .push(format!("{}:trailers {}", self.name, trailers.len()));
    }
    fn finish(self, end: &End<'_>) {
        let outcome = match end.outcome() {
            Outcome::Complete => "complete".to_owned(),
            Outcome::ServiceError(e) => format!("service error {e}"),
            Outcome::BodyError(e) => format!("body error {e}"),
            Outcome::Cancelled => "cancelled".to_owned(),
            Outcome::Panicked => "panicked".to_owned(),
        };
        let after = end
            .context()
            .and_then(|cx| cx.get::<Named>())
            .map_or(String::new(), |n| format!(" after {}", n.0));
        self.log
            .lock()
            .unwrap()
            .push(format!("{}:finish {outcome}{after}", self.name));
    }
}

fn recorder(name: &'static str) -> (Recorder, Log) {
    let log = Log::default();
    (
        Recorder {
            log: log.clone(),
            name,
            cx: None,
        },
        log,
    )
}

fn entries(log: &Log) -> Vec<String> {
    log.lock().unwrap().clone()
}

fn req(path: &str) -> Request<()> {
    Request::builder().uri(path).body(()).unwrap()
}

#[tokio::test]
async fn full_body_finishes_after_its_only_frame() {
    let (observer, log) = recorder("a");
    let svc = ServiceBuilder::new()
        .layer(ObserveLayer::new(Conventions::server(), observer))
        .service(service_fn(|_: Request<()>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"hello"))))
        }));
    let response = svc.oneshot(req("/")).await.unwrap();
    assert_eq!(
        entries(&log),
        ["a:request", "a:head 200"],
        "not finished before the body is read"
    );
    let mut body = response.into_body();
    let frame = body.frame().await.unwrap().unwrap();
    assert_eq!(frame.into_data().unwrap(), "hello");
    // Full reports end of stream after its frame: finished without waiting for `None`, which
    // hyper never asks for once Content-Length is satisfied.
    assert_eq!(
        entries(&log),
        ["a:request", "a:head 200", "a:chunk 5", "a:finish complete"]
    );
    assert!(body.frame().await.is_none());
    drop(body);
    assert_eq!(entries(&log).len(), 4, "exactly once");
}

#[tokio::test]
async fn streamed_body_finishes_at_its_end() {
    let (observer, log) = recorder("a");
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<http_body::Frame<Bytes>, Infallible>>(4);
    let rx = Arc::new(Mutex::new(Some(rx)));
    let svc = ObserveLayer::new(Conventions::server(), observer).layer(service_fn(
        move |_: Request<()>| {
            let rx = rx.lock().unwrap().take().unwrap();
            async move {
                let stream = futures_stream(rx);
                Ok::<_, Infallible>(Response::new(StreamBody::new(stream)))
            }
        },
    ));
    let mut body = svc.oneshot(req("/")).await.unwrap().into_body();
    tx.send(Ok(http_body::Frame::data(Bytes::from_static(b"one"))))
        .await
        .unwrap();
    body.frame().await.unwrap().unwrap();
    tx.send(Ok(http_body::Frame::data(Bytes::from_static(b"two!"))))
        .await
        .unwrap();
    body.frame().await.unwrap().unwrap();
    assert_eq!(
        entries(&log),
        ["a:request", "a:head 200", "a:chunk 3", "a:chunk 4"],
        "still streaming"
    );
    drop(tx);
    assert!(body.frame().await.is_none());
    assert_eq!(entries(&log).last().unwrap(), "a:finish complete");
}

#[tokio::test]
async fn trailers_then_finish() {
    let (observer, log) = recorder("a");
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let rx = Arc::new(Mutex::new(Some(rx)));
    let svc = ObserveLayer::new(Conventions::server(), observer).layer(service_fn(
        move |_: Request<()>| {
            let rx = rx.lock().unwrap().take().unwrap();
            async move { Ok::<_, Infallible>(Response::new(StreamBody::new(futures_stream(rx)))) }
        },
    ));
    let mut body = svc.oneshot(req("/")).await.unwrap().into_body();
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", "0".parse().unwrap());
    tx.send(Ok::<_, Infallible>(http_body::Frame::data(
        Bytes::from_static(b"x"),
    )))
    .await
    .unwrap();
    tx.send(Ok(http_body::Frame::trailers(trailers)))
        .await
        .unwrap();
    body.frame().await.unwrap().unwrap();
    body.frame().await.unwrap().unwrap();
    assert_eq!(
        entries(&log),
        [
            "a:request",
            "a:head 200",
            "a:chunk 1",
            "a:trailers 1",
            "a:finish complete"
        ]
    );
    drop((tx, body));
    assert_eq!(entries(&log).len(), 5);
}

#[tokio::test]
async fn empty_body_finishes_at_the_head() {
    let (observer, log) = recorder("a");
    let svc = ObserveLayer::new(Conventions::server(), observer).layer(service_fn(
        |_: Request<()>| async { Ok::<_, Infallible>(Response::new(Empty::<Bytes>::new())) },
    ));
    let response = svc.oneshot(req("/")).await.unwrap();
    assert_eq!(
        entries(&log),
        ["a:request", "a:head 200", "a:finish complete"]
    );
    drop(response);
    assert_eq!(
        entries(&log).len(),
        3,
        "dropping the unpolled empty body is not a cancellation"
    );
}

#[tokio::test]
async fn service_error_is_passed_through() {
    let (observer, log) = recorder("a");
    let svc = ObserveLayer::new(Conventions::server(), observer).layer(service_fn(
        |_: Request<()>| async { Err::<Response<Empty<Bytes>>, _>(std::io::Error::other("boom")) },
    ));
    let err = svc.oneshot(req("/")).await.unwrap_err();
    assert_eq!(err.to_string(), "boom");
    assert_eq!(entries(&log), ["a:request", "a:finish service error boom"]);
}

#[tokio::test]
async fn body_error_is_passed_through() {
    let (observer, log) = recorder("a");
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let rx = Arc::new(Mutex::new(Some(rx)));
    let svc = ObserveLayer::new(Conventions::server(), observer).layer(service_fn(
        move |_: Request<()>| {
            let rx = rx.lock().unwrap().take().unwrap();
            async move { Ok::<_, Infallible>(Response::new(StreamBody::new(futures_stream(rx)))) }
        },
    ));
    let mut body = svc.oneshot(req("/")).await.unwrap().into_body();
    tx.send(Err::<http_body::Frame<Bytes>, _>(std::io::Error::other(
        "reset",
    )))
    .await
    .unwrap();
    let err = body.frame().await.unwrap().unwrap_err();
    assert_eq!(err.to_string(), "reset");
    assert_eq!(entries(&log).last().unwrap(), "a:finish body error reset");
}

#[tokio::test]
async fn dropped_future_and_dropped_body_are_cancelled() {
    let (observer, log) = recorder("a");
    let svc = ObserveLayer::new(Conventions::server(), observer.clone()).layer(service_fn(
        |_: Request<()>| async {
            std::future::pending::<()>().await;
            Ok::<_, Infallible>(Response::new(Empty::<Bytes>::new()))
        },
    ));
    let future = svc.oneshot(req("/"));
    let _ = tokio::time::timeout(std::time::Duration::from_millis(5), future).await;
    assert_eq!(entries(&log), ["a:request", "a:finish cancelled"]);

    let (observer, log) = recorder("b");
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<http_body::Frame<Bytes>, Infallible>>(4);
    let rx = Arc::new(Mutex::new(Some(rx)));
    let svc = ObserveLayer::new(Conventions::server(), observer).layer(service_fn(
        move |_: Request<()>| {
            let rx = rx.lock().unwrap().take().unwrap();
            async move { Ok::<_, Infallible>(Response::new(StreamBody::new(futures_stream(rx)))) }
        },
    ));
    let mut body = svc.oneshot(req("/")).await.unwrap().into_body();
    tx.send(Ok(http_body::Frame::data(Bytes::from_static(b"part"))))
        .await
        .unwrap();
    body.frame().await.unwrap().unwrap();
    drop(body);
    assert_eq!(
        entries(&log),
        ["b:request", "b:head 200", "b:chunk 4", "b:finish cancelled"]
    );
}

#[tokio::test]
async fn skipped_requests_are_not_observed() {
    let (observer, log) = recorder("a");
    let svc = ObserveLayer::new(Conventions::server(), observer).layer(service_fn(
        |_: Request<()>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
        },
    ));
    let body = svc.oneshot(req("/skip")).await.unwrap().into_body();
    assert_eq!(body.collect().await.unwrap().to_bytes(), "ok");
    assert!(entries(&log).is_empty());
}

#[tokio::test]
async fn a_pair_shares_one_lifecycle_and_finishes_each_once() {
    let log = Log::default();
    let pair = |name| Recorder {
        log: log.clone(),
        name,
        cx: Some(Context::new().with_value(Named(name))),
    };
    let svc = ObserveLayer::new(Conventions::server(), (pair("span"), pair("metrics"))).layer(
        service_fn(|_: Request<()>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"abc"))))
        }),
    );
    let body = svc.oneshot(req("/")).await.unwrap().into_body();
    assert_eq!(
        entries(&log),
        [
            "span:request",
            "metrics:request",
            "span:head 200",
            "metrics:head 200"
        ]
    );
    body.collect().await.unwrap();
    assert_eq!(
        entries(&log)[4..],
        [
            "span:chunk 3",
            "metrics:chunk 3",
            // The second sees the first's context (the span's, for exemplars), and finishes
            // first; the first sees none before it.
            "metrics:finish complete after span",
            "span:finish complete"
        ]
    );
}

#[tokio::test]
async fn an_http_client_call_ends_at_the_head_for_every_observer() {
    let log = Log::default();
    let pair = |name| Recorder {
        log: log.clone(),
        name,
        cx: None,
    };
    let svc = ObserveLayer::new(Conventions::client(), (pair("span"), pair("metrics"))).layer(
        service_fn(|_: Request<()>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"abc"))))
        }),
    );
    let body = svc.oneshot(req("/")).await.unwrap().into_body();
    assert_eq!(
        entries(&log)[2..],
        [
            "span:head 200",
            "metrics:head 200",
            "metrics:finish complete",
            "span:finish complete"
        ]
    );
    body.collect().await.unwrap();
    assert_eq!(
        entries(&log).len(),
        6,
        "the body's end finishes nothing again"
    );
}

/// What an observer saw at the end: status, `grpc-status`, `error.type`, duration.
type Seen = (
    Option<u16>,
    Option<&'static str>,
    Option<&'static str>,
    std::time::Duration,
);

/// Records what every observer saw at the end: the facts, the verdict and the clock.
#[derive(Clone)]
struct Ends(Arc<Mutex<Vec<Seen>>>);

struct EndRec(Ends);

impl<B> Observer<B> for Ends {
    type Record = EndRec;
    fn needs(&self) -> Needs {
        Needs::new(FactSet::START.and(FactSet::RPC_METHOD))
    }
    fn on_request(&self, _: &mut Request<B>, _: &RequestFacts<'_>) -> Option<EndRec> {
        Some(EndRec(self.clone()))
    }
}

impl Record for EndRec {
    fn finish(self, end: &End<'_>) {
        let facts = end.facts();
        let code = facts
            .grpc_status()
            .map(crate::conventions::grpc::Code::as_str);
        self.0.0.lock().unwrap().push((
            facts.status(),
            code,
            end.verdict().error_type,
            end.elapsed(),
        ));
    }
}

#[tokio::test]
async fn a_grpc_call_answered_without_grpc_ends_at_the_head_with_one_verdict() {
    let ends = Ends(Arc::default());
    let svc = ObserveLayer::new(Conventions::client(), (ends.clone(), ends.clone())).layer(
        service_fn(|_: Request<()>| async {
            let mut response = Response::new(Full::new(Bytes::from_static(b"<html>")));
            *response.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
            Ok::<_, Infallible>(response)
        }),
    );
    let mut request = req("/pkg.Svc/Call");
    request
        .headers_mut()
        .insert("content-type", "application/grpc".parse().unwrap());
    let body = svc.oneshot(request).await.unwrap().into_body();
    let seen = ends.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "both finished at the head");
    assert_eq!(seen[0], seen[1], "one duration, one verdict");
    assert_eq!((seen[0].0, seen[0].2), (Some(503), Some("UNAVAILABLE")));
    drop(body);
    assert_eq!(ends.0.lock().unwrap().len(), 2, "exactly once");
}

#[tokio::test]
async fn grpc_status_is_read_from_the_trailers() {
    let ends = Ends(Arc::default());
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<http_body::Frame<Bytes>, Infallible>>(4);
    let rx = Arc::new(Mutex::new(Some(rx)));
    let svc = ObserveLayer::new(Conventions::server(), ends.clone()).layer(service_fn(
        move |_: Request<()>| {
            let rx = rx.lock().unwrap().take().unwrap();
            async move { Ok::<_, Infallible>(Response::new(StreamBody::new(futures_stream(rx)))) }
        },
    ));
    let mut request = req("/pkg.Svc/Call");
    request
        .headers_mut()
        .insert("content-type", "application/grpc+proto".parse().unwrap());
    let mut body = svc.oneshot(request).await.unwrap().into_body();
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", "13".parse().unwrap());
    tx.send(Ok(http_body::Frame::trailers(trailers)))
        .await
        .unwrap();
    body.frame().await.unwrap().unwrap();
    let seen = ends.0.lock().unwrap().clone();
    assert_eq!(
        (seen[0].0, seen[0].1, seen[0].2),
        (Some(200), Some("INTERNAL"), Some("INTERNAL"))
    );
}

/// gRPC-Web: the status is in a trailer frame inside the body ("gRPC Web",
/// `grpc/grpc:doc/PROTOCOL-WEB.md`). Fed one byte per data frame, the bytes pass unchanged and
/// the call ends with the trailer frame's last byte, not at the end of the body.
#[tokio::test]
async fn grpc_web_status_is_read_from_the_trailer_frame_byte_by_byte() {
    let ends = Ends(Arc::default());
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<http_body::Frame<Bytes>, Infallible>>(64);
    let rx = Arc::new(Mutex::new(Some(rx)));
    let svc = ObserveLayer::new(Conventions::server(), ends.clone()).layer(service_fn(
        move |_: Request<()>| {
            let rx = rx.lock().unwrap().take().unwrap();
            async move {
                let mut response = Response::new(StreamBody::new(futures_stream(rx)));
                response.headers_mut().insert(
                    "content-type",
                    "application/grpc-web+proto".parse().unwrap(),
                );
                Ok::<_, Infallible>(response)
            }
        },
    ));
    let mut request = req("/pkg.Svc/Call");
    request.headers_mut().insert(
        "content-type",
        "application/grpc-web+proto".parse().unwrap(),
    );
    let mut body = svc.oneshot(request).await.unwrap().into_body();
    let trailers = b"grpc-status: 13\r\ngrpc-message: boom\r\n";
    let mut wire = vec![0, 0, 0, 0, 2, b'h', b'i', 0x80];
    wire.extend((trailers.len() as u32).to_be_bytes());
    wire.extend(trailers);
    let mut received = Vec::new();
    for (i, byte) in wire.iter().enumerate() {
        tx.send(Ok(http_body::Frame::data(Bytes::copy_from_slice(&[*byte]))))
            .await
            .unwrap();
        received.extend(body.frame().await.unwrap().unwrap().into_data().unwrap());
        let finished = ends.0.lock().unwrap().len();
        assert_eq!(finished, usize::from(i == wire.len() - 1), "byte {i}");
    }
    assert_eq!(received, wire, "the bytes pass unchanged");
    tx.send(Ok(http_body::Frame::data(Bytes::from_static(b"more"))))
        .await
        .unwrap();
    drop(tx);
    assert_eq!(
        &body.frame().await.unwrap().unwrap().into_data().unwrap()[..],
        b"more"
    );
    assert!(body.frame().await.is_none());
    let seen = ends.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "exactly once, at the trailer frame");
    assert_eq!(
        (seen[0].0, seen[0].1, seen[0].2),
        (Some(200), Some("INTERNAL"), Some("INTERNAL"))
    );
}

/// A data type in several pieces (`bytes::buf::Chain`) is read through `chunks_vectored`,
/// without consuming it: the trailer frame split across the pieces is found, the bytes
/// passed on whole.
#[tokio::test]
async fn grpc_web_frames_in_a_chained_buffer() {
    use bytes::Buf;
    let ends = Ends(Arc::default());
    let trailers = b"grpc-status: 5\r\n";
    let mut wire = vec![0x80];
    wire.extend((trailers.len() as u32).to_be_bytes());
    wire.extend(trailers);
    let (head, tail) = wire.split_at(7);
    let (head, tail) = (Bytes::copy_from_slice(head), Bytes::copy_from_slice(tail));
    let svc = ObserveLayer::new(Conventions::client(), ends.clone()).layer(service_fn(
        move |_: Request<()>| {
            let data = head.clone().chain(tail.clone());
            async move {
                let mut response = Response::new(Full::new(data));
                response
                    .headers_mut()
                    .insert("content-type", "application/grpc-web".parse().unwrap());
                Ok::<_, Infallible>(response)
            }
        },
    ));
    let mut request = req("/pkg.Svc/Call");
    request
        .headers_mut()
        .insert("content-type", "application/grpc-web".parse().unwrap());
    let body = svc.oneshot(request).await.unwrap().into_body();
    let mut received = body.collect().await.unwrap().aggregate();
    assert_eq!(received.copy_to_bytes(received.remaining()), wire);
    let seen = ends.0.lock().unwrap().clone();
    assert_eq!(
        (seen.len(), seen[0].1, seen[0].2),
        (1, Some("NOT_FOUND"), Some("NOT_FOUND"))
    );
}

#[tokio::test]
async fn context_is_current_in_call_and_in_the_future() {
    let sc = SpanContext::new(
        TraceId::from(7),
        SpanId::from(9),
        TraceFlags::SAMPLED,
        true,
        TraceState::NONE,
    );
    let log = Log::default();
    let observer = Recorder {
        log,
        name: "a",
        cx: Some(Context::new().with_remote_span_context(sc.clone())),
    };
    let svc =
        ObserveLayer::new(Conventions::server(), observer).layer(service_fn(|_: Request<()>| {
            let in_call = Context::current().span().span_context().span_id();
            async move {
                tokio::task::yield_now().await;
                let in_future = Context::current().span().span_context().span_id();
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(format!(
                    "{in_call} {in_future}"
                )))))
            }
        }));
    let body = svc
        .oneshot(req("/"))
        .await
        .unwrap()
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(body, format!("{} {}", sc.span_id(), sc.span_id()));
    assert!(
        !Context::current().has_active_span(),
        "detached after each poll"
    );
}

/// A `Stream` of frames over an mpsc receiver (no futures-util dependency).
fn futures_stream<T>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_core_shim::Stream<Item = T> {
    futures_core_shim::from_fn(move |cx| rx.poll_recv(cx))
}

mod futures_core_shim {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    pub(super) use futures_core::Stream;

    pub(super) struct FromFn<F>(F);

    pub(super) fn from_fn<T, F: FnMut(&mut Context<'_>) -> Poll<Option<T>> + Unpin>(
        f: F,
    ) -> FromFn<F> {
        FromFn(f)
    }

    impl<T, F: FnMut(&mut Context<'_>) -> Poll<Option<T>> + Unpin> Stream for FromFn<F> {
        type Item = T;
        fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
            (self.get_mut().0)(cx)
        }
    }
}

/// The facts one observer saw when its request arrived.
type Arrived = (
    bool,
    Option<String>,
    Option<&'static str>,
    bool,
    Option<String>,
);

/// Declares `needs` and records which facts were there in `on_request`.
#[derive(Clone)]
struct Declares(Needs, Arc<Mutex<Vec<Arrived>>>);

impl<B> Observer<B> for Declares {
    type Record = EndRec;
    fn needs(&self) -> Needs {
        self.0
    }
    fn on_request(&self, _: &mut Request<B>, facts: &RequestFacts<'_>) -> Option<EndRec> {
        self.1.lock().unwrap().push((
            facts.start().is_some(),
            facts.route().map(|r| r.to_string()),
            facts.scheme(),
            facts.server().0.is_some(),
            facts.rpc_method().map(|m| m.to_string()),
        ));
        None
    }
}

#[tokio::test]
async fn facts_are_computed_as_declared_before_any_observer_sees_the_request() {
    let route = |_: &crate::view::RequestInfo<'_>| Some(std::borrow::Cow::Borrowed("/users/{id}"));
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = {
        let calls = Arc::clone(&calls);
        move |req: &crate::view::RequestInfo<'_>| {
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            route(req)
        }
    };
    let request = || {
        Request::get("/users/7")
            .header("host", "api.example.com")
            .body(())
            .unwrap()
    };
    let ok = |_: Request<()>| async { Ok::<_, Infallible>(Response::new(Empty::<Bytes>::new())) };

    // Nothing declared: nothing computed, the route function never runs.
    let seen = Arc::default();
    let svc = ObserveLayer::new(
        Conventions::server().with_route(counted.clone()),
        Declares(Needs::NONE, Arc::clone(&seen)),
    )
    .layer(service_fn(ok));
    svc.oneshot(request()).await.unwrap();
    assert_eq!(*seen.lock().unwrap(), [(false, None, None, false, None)]);
    assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), 0);

    // A pair: the second observer sees what the first declared (the union), and the route
    // function runs once for both, before either is called.
    let (first, second) = (Arc::default(), Arc::default());
    let svc = ObserveLayer::new(
        Conventions::server().with_route(counted.clone()),
        (
            Declares(Needs::new(FactSet::ROUTE), Arc::clone(&first)),
            Declares(
                Needs::new(FactSet::START.and(FactSet::SCHEME)),
                Arc::clone(&second),
            ),
        ),
    )
    .layer(service_fn(ok));
    svc.oneshot(request()).await.unwrap();
    let all = (
        true,
        Some("/users/{id}".to_owned()),
        Some("http"),
        false,
        None,
    );
    assert_eq!(*first.lock().unwrap(), std::slice::from_ref(&all));
    assert_eq!(*second.lock().unwrap(), [all]);
    assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), 1);

    // A filtered request gets only what is declared for filtered requests.
    let seen = Arc::default();
    let needs = Needs::new(FactSet::START.and(FactSet::ROUTE).and(FactSet::SERVER))
        .when_filtered(FactSet::SERVER);
    let svc = ObserveLayer::new(
        Conventions::server().with_route(counted).with_filter(true),
        Declares(needs, Arc::clone(&seen)),
    )
    .layer(service_fn(ok));
    svc.oneshot(request()).await.unwrap();
    assert_eq!(*seen.lock().unwrap(), [(false, None, None, true, None)]);
    assert_eq!(
        calls.load(std::sync::atomic::Ordering::Relaxed),
        1,
        "not for a filtered request"
    );
}

#[tokio::test]
async fn the_rpc_method_is_a_grpc_fact_and_the_route_an_http_one() {
    let seen = Arc::default();
    let needs = Needs::new(FactSet::ROUTE.and(FactSet::RPC_METHOD));
    let route = |_: &crate::view::RequestInfo<'_>| Some(std::borrow::Cow::Borrowed("/r"));
    let svc = ObserveLayer::new(
        Conventions::server().with_route(route),
        Declares(needs, Arc::clone(&seen)),
    )
    .layer(service_fn(|_: Request<()>| async {
        Ok::<_, Infallible>(Response::new(Empty::<Bytes>::new()))
    }));
    let grpc = Request::post("/pkg.Greeter/SayHello")
        .header("content-type", "application/grpc")
        .body(())
        .unwrap();
    svc.clone().oneshot(grpc).await.unwrap();
    svc.oneshot(Request::get("/pkg.Greeter/SayHello").body(()).unwrap())
        .await
        .unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        [
            (
                false,
                None,
                None,
                false,
                Some("pkg.Greeter/SayHello".to_owned())
            ),
            (false, Some("/r".to_owned()), None, false, None),
        ]
    );
}
