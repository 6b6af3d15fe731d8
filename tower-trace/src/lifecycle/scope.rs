//! What is current while a request's own code runs: its `Context` and, with the `tracing`
//! feature, its `tracing` span.

use opentelemetry::ContextGuard;

use super::Record;

/// Entered around the inner service's `call`, each poll of its future and (with the `tracing`
/// feature, when a subscriber enabled the span) each poll of the response body. Dropping it
/// leaves the span, then detaches the context: the reverse of entering.
pub(crate) struct Scope<'a> {
    // Fields drop in declaration order: the span is left before the context is detached.
    #[cfg(feature = "tracing")]
    _span: Option<tracing::span::Entered<'a>>,
    _context: Option<ContextGuard>,
    #[cfg(not(feature = "tracing"))]
    _record: std::marker::PhantomData<&'a ()>,
}

impl<'a> Scope<'a> {
    /// The record's context and span, for the inner service's `call` and future.
    #[inline]
    pub(crate) fn enter<R: Record>(record: Option<&'a R>) -> Self {
        let context = record.and_then(R::context).map(|cx| cx.clone().attach());
        Scope {
            #[cfg(feature = "tracing")]
            _span: record.and_then(R::tracing_span).map(tracing::Span::enter),
            _context: context,
            #[cfg(not(feature = "tracing"))]
            _record: std::marker::PhantomData,
        }
    }

    /// The same for a poll of the response body, which the server polls outside the
    /// handler's task: only with the `tracing` feature and a subscriber listening (the span is
    /// enabled), so that log lines written while a body streams (and `#[instrument]` spans,
    /// with `tracing-opentelemetry`) belong to the request. Otherwise nothing.
    #[inline]
    pub(crate) fn enter_body<R: Record>(record: Option<&'a R>) -> Self {
        #[cfg(feature = "tracing")]
        if let Some(span) = record
            .and_then(R::tracing_span)
            .filter(|span| !span.is_disabled())
        {
            let context = record.and_then(R::context).map(|cx| cx.clone().attach());
            return Scope {
                _span: Some(span.enter()),
                _context: context,
            };
        }
        let _ = record;
        Scope {
            #[cfg(feature = "tracing")]
            _span: None,
            _context: None,
            #[cfg(not(feature = "tracing"))]
            _record: std::marker::PhantomData,
        }
    }
}
