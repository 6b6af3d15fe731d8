//! Fixtures for the end-to-end tests in `tests/`: real servers on 127.0.0.1 (port 0), real
//! clients, the OpenTelemetry SDK with its in-memory exporter, and a small gRPC service that
//! needs no `protoc` (messages are raw bytes).

// Fixtures panic on a setup failure (a port that cannot be bound): that is a failed test.
#![allow(clippy::missing_panics_doc)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, SpanData};
use tokio::net::TcpListener;
use tower_telemetry::testing::TestTelemetry;

/// Spans, on the kit users get (`tower_telemetry::testing`): the SDK with a synchronous
/// in-memory exporter, so a span is in [`Tracing::spans`] as soon as it ends.
#[derive(Debug, Clone)]
pub struct Tracing(TestTelemetry);

impl Default for Tracing {
    fn default() -> Self {
        Self::new()
    }
}

impl Tracing {
    /// A provider sampling everything (parent-based, always on).
    pub fn new() -> Self {
        Tracing(TestTelemetry::new())
    }

    /// A provider with `sampler`.
    pub fn with_sampler(sampler: impl opentelemetry_sdk::trace::ShouldSample + 'static) -> Self {
        Tracing(TestTelemetry::with_sampler(sampler))
    }

    /// The provider.
    pub fn provider(&self) -> &SdkTracerProvider {
        self.0.tracer_provider()
    }

    /// The kit underneath, for what these fixtures don't wrap (log lines per trace).
    pub fn telemetry(&self) -> &TestTelemetry {
        &self.0
    }

    /// A tracer of this provider.
    pub fn tracer(&self) -> SdkTracer {
        self.0.tracer("integration-tests")
    }

    /// The spans that have ended so far.
    pub fn spans(&self) -> Vec<SpanData> {
        self.0.spans().into_iter().map(|s| s.into_data()).collect()
    }

    /// Waits (at most 5 s) until `n` spans have ended, for spans that end on another task
    /// (a server noticing a client disconnect), and returns them.
    ///
    /// # Panics
    ///
    /// When fewer than `n` spans end in time.
    pub async fn wait_for(&self, n: usize) -> Vec<SpanData> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let spans = self.spans();
            if spans.len() >= n {
                return spans;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "expected {n} spans, got {}:\n{}",
                spans.len(),
                self.0.dump_spans()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// The value of attribute `key` on `span`.
pub fn attr(span: &SpanData, key: &str) -> Option<opentelemetry::Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

/// The string value of attribute `key`.
pub fn attr_str(span: &SpanData, key: &str) -> Option<String> {
    attr(span, key).map(|v| v.as_str().into_owned())
}

/// The integer value of attribute `key`.
pub fn attr_i64(span: &SpanData, key: &str) -> Option<i64> {
    match attr(span, key)? {
        opentelemetry::Value::I64(v) => Some(v),
        other => panic!("{key} is not an integer: {other:?}"),
    }
}

/// The span's duration in seconds: the value its histogram point must hold.
pub fn seconds(span: &SpanData) -> f64 {
    span.end_time
        .duration_since(span.start_time)
        .expect("a span ends after it starts")
        .as_secs_f64()
}

/// The point whose attributes are exactly `pairs`.
///
/// # Panics
///
/// When there is none, with every point.
pub fn point<'a>(points: &'a [HistogramPoint], pairs: &[(&str, &str)]) -> &'a HistogramPoint {
    let want: std::collections::BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    points
        .iter()
        .find(|p| p.attributes == want)
        .unwrap_or_else(|| panic!("no point with {want:?} in {points:#?}"))
}

/// Metrics, on the kit users get (`tower_telemetry::testing`): each read collects first, no
/// sleeping.
#[derive(Debug, Clone)]
pub struct Metrics(TestTelemetry);

pub use tower_telemetry::testing::HistogramPoint;

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A meter provider whose reader only runs when asked.
    pub fn new() -> Self {
        Metrics(TestTelemetry::new())
    }

    /// A meter of this provider.
    pub fn meter(&self) -> opentelemetry::metrics::Meter {
        self.0.meter("integration-tests")
    }

    /// The data points of histogram `name` (empty when nothing was recorded).
    pub fn histogram(&self, name: &str) -> Vec<HistogramPoint> {
        self.0.histogram(name).points().to_vec()
    }

    /// The data points of the (up-down) counter `name`: attributes and value.
    #[allow(clippy::cast_possible_truncation)]
    pub fn sum(&self, name: &str) -> Vec<(std::collections::BTreeMap<String, String>, i64)> {
        self.0
            .sum(name)
            .points()
            .iter()
            .map(|p| (p.attributes.clone(), p.value as i64))
            .collect()
    }

    /// The unit of instrument `name`.
    pub fn unit(&self, name: &str) -> Option<String> {
        self.0.unit(name)
    }
}

/// A tonic server on 127.0.0.1 with the echo service behind `$layer`
/// (`Server::builder().layer($layer)`); evaluates to its address.
#[macro_export]
macro_rules! serve_echo {
    ($layer:expr) => {
        $crate::serve_tonic(|incoming| {
            tonic::transport::Server::builder()
                .layer($layer)
                .add_service($crate::grpc::EchoServer)
                .serve_with_incoming(incoming)
        })
    };
}

async fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    (listener, addr)
}

/// A collector on 127.0.0.1 that accepts connections and never answers (a stalled exporter
/// endpoint).
pub async fn black_hole() -> SocketAddr {
    let (listener, addr) = listener().await;
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    addr
}

/// Serves an axum router on 127.0.0.1 (HTTP/1.1 and HTTP/2 prior knowledge), with
/// `ConnectInfo<SocketAddr>`.
pub async fn serve_axum(router: axum::Router) -> SocketAddr {
    let (listener, addr) = listener().await;
    let app = router.into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await.expect("axum server") });
    addr
}

/// Serves a tower service with hyper-util's auto (HTTP/1.1 + h2c) connection builder, inserting
/// [`tower_telemetry_trace::PeerAddr`] into each request.
pub async fn serve_hyper<S, B>(service: S) -> SocketAddr
where
    S: tower::Service<Request<hyper::body::Incoming>, Response = Response<B>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    use tower::ServiceExt;
    let (listener, addr) = listener().await;
    tokio::spawn(async move {
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                return;
            };
            let svc =
                service
                    .clone()
                    .map_request(move |mut req: Request<hyper::body::Incoming>| {
                        req.extensions_mut()
                            .insert(tower_telemetry_trace::PeerAddr(peer));
                        req
                    });
            tokio::spawn(async move {
                let svc = hyper_util::service::TowerToHyperService::new(svc);
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

/// Sends `method path` to `addr` over HTTP/1.1 with `headers` and `body`; the status and the
/// body as text.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (http::StatusCode, String) {
    use http_body_util::BodyExt;
    let mut request = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let body = http_body_util::Full::new(Bytes::from(body.to_owned()));
    let response = http1_client()
        .request(request.body(body).expect("request"))
        .await
        .expect("response");
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// `GET path` with `headers`; see [`send`].
pub async fn get(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> (http::StatusCode, String) {
    send(addr, "GET", path, headers, "").await
}

/// Binds 127.0.0.1:0 and spawns the tonic server `serve` builds on it, e.g.
/// `|incoming| Server::builder().layer(layer).add_service(EchoServer).serve_with_incoming(incoming)`.
pub async fn serve_tonic<F, Fut>(serve: F) -> SocketAddr
where
    F: FnOnce(tonic::transport::server::TcpIncoming) -> Fut,
    Fut: Future<Output = Result<(), tonic::transport::Error>> + Send + 'static,
{
    let (listener, addr) = listener().await;
    let server = serve(tonic::transport::server::TcpIncoming::from(listener));
    tokio::spawn(async move { server.await.expect("tonic server") });
    addr
}

/// A pooled HTTP/1.1 client.
pub fn http1_client() -> hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    http_body_util::Full<Bytes>,
> {
    hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http()
}

/// An HTTP/2 (prior knowledge, h2c) client.
pub fn http2_client() -> hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    http_body_util::Full<Bytes>,
> {
    hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http()
}

// === gRPC ===

/// The protoc-free gRPC test service, shared with the examples.
pub use examples::grpc;

// === the built examples, as processes ===

/// An example binary started as a process (as users run it), killed when dropped.
#[derive(Debug)]
pub struct ExampleProcess {
    child: std::process::Child,
    /// The address it printed it listens on.
    pub addr: SocketAddr,
    /// What it wrote to stderr, collected by a thread.
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl ExampleProcess {
    /// Starts `target/<profile>/examples/<name>` (built by `cargo test --workspace`) with
    /// `PORT=0` and `env`, and waits (at most 60 s) for its `listening on http://ADDR` line.
    ///
    /// # Panics
    ///
    /// When the binary is missing or does not start listening.
    pub fn start(name: &str, env: &[(&str, &str)]) -> Self {
        Self::start_with_args(name, &[], env)
    }

    /// [`ExampleProcess::start`] with command-line arguments.
    ///
    /// # Panics
    ///
    /// When the binary is missing or does not start listening.
    pub fn start_with_args(name: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::spawn(name, args, env, None)
    }

    /// [`ExampleProcess::start`] under a limit of `files` open file descriptors (the soft and
    /// hard `RLIMIT_NOFILE`, set by the shell's `ulimit -n` before it runs the example).
    ///
    /// # Panics
    ///
    /// When the binary is missing or does not start listening.
    pub fn start_with_file_limit(name: &str, files: u32, env: &[(&str, &str)]) -> Self {
        Self::spawn(name, &[], env, Some(files))
    }

    fn spawn(name: &str, args: &[&str], env: &[(&str, &str)], files: Option<u32>) -> Self {
        use std::io::{BufRead, Read};
        let exe = std::env::current_exe().expect("test binary path");
        let dir = exe
            .parent()
            .and_then(std::path::Path::parent)
            .expect("target dir");
        let bin = dir.join("examples").join(name);
        assert!(
            bin.exists(),
            "{} not built (cargo test --workspace builds it)",
            bin.display()
        );
        let mut command = match files {
            None => std::process::Command::new(&bin),
            Some(files) => {
                // `exec`: the example keeps the shell's process id (signals reach it).
                let mut command = std::process::Command::new("sh");
                command
                    .arg("-c")
                    .arg(format!("ulimit -n {files} && exec \"$0\" \"$@\""))
                    .arg(&bin);
                command
            }
        };
        let mut child = command
            .args(args)
            .env("PORT", "0")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start the example");
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut err = child.stderr.take().expect("stderr");
        let collected = std::sync::Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                collected
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if let Some(addr) = line.split("listening on http://").nth(1) {
                    let _ = tx.send(addr.trim().to_owned());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("{name} did not start: {}", stderr.lock().unwrap()));
        ExampleProcess {
            child,
            addr: addr.parse().expect("an address"),
            stderr,
        }
    }

    /// Sends `signal` (e.g. `"TERM"`, `"INT"`) with `kill -s`.
    ///
    /// # Panics
    ///
    /// When `kill` cannot run.
    pub fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .args(["-s", signal, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -s {signal}");
    }

    /// Waits at most `limit` for the process to exit; its exit status, or `None` if it is still
    /// running.
    ///
    /// # Panics
    ///
    /// When waiting fails.
    pub fn wait_for_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return Some(status);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends `signal` and waits (without blocking the runtime) at most `limit` for the process
    /// to exit; its exit status (`None` if still running) and how long it took.
    ///
    /// # Panics
    ///
    /// When `kill` or waiting fails.
    pub async fn stop(
        &mut self,
        signal: &str,
        limit: Duration,
    ) -> (Option<std::process::ExitStatus>, Duration) {
        let started = std::time::Instant::now();
        self.signal(signal);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return (Some(status), started.elapsed());
            }
            if started.elapsed() >= limit {
                return (None, started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// What it wrote to stderr so far.
    ///
    /// # Panics
    ///
    /// When the collecting thread panicked.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for ExampleProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// === logs ===

/// Log output captured in memory: a `tracing_subscriber::fmt::MakeWriter` whose lines the test
/// reads back ([`LogCapture::lines`], [`LogCapture::json`]).
#[derive(Debug, Clone, Default)]
pub struct LogCapture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

/// One writer of a [`LogCapture`].
#[derive(Debug)]
pub struct LogWriter(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogCapture {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> LogWriter {
        LogWriter(std::sync::Arc::clone(&self.0))
    }
}

impl LogCapture {
    /// A new, empty capture.
    pub fn new() -> Self {
        Self::default()
    }

    /// The lines written so far.
    pub fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().expect("log buffer").clone();
        String::from_utf8(bytes)
            .expect("UTF-8 logs")
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The lines written so far, each parsed as a JSON object.
    ///
    /// # Panics
    ///
    /// When a line is not JSON.
    pub fn json(&self) -> Vec<serde_json::Value> {
        self.lines()
            .iter()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect()
    }
}
