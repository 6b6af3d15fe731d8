//! A gRPC service over raw-bytes messages (no `protoc`): `test.Echo/Say` (unary),
//! `test.Echo/Stream` (server streaming) and `test.Echo/Chat` (bidirectional streaming).
//!
//! `Say` answers the message back, or fails with the status code named by a message
//! `fail:<code>` (a Trailers-Only response); `sleep:<ms>` answers after a delay;
//! `whoami` answers `<trace id>-<span id>` of a `Context` in the request's extensions. `Stream` sends the messages `0..n` for a
//! message `n[:code]`, then ends with `code` in the trailers (OK by default). `Chat` answers
//! each message as it comes, and ends (OK) when the client ends its stream.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use http::{Request, Response};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::{Code, Status};

/// Messages are bytes, as is.
#[derive(Debug, Clone, Copy, Default)]
pub struct BytesCodec;

impl Codec for BytesCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = BytesCodec;
    type Decoder = BytesCodec;
    fn encoder(&mut self) -> Self::Encoder {
        BytesCodec
    }
    fn decoder(&mut self) -> Self::Decoder {
        BytesCodec
    }
}

impl Encoder for BytesCodec {
    type Item = Bytes;
    type Error = Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for BytesCodec {
    type Item = Bytes;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// The service's name.
pub const SERVICE: &str = "test.Echo";

/// The service.
#[derive(Debug, Clone, Copy, Default)]
pub struct EchoServer;

impl tonic::server::NamedService for EchoServer {
    const NAME: &'static str = SERVICE;
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

fn code_of(name: &str) -> Code {
    Code::from_i32(name.parse().unwrap_or(2))
}

struct Say;
impl tonic::server::UnaryService<Bytes> for Say {
    type Response = Bytes;
    type Future = BoxFuture<Result<tonic::Response<Bytes>, Status>>;
    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        Box::pin(async move {
            if let (Some(cx), true) = (
                request.extensions().get::<opentelemetry::Context>(),
                request.get_ref() == "whoami",
            ) {
                use opentelemetry::trace::TraceContextExt;
                let sc = cx.span().span_context().clone();
                let who = format!("{}-{}", sc.trace_id(), sc.span_id());
                return Ok(tonic::Response::new(Bytes::from(who)));
            }
            let msg = request.into_inner();
            let text = std::str::from_utf8(&msg).unwrap_or_default();
            if let Some(ms) = text.strip_prefix("sleep:").and_then(|ms| ms.parse().ok()) {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            match text.strip_prefix("fail:") {
                Some(code) => Err(Status::new(code_of(code), "asked to fail")),
                None => Ok(tonic::Response::new(msg)),
            }
        })
    }
}

struct Streamer;
impl tonic::server::ServerStreamingService<Bytes> for Streamer {
    type Response = Bytes;
    type ResponseStream = Pin<Box<dyn futures_core::Stream<Item = Result<Bytes, Status>> + Send>>;
    type Future = BoxFuture<Result<tonic::Response<Self::ResponseStream>, Status>>;
    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        Box::pin(async move {
            let msg = String::from_utf8_lossy(&request.into_inner()).into_owned();
            let (n, code) = msg.split_once(':').unwrap_or((&msg, "0"));
            let n: usize = n.parse().unwrap_or(1);
            let code = code_of(code);
            let mut items: Vec<Result<Bytes, Status>> =
                (0..n).map(|i| Ok(Bytes::from(i.to_string()))).collect();
            if code != Code::Ok {
                items.push(Err(Status::new(code, "stream failed")));
            }
            let stream: Self::ResponseStream = Box::pin(IterStream(items.into_iter()));
            Ok(tonic::Response::new(stream))
        })
    }
}

struct Chat;
impl tonic::server::StreamingService<Bytes> for Chat {
    type Response = Bytes;
    // The client's messages, answered as they come.
    type ResponseStream = tonic::Streaming<Bytes>;
    type Future = BoxFuture<Result<tonic::Response<Self::ResponseStream>, Status>>;
    fn call(&mut self, request: tonic::Request<tonic::Streaming<Bytes>>) -> Self::Future {
        Box::pin(async move { Ok(tonic::Response::new(request.into_inner())) })
    }
}

struct IterStream<I>(I);
impl<I: Iterator + Unpin> futures_core::Stream for IterStream<I> {
    type Item = I::Item;
    fn poll_next(
        self: Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<I::Item>> {
        std::task::Poll::Ready(self.get_mut().0.next())
    }
}

impl<B> tower::Service<Request<B>> for EchoServer
where
    B: http_body::Body + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    type Response = Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        match request.uri().path() {
            "/test.Echo/Say" => Box::pin(async move {
                Ok(tonic::server::Grpc::new(BytesCodec)
                    .unary(Say, request)
                    .await)
            }),
            "/test.Echo/Stream" => Box::pin(async move {
                Ok(tonic::server::Grpc::new(BytesCodec)
                    .server_streaming(Streamer, request)
                    .await)
            }),
            "/test.Echo/Chat" => Box::pin(async move {
                Ok(tonic::server::Grpc::new(BytesCodec)
                    .streaming(Chat, request)
                    .await)
            }),
            _ => Box::pin(async move { Ok(Status::unimplemented("no such method").into_http()) }),
        }
    }
}

/// A channel to `addr`.
///
/// # Panics
///
/// When `addr` cannot be connected to (these are examples and tests).
pub async fn channel(addr: SocketAddr) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect")
}

/// Calls `Say` with `message` (plus metadata `headers`).
///
/// # Errors
///
/// The call's status when it is not OK.
///
/// # Panics
///
/// When a metadata value is not a valid header value.
pub async fn say<T>(
    client: T,
    message: &str,
    headers: &[(&'static str, &str)],
) -> Result<Bytes, Status>
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::ResponseBody: http_body::Body<Data = Bytes> + Send + 'static,
    <T::ResponseBody as http_body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    T::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut grpc = tonic::client::Grpc::new(client);
    grpc.ready()
        .await
        .map_err(|e| Status::unknown(e.into().to_string()))?;
    let mut request = tonic::Request::new(Bytes::from(message.to_owned()));
    for (k, v) in headers {
        request
            .metadata_mut()
            .insert(*k, v.parse().expect("metadata"));
    }
    let path = http::uri::PathAndQuery::from_static("/test.Echo/Say");
    grpc.unary(request, path, BytesCodec)
        .await
        .map(tonic::Response::into_inner)
}

/// Calls `Stream` with `message`; returns the messages received and the final status.
///
/// # Panics
///
/// Never in practice: the path is static.
pub async fn stream<T>(client: T, message: &str) -> (Vec<Bytes>, Result<(), Status>)
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::ResponseBody: http_body::Body<Data = Bytes> + Send + 'static,
    <T::ResponseBody as http_body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    T::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut grpc = tonic::client::Grpc::new(client);
    if let Err(e) = grpc.ready().await {
        return (Vec::new(), Err(Status::unknown(e.into().to_string())));
    }
    let path = http::uri::PathAndQuery::from_static("/test.Echo/Stream");
    let request = tonic::Request::new(Bytes::from(message.to_owned()));
    let mut stream = match grpc.server_streaming(request, path, BytesCodec).await {
        Ok(response) => response.into_inner(),
        Err(status) => return (Vec::new(), Err(status)),
    };
    let mut got = Vec::new();
    loop {
        match stream.message().await {
            Ok(Some(m)) => got.push(m),
            Ok(None) => return (got, Ok(())),
            Err(status) => return (got, Err(status)),
        }
    }
}

/// The messages of a client stream, as a task sends them.
struct Outgoing(tokio::sync::mpsc::Receiver<Bytes>);

impl futures_core::Stream for Outgoing {
    type Item = Bytes;
    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Bytes>> {
        self.0.poll_recv(cx)
    }
}

/// Calls `Chat`, sending `messages` `interval` apart (and ending the client's stream
/// `interval` after the last); returns the answers received and the final status.
///
/// # Panics
///
/// Never in practice: the path is static.
pub async fn chat<T>(
    client: T,
    messages: &[&str],
    interval: Duration,
) -> (Vec<Bytes>, Result<(), Status>)
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::ResponseBody: http_body::Body<Data = Bytes> + Send + 'static,
    <T::ResponseBody as http_body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    T::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut grpc = tonic::client::Grpc::new(client);
    if let Err(e) = grpc.ready().await {
        return (Vec::new(), Err(Status::unknown(e.into().to_string())));
    }
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let messages: Vec<Bytes> = messages
        .iter()
        .map(|m| Bytes::from((*m).to_owned()))
        .collect();
    tokio::spawn(async move {
        for message in messages {
            if tx.send(message).await.is_err() {
                return;
            }
            tokio::time::sleep(interval).await;
        }
    });
    let path = http::uri::PathAndQuery::from_static("/test.Echo/Chat");
    let mut stream = match grpc
        .streaming(tonic::Request::new(Outgoing(rx)), path, BytesCodec)
        .await
    {
        Ok(response) => response.into_inner(),
        Err(status) => return (Vec::new(), Err(status)),
    };
    let mut got = Vec::new();
    loop {
        match stream.message().await {
            Ok(Some(m)) => got.push(m),
            Ok(None) => return (got, Ok(())),
            Err(status) => return (got, Err(status)),
        }
    }
}
