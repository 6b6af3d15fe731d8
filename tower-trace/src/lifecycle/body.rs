use std::pin::Pin;
use std::task::{Context as TaskContext, Poll, ready};

use bytes::Buf;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::guard::Guard;
use super::{ErrorRef, ObservedError, Outcome, Record};
use crate::conventions::grpc_web::TrailerScan;

pin_project! {
    /// The response body of [`Observe`](super::Observe): passes every frame through unchanged
    /// and finishes the record at the true end of the response (see the
    /// [module docs](super)). Dropped before the end, it finishes as
    /// [`Outcome::Cancelled`].
    ///
    /// For a gRPC-Web answer it also reads the frame headers as the bytes go by, and ends the
    /// call at its trailer frame with the status found there (see
    /// [`Facts::grpc_web`](super::Facts::grpc_web)).
    pub struct ResponseBody<B, R: Record> {
        #[pin]
        inner: B,
        guard: Guard<R>,
        // Boxed: only gRPC-Web answers pay for it.
        web: Option<Box<TrailerScan>>,
    }
}

impl<B, R: Record> ResponseBody<B, R> {
    pub(crate) fn new(inner: B, guard: Guard<R>) -> Self {
        let web = guard
            .facts()
            .and_then(|facts| facts.grpc_web())
            .map(|encoding| Box::new(TrailerScan::new(encoding)));
        ResponseBody { inner, guard, web }
    }
}

/// Reads `data` into a gRPC-Web scan without consuming it; the trailers when its trailer
/// frame completes. A buffer whose bytes cannot all be seen without consuming it (more
/// pieces than one look shows) ends the scan: the call is then judged without a status.
fn scan<D: Buf>(scan: &mut TrailerScan, data: &D) -> Option<http::HeaderMap> {
    let chunk = data.chunk();
    if chunk.len() == data.remaining() {
        return scan.feed(chunk);
    }
    let mut slices = [std::io::IoSlice::new(&[]); 16];
    let n = data.chunks_vectored(&mut slices);
    if slices[..n].iter().map(|s| s.len()).sum::<usize>() < data.remaining() {
        scan.stop();
        return None;
    }
    slices[..n].iter().find_map(|slice| scan.feed(slice))
}

impl<B, R> Body for ResponseBody<B, R>
where
    B: Body,
    B::Error: ObservedError,
    R: Record,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        let frame = {
            let _polling = this.guard.poll_body();
            ready!(this.inner.as_mut().poll_frame(cx))
        };
        if !this.guard.is_armed() {
            return Poll::Ready(frame);
        }
        match &frame {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    this.guard.on_body_chunk(data.remaining());
                    if let Some(web) = this.web {
                        if let Some(trailers) = scan(web, data) {
                            // The call ends at its trailer frame, whatever follows.
                            this.guard.on_trailers(&trailers);
                        }
                        if web.is_over() {
                            *this.web = None;
                        }
                    }
                    // hyper stops polling once Content-Length is satisfied: this may be the
                    // last time we are polled.
                    if this.inner.is_end_stream() {
                        this.guard.finish(Outcome::Complete);
                    }
                } else if let Some(trailers) = frame.trailers_ref() {
                    this.guard.on_trailers(trailers);
                }
            }
            Some(Err(error)) => this.guard.finish(Outcome::BodyError(ErrorRef::new(error))),
            None => this.guard.finish(Outcome::Complete),
        }
        Poll::Ready(frame)
    }

    #[inline]
    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    #[inline]
    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B, R: Record> std::fmt::Debug for ResponseBody<B, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody")
            .field("guard", &self.guard)
            .finish_non_exhaustive()
    }
}
