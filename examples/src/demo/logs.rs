//! The demo's log lines: the services log through `tracing`, the trace layers put every line in
//! its request's span (the trace crate's `tracing` feature), and one process-wide subscriber
//! keeps them in memory as JSON, read back per trace under its waterfall.

use std::io;
use std::sync::{Arc, Mutex, OnceLock};

use tower_telemetry_trace::logs;
use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::prelude::*;

/// The services' log targets: each logs under its own name.
const SERVICES: [&str; 3] = ["frontend", "backend", "greeter"];

/// At most this much log output is kept (the demo's own requests need a few kilobytes; with
/// `--serve` the rest is dropped).
const MAX_BYTES: usize = 1 << 20;

/// The captured log output of the process.
#[derive(Debug, Clone, Default)]
pub struct DemoLogs(Arc<Mutex<Vec<u8>>>);

/// One captured line, with the ids of the request span it was written in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// The trace id of the innermost request span around the line.
    pub trace_id: String,
    /// Its span id.
    pub span_id: String,
    /// `INFO`, `WARN`, …
    pub level: String,
    /// The service that wrote it (the event's target).
    pub service: String,
    /// The message.
    pub message: String,
}

impl DemoLogs {
    /// Installs the process's `tracing` subscriber on the first call (the services' lines and
    /// the request spans, as JSON, into memory); every call returns the same capture. If
    /// another subscriber was installed first, nothing is captured.
    pub fn install() -> Self {
        static LOGS: OnceLock<DemoLogs> = OnceLock::new();
        LOGS.get_or_init(|| {
            let logs = DemoLogs::default();
            let targets = SERVICES
                .iter()
                .fold(Targets::new(), |t, s| t.with_target(*s, Level::INFO))
                .with_target(logs::TARGET, Level::INFO);
            let subscriber = tracing_subscriber::registry().with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(logs.clone())
                    .with_filter(targets),
            );
            let _ = tracing::subscriber::set_global_default(subscriber);
            logs
        })
        .clone()
    }

    /// The lines written inside a request so far.
    pub fn lines(&self) -> Vec<LogLine> {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter_map(parse)
            .collect()
    }
}

fn parse(line: &str) -> Option<LogLine> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    let request = value["spans"]
        .as_array()?
        .iter()
        .rev()
        .find(|s| s["name"] == logs::SERVER_SPAN || s["name"] == logs::CLIENT_SPAN)?;
    Some(LogLine {
        trace_id: text(&request[logs::fields::TRACE_ID])?,
        span_id: text(&request[logs::fields::SPAN_ID])?,
        level: text(&value["level"])?,
        service: text(&value["target"])?,
        message: text(&value["fields"]["message"])?,
    })
}

/// One writer of [`DemoLogs`].
#[derive(Debug)]
pub struct DemoLogWriter(Arc<Mutex<Vec<u8>>>);

impl io::Write for DemoLogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Ok(mut kept) = self.0.lock()
            && kept.len() + buf.len() <= MAX_BYTES
        {
            kept.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for DemoLogs {
    type Writer = DemoLogWriter;

    fn make_writer(&'a self) -> DemoLogWriter {
        DemoLogWriter(Arc::clone(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_outside_a_request_are_left_out() {
        let inside = r#"{"level":"INFO","fields":{"message":"hi"},"target":"frontend","spans":[{"name":"request","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7"}]}"#;
        assert_eq!(
            parse(inside),
            Some(LogLine {
                trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
                span_id: "00f067aa0ba902b7".into(),
                level: "INFO".into(),
                service: "frontend".into(),
                message: "hi".into(),
            })
        );
        let outside = r#"{"level":"INFO","fields":{"message":"hi"},"target":"frontend"}"#;
        assert_eq!(parse(outside), None);
    }
}
