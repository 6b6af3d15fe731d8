//! The client lifecycle for reqwest, as a `reqwest_middleware::Middleware`.

use std::sync::Arc;

use http::Extensions;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::Tracer;
use reqwest_middleware::{Middleware, Next};
use tower_telemetry_propagation::Propagator;

use super::ClientObserver;
use crate::ClientTraceLayer;
use crate::lifecycle::Conventions;
use crate::lifecycle::{
    ErrorRef, IntoObserveLayer, ObserveLayer, Observer, Outcome, Record, service,
};
use crate::route::{DefaultRoute, MakeRoute, RequestPredicate};
use crate::span::hooks::SpanHooks;
use crate::view::ResponseInfo;

/// Client spans, context injection and (with a fused metrics layer) client metrics for
/// `reqwest` through `reqwest-middleware`: the same lifecycle, facts and configuration as
/// [`ClientTraceLayer`].
///
/// ```no_run
/// # async fn run() -> reqwest_middleware::Result<()> {
/// use opentelemetry::global;
/// use tower_telemetry_trace::TraceMiddleware;
///
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(TraceMiddleware::new(global::tracer("my-service")))
///     .build();
/// let response = client.get("http://127.0.0.1:8080/users/1").send().await?;
/// # let _ = response; Ok(()) }
/// ```
///
/// Any client layer works through [`from_layer`](Self::from_layer): a configured
/// `ClientTraceLayer`, the metrics crate's client `MetricsLayer`, or both fused
/// (`ClientTraceLayer::client(tracer).with_metrics(&meter)`), which records
/// `http.client.request.duration` with the span's duration, and `error.type` `connect` or
/// `timeout` for transport failures.
///
/// The parent is a `Context` in the request's `reqwest_middleware` extensions if present,
/// else `Context::current()`. The call ends when the response head arrives.
pub struct TraceMiddleware<
    O = ClientObserver<opentelemetry::global::BoxedTracer, Propagator, SpanHooks>,
    R = DefaultRoute,
    F = (),
> {
    conventions: Arc<Conventions<R, F>>,
    observer: O,
}

impl TraceMiddleware {
    /// A middleware with `tracer`, W3C propagation and the HTTP conventions.
    pub fn new<T: Tracer>(tracer: T) -> TraceMiddleware<ClientObserver<T, Propagator, SpanHooks>> {
        TraceMiddleware::from_layer(ClientTraceLayer::client_http(tracer))
    }
}

impl<O, R, F> TraceMiddleware<O, R, F> {
    /// A middleware driving `layer`'s lifecycle: its conventions and observer.
    pub fn from_layer<L>(layer: L) -> Self
    where
        L: IntoObserveLayer<Observer = O, Route = R, Filter = F>,
        O: Clone,
    {
        let layer: ObserveLayer<O, R, F> = layer.into_observe_layer();
        TraceMiddleware {
            conventions: layer.conventions_owned(),
            observer: layer.observer().clone(),
        }
    }
}

impl<O: std::fmt::Debug, R, F> std::fmt::Debug for TraceMiddleware<O, R, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceMiddleware")
            .field("conventions", &self.conventions)
            .field("observer", &self.observer)
            .finish()
    }
}

#[async_trait::async_trait]
impl<O, R, F> Middleware for TraceMiddleware<O, R, F>
where
    O: Observer<()> + Send + Sync + 'static,
    O::Record: Send,
    R: MakeRoute + Send + Sync + 'static,
    F: RequestPredicate + Send + Sync + 'static,
{
    async fn handle(
        &self,
        mut request: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        // The lifecycle reads an `http::Request`: lend it the headers and extensions (moves, no
        // copies) and give them back. reqwest speaks `url::Url`, parsed once as an `http::Uri`.
        let mut lent = http::Request::new(());
        *lent.method_mut() = request.method().clone();
        *lent.uri_mut() = request.url().as_str().parse().unwrap_or_default();
        *lent.version_mut() = request.version();
        *lent.headers_mut() = std::mem::take(request.headers_mut());
        *lent.extensions_mut() = std::mem::take(extensions);
        let mut guard = service::start(&self.conventions, &self.observer, &mut lent);
        *request.headers_mut() = std::mem::take(lent.headers_mut());
        *extensions = std::mem::take(lent.extensions_mut());

        let cx = guard.record().and_then(Record::context).cloned();
        let call = next.run(request, extensions);
        // The call's `tracing` span, entered while the call is polled (when anyone listens).
        #[cfg(feature = "tracing")]
        let call = tracing::Instrument::instrument(
            call,
            guard
                .record()
                .and_then(Record::tracing_span)
                .cloned()
                .unwrap_or_else(tracing::Span::none),
        );
        let result = match cx {
            Some(cx) => call.with_context(cx).await,
            None => call.await,
        };
        match &result {
            Ok(response) => {
                let head = ResponseInfo::from_parts(
                    response.status(),
                    response.version(),
                    response.headers(),
                );
                guard.on_response(&head, false);
                guard.finish(Outcome::Complete);
            }
            Err(error) => guard.finish(Outcome::ServiceError(ErrorRef::new(error))),
        }
        result
    }
}
