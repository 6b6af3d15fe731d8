//! Log lines per trace (features `testing` and `tracing-subscriber`).
//!
//! `tracing` caches whether anyone listens to a callsite process-wide, so subscribers set per
//! thread (`tracing::subscriber::set_default`) miss lines when tests without one run beside
//! them. The kit installs one global subscriber instead, once per process, that keeps every
//! line as Google Cloud Logging JSON (the trace crate's `CloudLogging`, whose lines carry their
//! request's trace id); each test reads the lines of its own traces, so tests running in
//! parallel don't see each other's.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

use opentelemetry::trace::TraceId;
use tracing_subscriber::layer::SubscriberExt as _;

/// One log line written inside a request: its severity, message, target and the event's other
/// fields (as JSON values).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LogLine {
    /// Cloud Logging's severity: `ERROR`, `WARNING`, `INFO`, `DEBUG`.
    pub severity: String,
    /// The message.
    pub message: String,
    /// The event's target (its module path by default).
    pub target: String,
    /// The span id of the request (or client call) the line was written in.
    pub span_id: String,
    /// The event's other fields.
    pub fields: BTreeMap<String, serde_json::Value>,
}

/// The lines written since capturing began, as JSON, bounded (the oldest go first).
static LINES: OnceLock<Mutex<std::collections::VecDeque<Vec<u8>>>> = OnceLock::new();

/// At most this many lines are kept (a long test run must not grow without bound).
const MAX_LINES: usize = 100_000;

const TRACE_KEY: &str = "logging.googleapis.com/trace";
const SPAN_KEY: &str = "logging.googleapis.com/spanId";

/// Installs the capturing subscriber, once per process.
pub(super) fn capture() {
    let mut installed_now = false;
    LINES.get_or_init(|| {
        installed_now = true;
        Mutex::default()
    });
    if !installed_now {
        return;
    }
    let layer = tower_telemetry_trace::logs::CloudLogging::new("test")
        .layer()
        .with_writer(|| Writer(Vec::new()));
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::filter::LevelFilter::TRACE)
        .with(layer);
    assert!(
        tracing::subscriber::set_global_default(subscriber).is_ok(),
        "TestTelemetry::capture_logs: this test binary already has a global tracing \
         subscriber; the kit needs to install its own to read log lines"
    );
}

/// The captured lines of trace `trace_id`, in the order they were written.
pub(super) fn of(trace_id: TraceId) -> Vec<LogLine> {
    let Some(lines) = LINES.get() else {
        panic!("TestTelemetry::logs: call capture_logs() before the requests");
    };
    let suffix = format!("/traces/{trace_id}");
    let lines = lines
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    lines
        .iter()
        .filter_map(|raw| serde_json::from_slice::<serde_json::Value>(raw).ok())
        .filter(|line| {
            line.get(TRACE_KEY)
                .and_then(serde_json::Value::as_str)
                .is_some_and(|t| t.ends_with(&suffix))
        })
        .map(|line| {
            let serde_json::Value::Object(mut map) = line else {
                unreachable!("filtered on a key, so an object")
            };
            let mut take = |key: &str| match map.remove(key) {
                Some(serde_json::Value::String(s)) => s,
                Some(other) => other.to_string(),
                None => String::new(),
            };
            let (severity, message, target, span_id) = (
                take("severity"),
                take("message"),
                take("target"),
                take(SPAN_KEY),
            );
            for key in [
                "time",
                "spans",
                TRACE_KEY,
                "logging.googleapis.com/trace_sampled",
                "logging.googleapis.com/sourceLocation",
            ] {
                map.remove(key);
            }
            LogLine {
                severity,
                message,
                target,
                span_id,
                fields: map.into_iter().collect(),
            }
        })
        .collect()
}

/// Buffers one line, and hands it to the store when the formatter is done with it.
struct Writer(Vec<u8>);

impl std::io::Write for Writer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let Some(lines) = LINES.get() else { return };
        let mut lines = lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for line in self.0.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            if lines.len() == MAX_LINES {
                lines.pop_front();
            }
            lines.push_back(line.to_vec());
        }
    }
}
