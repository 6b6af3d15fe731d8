use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll, ready};

use http::Response;
use http_body::Body;
use pin_project_lite::pin_project;

use super::guard::Guard;
use super::{ErrorRef, ObservedError, Outcome, Record, ResponseBody};
use crate::view::ResponseInfo;

pin_project! {
    /// The response future of [`Observe`](super::Observe): makes the record's context current
    /// (and enters its `tracing` span) while the inner future runs, then moves the record into
    /// the [`ResponseBody`].
    ///
    /// Dropped before completion, it finishes the record as [`Outcome::Cancelled`].
    pub struct ResponseFuture<F, R: Record> {
        #[pin]
        inner: F,
        guard: Guard<R>,
    }
}

impl<F, R: Record> ResponseFuture<F, R> {
    pub(crate) fn new(inner: F, guard: Guard<R>) -> Self {
        ResponseFuture { inner, guard }
    }
}

impl<F, R, B, E> Future for ResponseFuture<F, R>
where
    F: Future<Output = Result<Response<B>, E>>,
    R: Record,
    B: Body,
    E: ObservedError,
{
    type Output = Result<Response<ResponseBody<B, R>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = {
            let _polling = this.guard.poll_future();
            ready!(this.inner.poll(cx))
        };
        match result {
            Ok(mut response) => {
                let mut guard = this.guard.take();
                if guard.is_armed() {
                    guard.write_response_headers(response.headers_mut());
                    // An empty body may never be polled: it ends at the head.
                    let empty = response.body().is_end_stream();
                    guard.on_response(&ResponseInfo::new(&response), empty);
                }
                Poll::Ready(Ok(response.map(|body| ResponseBody::new(body, guard))))
            }
            Err(error) => {
                this.guard
                    .finish(Outcome::ServiceError(ErrorRef::new(&error)));
                Poll::Ready(Err(error))
            }
        }
    }
}

impl<F, R: Record> std::fmt::Debug for ResponseFuture<F, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("guard", &self.guard)
            .finish_non_exhaustive()
    }
}
