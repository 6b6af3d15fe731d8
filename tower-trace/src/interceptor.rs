//! Propagation-only tonic interceptors (feature `tonic`).
//!
//! An interceptor sees only the request: it cannot time the call, read the status from the
//! trailers, or end a span when the response ends. So these make **no spans**; they only
//! carry the context across. For spans, use the layers: [`TraceLayer`](crate::TraceLayer) on
//! `Server::builder().layer(...)` and [`ClientTraceLayer`](crate::ClientTraceLayer) around the
//! `Channel`, which do everything these do and record the call.
//!
//! ```no_run
//! # async fn run(channel: tonic::transport::Channel) {
//! use tower_telemetry_trace::interceptor::inject_context;
//! // e.g. GreeterClient::with_interceptor(channel, inject_context)
//! let intercepted = tonic::service::interceptor::InterceptedService::new(channel, inject_context);
//! # let _ = intercepted; }
//! ```

use http::HeaderMap;
use opentelemetry::Context;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::service::Interceptor;
use tonic::{Request, Status};
use tower_telemetry_propagation::{HeaderPropagator, Propagator};

/// Client side: writes the current context (or a `Context` in the request's extensions) into
/// the request's metadata.
#[derive(Debug, Clone, Copy, Default)]
pub struct InjectContext<P = Propagator> {
    propagator: P,
}

impl InjectContext {
    /// Injects W3C Trace Context.
    pub const fn new() -> Self {
        InjectContext {
            propagator: Propagator::w3c(),
        }
    }
}

impl<P> InjectContext<P> {
    /// Injects with `propagator` (e.g. `Propagator::w3c_and_cloud_trace()`).
    pub const fn with_propagator(propagator: P) -> Self {
        InjectContext { propagator }
    }
}

impl<P: HeaderPropagator> Interceptor for InjectContext<P> {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let cx = request
            .extensions()
            .get::<Context>()
            .cloned()
            .unwrap_or_else(Context::current);
        let mut headers = HeaderMap::new();
        self.propagator.inject_headers(&cx, &mut headers);
        let metadata = request.metadata_mut();
        let mut last = None;
        for (name, value) in headers {
            // `into_iter` gives the name only on the first value of each header.
            let name = match name {
                Some(name) => {
                    last = Some(name.clone());
                    name
                }
                None => match &last {
                    Some(name) => name.clone(),
                    None => continue,
                },
            };
            if let (Ok(key), Ok(value)) = (
                MetadataKey::from_bytes(name.as_str().as_bytes()),
                MetadataValue::try_from(value.as_bytes()),
            ) {
                metadata.insert(key, value);
            }
        }
        Ok(request)
    }
}

/// [`InjectContext::new`] as a function, for `Client::with_interceptor(channel, inject_context)`.
///
/// # Errors
///
/// Never: a context that cannot be written is left out.
pub fn inject_context(request: Request<()>) -> Result<Request<()>, Status> {
    InjectContext::new().call(request)
}

/// Server side: reads the caller's context from the metadata and puts it into the request's
/// extensions as an `opentelemetry::Context` (take it with `request.extensions().get()`).
#[derive(Debug, Clone, Copy)]
pub struct ExtractContext<P = Propagator> {
    propagator: P,
}

impl ExtractContext {
    /// Extracts W3C Trace Context, with OpenCensus `grpc-trace-bin` as a fallback: what the
    /// server layer's default propagator reads (`Propagator::w3c().with_grpc_trace_bin()`),
    /// so a caller still on OpenCensus gRPC joins the trace either way.
    pub const fn new() -> Self {
        ExtractContext {
            propagator: Propagator::w3c().with_grpc_trace_bin(),
        }
    }
}

impl Default for ExtractContext {
    /// [`ExtractContext::new`].
    fn default() -> Self {
        ExtractContext::new()
    }
}

impl<P> ExtractContext<P> {
    /// Extracts with `propagator` (e.g. `Propagator::cloud_trace_one_way()`).
    pub const fn with_propagator(propagator: P) -> Self {
        ExtractContext { propagator }
    }
}

impl<P: HeaderPropagator> Interceptor for ExtractContext<P> {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        // Borrow the metadata as headers without copying it.
        let headers = std::mem::take(request.metadata_mut()).into_headers();
        let cx = self.propagator.extract_headers(&headers, &Context::new());
        *request.metadata_mut() = MetadataMap::from_headers(headers);
        request.extensions_mut().insert(cx);
        Ok(request)
    }
}

/// [`ExtractContext::new`] as a function, for `Server::with_interceptor(service, extract_context)`:
/// reads `traceparent`, else `grpc-trace-bin`.
///
/// # Errors
///
/// Never: a malformed context is ignored (a fresh trace starts).
pub fn extract_context(request: Request<()>) -> Result<Request<()>, Status> {
    ExtractContext::new().call(request)
}
