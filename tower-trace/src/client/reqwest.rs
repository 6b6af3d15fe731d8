//! The client layer for reqwest, as a `reqwest_middleware::Middleware`.

use http::Extensions;
use opentelemetry::Context;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::Tracer;
use propagation::{HeaderPropagator, Propagator};
use reqwest_middleware::{Middleware, Next};

use super::observer::{ClientObserver, OutgoingRequest};
use crate::ClientTraceLayer;
use crate::lifecycle::guard::Guard;
use crate::lifecycle::{ErrorRef, Now, Outcome};

/// Client spans and context injection for `reqwest` through `reqwest-middleware`, with the
/// same behaviour as [`ClientTraceLayer`] (whose configuration it takes).
///
/// ```no_run
/// # async fn run() -> reqwest_middleware::Result<()> {
/// use opentelemetry::global;
/// use tower_trace::{ClientTraceLayer, TraceMiddleware};
///
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(TraceMiddleware::new(global::tracer("my-service")))
///     .build();
/// let response = client.get("http://127.0.0.1:8080/users/1").send().await?;
/// # let _ = response; Ok(()) }
/// ```
///
/// The parent is a `Context` in the request's `reqwest_middleware` extensions if present,
/// else `Context::current()`. The span ends when the response head arrives.
pub struct TraceMiddleware<T, P = Propagator> {
    observer: ClientObserver<T, P>,
}

impl<T: Tracer> TraceMiddleware<T> {
    /// A middleware with `tracer` and W3C propagation.
    pub fn new(tracer: T) -> Self {
        Self::from_layer(&ClientTraceLayer::client_http(tracer))
    }
}

impl<T: Tracer, P: Clone> TraceMiddleware<T, P> {
    /// A middleware configured like `layer` (propagator, redaction, …).
    pub fn from_layer(layer: &ClientTraceLayer<T, P>) -> Self {
        TraceMiddleware {
            observer: layer.observer(),
        }
    }
}

impl<T, P> std::fmt::Debug for TraceMiddleware<T, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceMiddleware")
            .field("observer", &self.observer)
            .finish()
    }
}

#[async_trait::async_trait]
impl<T, P> Middleware for TraceMiddleware<T, P>
where
    T: Tracer + Send + Sync + 'static,
    T::Span: Send + Sync + 'static,
    P: HeaderPropagator + Send + Sync + 'static,
{
    async fn handle(
        &self,
        mut request: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let method = request.method().clone();
        // reqwest speaks `url::Url`; the observer reads an `http::Uri`.
        let uri: http::Uri = request.url().as_str().parse().unwrap_or_default();
        let parent = extensions.get::<Context>().cloned();
        let record = self.observer.start(
            &mut OutgoingRequest {
                method: &method,
                uri: &uri,
                headers: request.headers_mut(),
                parent: parent.as_ref(),
            },
            &Now::new(),
        );
        let cx = record
            .as_ref()
            .and_then(|r| crate::lifecycle::Record::context(r).cloned());
        let mut guard = Guard::new(record);
        let result = match cx {
            Some(cx) => next.run(request, extensions).with_context(cx).await,
            None => next.run(request, extensions).await,
        };
        match &result {
            Ok(response) => {
                if let Some(record) = guard.record_mut() {
                    record.on_head(response.status(), response.version(), response.headers());
                }
                guard.finish(Outcome::Complete);
            }
            Err(error) => guard.finish(Outcome::ServiceError(ErrorRef::new(error))),
        }
        result
    }
}

/// `error.type` for reqwest's errors, which say what they are.
pub(crate) fn error_type(error: &ErrorRef<'_>) -> Option<&'static str> {
    let reqwest_error = match error.downcast_ref::<reqwest_middleware::Error>()? {
        reqwest_middleware::Error::Reqwest(e) => e,
        reqwest_middleware::Error::Middleware(_) => return None,
    };
    if reqwest_error.is_timeout() {
        Some(crate::error_type::TIMEOUT)
    } else if reqwest_error.is_connect() {
        Some(crate::error_type::CONNECT)
    } else {
        Some("reqwest::Error")
    }
}
