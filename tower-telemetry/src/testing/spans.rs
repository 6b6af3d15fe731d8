//! Finished spans, as a test reads them.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::ops::Deref;

use opentelemetry::Value;
use opentelemetry::trace::{SpanId, SpanKind, Status, TraceId};
use opentelemetry_sdk::trace::SpanData;

/// A span that has ended, with readers and assertions that explain themselves. Derefs to the
/// SDK's [`SpanData`] for anything else.
#[derive(Debug, Clone)]
pub struct RecordedSpan(SpanData);

impl RecordedSpan {
    pub(super) fn new(span: SpanData) -> Self {
        RecordedSpan(span)
    }

    /// The SDK's record of the span.
    pub fn into_data(self) -> SpanData {
        self.0
    }

    /// How long the span lasted (end time minus start time).
    pub fn duration(&self) -> std::time::Duration {
        self.0
            .end_time
            .duration_since(self.0.start_time)
            .unwrap_or_default()
    }

    /// The span's name.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// Its kind (`Server`, `Client`, …).
    pub fn kind(&self) -> &SpanKind {
        &self.0.span_kind
    }

    /// Its trace id.
    pub fn trace_id(&self) -> TraceId {
        self.0.span_context.trace_id()
    }

    /// Its span id.
    pub fn span_id(&self) -> SpanId {
        self.0.span_context.span_id()
    }

    /// Its parent's span id, `None` for a root span.
    pub fn parent_span_id(&self) -> Option<SpanId> {
        Some(self.0.parent_span_id).filter(|id| *id != SpanId::INVALID)
    }

    /// Its status (`Unset`, `Ok`, `Error { description }`).
    pub fn status(&self) -> &Status {
        &self.0.status
    }

    /// Whether its status is `Error`.
    pub fn is_error(&self) -> bool {
        matches!(self.0.status, Status::Error { .. })
    }

    /// The value of attribute `key` (the last one, if it was set twice).
    pub fn attr(&self, key: &str) -> Option<&Value> {
        self.0
            .attributes
            .iter()
            .rev()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
    }

    /// The value of attribute `key` as text (`Value`'s display: `200`, `true`, `GET`).
    pub fn attr_str(&self, key: &str) -> Option<String> {
        self.attr(key).map(Value::to_string)
    }

    /// Asserts that attribute `key` is `expected` (compared as the same type: `200` is an
    /// integer, `"200"` a string).
    ///
    /// # Panics
    ///
    /// When it is absent or different, with the span.
    #[track_caller]
    pub fn assert_attr(&self, key: &str, expected: impl Into<Value>) -> &Self {
        let expected = expected.into();
        match self.attr(key) {
            Some(value) if *value == expected => self,
            found => panic!(
                "span {:?}: expected {key} = {}, found {}\n{}",
                self.name(),
                describe(&expected),
                found.map_or_else(|| "none".to_owned(), describe),
                render(&self.0, 0)
            ),
        }
    }

    /// Asserts that the span has no attribute `key`.
    ///
    /// # Panics
    ///
    /// When it has, with the span.
    #[track_caller]
    pub fn assert_no_attr(&self, key: &str) -> &Self {
        if let Some(value) = self.attr(key) {
            panic!(
                "span {:?}: expected no {key}, found {}\n{}",
                self.name(),
                describe(value),
                render(&self.0, 0)
            );
        }
        self
    }
}

impl Deref for RecordedSpan {
    type Target = SpanData;

    fn deref(&self) -> &SpanData {
        &self.0
    }
}

/// A value with its type, so `"200"` and `200` read differently.
fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{:?} (a string)", s.as_str()),
        Value::I64(i) => format!("{i} (an integer)"),
        Value::F64(f) => format!("{f} (a float)"),
        Value::Bool(b) => format!("{b} (a bool)"),
        other => format!("{other} (an array)"),
    }
}

/// One span on one line, indented by `depth`, with its attributes sorted by key.
fn render(span: &SpanData, depth: usize) -> String {
    let status: Cow<'_, str> = match &span.status {
        Status::Unset => "".into(),
        Status::Ok => " OK".into(),
        Status::Error { description } => format!(" ERROR({description})").into(),
    };
    let attributes: BTreeMap<&str, String> = span
        .attributes
        .iter()
        .map(|kv| (kv.key.as_str(), kv.value.to_string()))
        .collect();
    let mut line = format!(
        "{:indent$}{} [{:?}{status}] span {}",
        "",
        span.name,
        span.span_kind,
        span.span_context.span_id(),
        indent = depth * 2
    );
    for (key, value) in attributes {
        let _ = write!(line, " {key}={value}");
    }
    line
}

/// The spans as trees, one per trace (roots, and spans whose parent is not among them, at the
/// top), children in the order they started.
pub(super) fn render_trees(spans: &[SpanData]) -> String {
    if spans.is_empty() {
        return "  (no span has ended)\n".to_owned();
    }
    let ids: std::collections::HashSet<(TraceId, SpanId)> = spans
        .iter()
        .map(|s| (s.span_context.trace_id(), s.span_context.span_id()))
        .collect();
    let mut by_start: Vec<&SpanData> = spans.iter().collect();
    by_start.sort_by_key(|s| s.start_time);
    let mut out = String::new();
    let mut traces: Vec<TraceId> = Vec::new();
    for span in &by_start {
        if !traces.contains(&span.span_context.trace_id()) {
            traces.push(span.span_context.trace_id());
        }
    }
    for trace in traces {
        let _ = writeln!(out, "trace {trace}");
        for root in by_start.iter().filter(|s| {
            s.span_context.trace_id() == trace && !ids.contains(&(trace, s.parent_span_id))
        }) {
            subtree(&mut out, &by_start, root, 1);
        }
    }
    out
}

fn subtree(out: &mut String, spans: &[&SpanData], span: &SpanData, depth: usize) {
    let _ = writeln!(out, "{}", render(span, depth));
    let (trace, id) = (span.span_context.trace_id(), span.span_context.span_id());
    for child in spans
        .iter()
        .filter(|s| s.span_context.trace_id() == trace && s.parent_span_id == id)
    {
        subtree(out, spans, child, depth + 1);
    }
}
