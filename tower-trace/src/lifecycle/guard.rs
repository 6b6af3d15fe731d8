//! The exactly-once finish, armed from the request until the end of the response.

use http::HeaderMap;

use super::scope::Scope;
use super::{End, Facts, Now, Outcome, Record};
use crate::view::ResponseInfo;

/// Holds a [`Record`] with its request's [`Facts`] and finishes it exactly once: explicitly
/// with an outcome, or on drop as [`Outcome::Cancelled`] (or [`Outcome::Panicked`] while
/// unwinding).
///
/// An unpinned field with its own `Drop`, so the pinned future and body need no `PinnedDrop`.
pub(crate) struct Guard<R: Record> {
    state: Option<(R, Facts)>,
    /// Set when a panic unwound through a poll: a catch-panic layer above may catch it and
    /// drop us later, outside the unwinding.
    panicked: bool,
}

/// Marks its [`Guard`] as panicked if dropped while unwinding. Lives for one inner poll.
pub(crate) struct UnwindSentinel<'a>(&'a mut bool);

/// Held across one poll of the inner future or body: the request's [`Scope`] and the
/// [`UnwindSentinel`].
pub(crate) struct Polling<'a> {
    _scope: Scope<'a>,
    _sentinel: UnwindSentinel<'a>,
}

impl Drop for UnwindSentinel<'_> {
    #[inline]
    fn drop(&mut self) {
        if std::thread::panicking() {
            *self.0 = true;
        }
    }
}

impl<R: Record> Guard<R> {
    #[inline]
    pub(crate) fn new(record: Option<R>, facts: Facts) -> Self {
        Guard {
            state: record.map(|record| (record, facts)),
            panicked: false,
        }
    }

    #[inline]
    pub(crate) fn disarmed() -> Self {
        Guard {
            state: None,
            panicked: false,
        }
    }

    /// Hold this across a poll of the inner future: the record's scope (its context current,
    /// its `tracing` span entered) and the unwind sentinel.
    #[inline]
    pub(crate) fn poll_future(&mut self) -> Polling<'_> {
        let Guard { state, panicked } = self;
        Polling {
            _scope: Scope::enter(state.as_ref().map(|(record, _)| record)),
            _sentinel: UnwindSentinel(panicked),
        }
    }

    /// Hold this across a poll of the response body: see [`Scope::enter_body`].
    #[inline]
    pub(crate) fn poll_body(&mut self) -> Polling<'_> {
        let Guard { state, panicked } = self;
        Polling {
            _scope: Scope::enter_body(state.as_ref().map(|(record, _)| record)),
            _sentinel: UnwindSentinel(panicked),
        }
    }

    #[inline]
    pub(crate) fn is_armed(&self) -> bool {
        self.state.is_some()
    }

    /// The facts, while armed.
    #[inline]
    pub(crate) fn facts(&self) -> Option<&Facts> {
        self.state.as_ref().map(|(_, facts)| facts)
    }

    #[inline]
    pub(crate) fn record(&self) -> Option<&R> {
        self.state.as_ref().map(|(record, _)| record)
    }

    /// Moves the record (and its facts) into a new guard, disarming this one.
    #[inline]
    pub(crate) fn take(&mut self) -> Self {
        Guard {
            state: self.state.take(),
            panicked: self.panicked,
        }
    }

    /// The response head: read once into the facts, shown to the record; finishes right here
    /// when the head is where the request ends (see [`Facts::ends_at_head`]) or the body is
    /// already empty (it may never be polled).
    /// The response head as produced, before the lifecycle reads it: the record may write
    /// headers.
    #[inline]
    pub(crate) fn write_response_headers(&mut self, headers: &mut HeaderMap) {
        if let Some((record, _)) = &mut self.state {
            record.write_response_headers(headers);
        }
    }

    #[inline]
    pub(crate) fn on_response(&mut self, response: &ResponseInfo<'_>, body_is_empty: bool) {
        if let Some((record, facts)) = &mut self.state {
            facts.on_response(response);
            record.on_response(response, facts);
            if body_is_empty || facts.ends_at_head() {
                self.finish(Outcome::Complete);
            }
        }
    }

    #[inline]
    pub(crate) fn on_body_chunk(&mut self, len: usize) {
        if let Some((record, _)) = &mut self.state {
            record.on_body_chunk(len);
        }
    }

    /// The trailers: read once into the facts, shown to the record, then the finish.
    #[inline]
    pub(crate) fn on_trailers(&mut self, trailers: &HeaderMap) {
        if let Some((record, facts)) = &mut self.state {
            facts.on_trailers(trailers);
            record.on_trailers(trailers);
            self.finish(Outcome::Complete);
        }
    }

    /// Finishes now with `outcome`, if not finished yet.
    #[inline]
    pub(crate) fn finish(&mut self, outcome: Outcome<'_>) {
        if let Some((record, facts)) = self.state.take() {
            record.finish(&End::new(&facts, outcome, &Now::new()));
        }
    }
}

impl<R: Record> Drop for Guard<R> {
    fn drop(&mut self) {
        if self.state.is_some() {
            let outcome = if self.panicked || std::thread::panicking() {
                Outcome::Panicked
            } else {
                Outcome::Cancelled
            };
            self.finish(outcome);
        }
    }
}

impl<R: Record> std::fmt::Debug for Guard<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("armed", &self.state.is_some())
            .finish()
    }
}
