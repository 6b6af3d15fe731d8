//! The exactly-once finish, armed from the request until the end of the response.

use super::{Now, Outcome, Record};

/// Holds a [`Record`] and finishes it exactly once: explicitly with an outcome, or on drop as
/// [`Outcome::Cancelled`] (or [`Outcome::Panicked`] while unwinding).
///
/// An unpinned field with its own `Drop`, so the pinned future and body need no `PinnedDrop`.
pub(crate) struct Guard<R: Record> {
    record: Option<R>,
    /// Set when a panic unwound through a poll: a catch-panic layer above may catch it and
    /// drop us later, outside the unwinding.
    panicked: bool,
}

/// Marks its [`Guard`] as panicked if dropped while unwinding. Lives for one inner poll.
pub(crate) struct UnwindSentinel<'a>(&'a mut bool);

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
    pub(crate) fn new(record: Option<R>) -> Self {
        Guard {
            record,
            panicked: false,
        }
    }

    #[inline]
    pub(crate) fn disarmed() -> Self {
        Guard {
            record: None,
            panicked: false,
        }
    }

    /// Hold this across a poll of the inner future or body.
    #[inline]
    pub(crate) fn unwind_sentinel(&mut self) -> UnwindSentinel<'_> {
        UnwindSentinel(&mut self.panicked)
    }

    #[inline]
    pub(crate) fn record(&self) -> Option<&R> {
        self.record.as_ref()
    }

    #[inline]
    pub(crate) fn record_mut(&mut self) -> Option<&mut R> {
        self.record.as_mut()
    }

    #[inline]
    pub(crate) fn take(&mut self) -> Option<R> {
        self.record.take()
    }

    /// Finishes now with `outcome`, if not finished yet.
    #[inline]
    pub(crate) fn finish(&mut self, outcome: Outcome<'_>) {
        if let Some(record) = self.record.take() {
            record.finish(outcome, &Now::new());
        }
    }
}

impl<R: Record> Drop for Guard<R> {
    fn drop(&mut self) {
        if let Some(record) = self.record.take() {
            let outcome = if self.panicked || std::thread::panicking() {
                Outcome::Panicked
            } else {
                Outcome::Cancelled
            };
            record.finish(outcome, &Now::new());
        }
    }
}

impl<R: Record> std::fmt::Debug for Guard<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("armed", &self.record.is_some())
            .finish()
    }
}
