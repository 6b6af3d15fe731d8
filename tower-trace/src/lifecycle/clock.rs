//! One clock for every observer of a request.

use std::cell::OnceCell;
use std::time::{Duration, Instant, SystemTime};

/// One reading of the clocks: a monotonic [`Instant`] for durations and the wall-clock
/// [`SystemTime`] for span timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    /// For durations.
    pub instant: Instant,
    /// For timestamps.
    pub system: SystemTime,
}

impl Timestamp {
    /// Reads both clocks.
    pub fn now() -> Self {
        Timestamp {
            instant: Instant::now(),
            system: SystemTime::now(),
        }
    }

    /// The monotonic time since `start` (zero if `start` is later).
    pub fn duration_since(&self, start: &Timestamp) -> Duration {
        self.instant.saturating_duration_since(start.instant)
    }

    /// The wall-clock time of this reading, on `start`'s wall clock: `start.system` plus the
    /// monotonic duration, so a span's duration equals the measured one even if the wall clock
    /// jumps.
    pub fn system_since(&self, start: &Timestamp) -> SystemTime {
        start.system + self.duration_since(start)
    }
}

/// The clocks, read lazily at most once per lifecycle event and shared by every observer of
/// that event. A request nobody observes never reads them.
#[derive(Debug, Default)]
pub struct Now {
    reading: OnceCell<Timestamp>,
}

impl Now {
    pub(crate) fn new() -> Self {
        Now {
            reading: OnceCell::new(),
        }
    }

    /// The reading for this event (the clocks are read on the first call).
    pub fn get(&self) -> Timestamp {
        *self.reading.get_or_init(Timestamp::now)
    }
}
