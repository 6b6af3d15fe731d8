//! Two observers on one lifecycle: one future, one body wrapper, one clock, one set of facts.

use http::{HeaderMap, Request};
use opentelemetry::Context;

use super::{End, Facts, Needs, Observer, Record, RequestFacts};
use crate::view::ResponseInfo;

/// The record of a pair of observers; see [`Observer`] for `(A, B)`.
#[derive(Debug)]
pub struct PairRecord<A, B> {
    a: Option<A>,
    b: Option<B>,
}

impl<Req, A: Observer<Req>, B: Observer<Req>> Observer<Req> for (A, B) {
    type Record = PairRecord<A::Record, B::Record>;

    #[inline]
    fn enabled(&self) -> bool {
        self.0.enabled() || self.1.enabled()
    }

    #[inline]
    fn needs(&self) -> Needs {
        self.0.needs().and(self.1.needs())
    }

    #[inline]
    fn on_request(
        &self,
        request: &mut Request<Req>,
        facts: &RequestFacts<'_>,
    ) -> Option<Self::Record> {
        let a = self
            .0
            .enabled()
            .then(|| self.0.on_request(request, facts))
            .flatten();
        let b = self
            .1
            .enabled()
            .then(|| self.1.on_request(request, facts))
            .flatten();
        (a.is_some() || b.is_some()).then_some(PairRecord { a, b })
    }
}

impl<A: Record, B: Record> Record for PairRecord<A, B> {
    #[inline]
    fn context(&self) -> Option<&Context> {
        self.a
            .as_ref()
            .and_then(A::context)
            .or_else(|| self.b.as_ref().and_then(B::context))
    }

    #[cfg(feature = "tracing")]
    #[inline]
    fn tracing_span(&self) -> Option<&tracing::Span> {
        self.a
            .as_ref()
            .and_then(A::tracing_span)
            .or_else(|| self.b.as_ref().and_then(B::tracing_span))
    }

    #[inline]
    fn write_response_headers(&mut self, headers: &mut HeaderMap) {
        if let Some(a) = &mut self.a {
            a.write_response_headers(headers);
        }
        if let Some(b) = &mut self.b {
            b.write_response_headers(headers);
        }
    }

    #[inline]
    fn on_response(&mut self, response: &ResponseInfo<'_>, facts: &Facts) {
        if let Some(a) = &mut self.a {
            a.on_response(response, facts);
        }
        if let Some(b) = &mut self.b {
            b.on_response(response, facts);
        }
    }

    #[inline]
    fn on_body_chunk(&mut self, len: usize) {
        if let Some(a) = &mut self.a {
            a.on_body_chunk(len);
        }
        if let Some(b) = &mut self.b {
            b.on_body_chunk(len);
        }
    }

    #[inline]
    fn on_trailers(&mut self, trailers: &HeaderMap) {
        if let Some(a) = &mut self.a {
            a.on_trailers(trailers);
        }
        if let Some(b) = &mut self.b {
            b.on_trailers(trailers);
        }
    }

    /// `B` finishes first, seeing `A`'s context ([`End::context`]); `A` then, as it began.
    /// Both see the same facts, verdict and clock reading, so the order changes no value.
    #[inline]
    fn finish(self, end: &End<'_>) {
        if let Some(b) = self.b {
            b.finish(&end.after(self.a.as_ref().and_then(A::context)));
        }
        if let Some(a) = self.a {
            a.finish(end);
        }
    }
}
