use std::task::{Context as TaskContext, Poll};

use http::{Request, Response};
use tower_service::Service;

use super::guard::Guard;
use super::{Now, ObserveLayer, ObservedError, Observer, Record, ResponseBody, ResponseFuture};

/// The lifecycle middleware: calls the [`Observer`] for each request and returns a
/// [`ResponseFuture`] that drives its record to the end of the response.
///
/// See the [module docs](super).
#[derive(Debug, Clone, Copy)]
pub struct Observe<S, O> {
    inner: S,
    observer: O,
}

impl<S, O> Observe<S, O> {
    /// Wraps `inner`.
    pub const fn new(inner: S, observer: O) -> Self {
        Observe { inner, observer }
    }

    /// A layer that wraps services with `observer`.
    pub const fn layer(observer: O) -> ObserveLayer<O> {
        ObserveLayer::new(observer)
    }

    /// The observer.
    pub fn observer(&self) -> &O {
        &self.observer
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, O, ReqBody, ResBody> Service<Request<ReqBody>> for Observe<S, O>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: ObservedError,
    O: Observer<ReqBody>,
    ResBody: http_body::Body,
{
    type Response = Response<ResponseBody<ResBody, O::Record>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, O::Record>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let record = self.observer.on_request(&mut request, &Now::new());
        let inner = match record.as_ref().and_then(Record::context) {
            Some(cx) => {
                // Current while the inner service builds its future (axum runs extractors
                // lazily, but other services do work in `call`).
                let _current = cx.clone().attach();
                self.inner.call(request)
            }
            None => self.inner.call(request),
        };
        ResponseFuture::new(inner, Guard::new(record))
    }
}
