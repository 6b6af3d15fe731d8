//! What the layer keeps in a span's extensions: its fields as typed JSON values and, on a
//! request span, its ids.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use opentelemetry::trace::{SpanId, TraceId};
use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::{FormatFields, Writer};

use super::super::fields;

/// A span's fields as typed JSON values, in the span's extensions; ordered by name, with
/// `tracing_subscriber`'s `JsonFields` values (`Debug` and `Display` values as strings).
#[derive(Debug, Default)]
pub(super) struct SpanFields(pub(super) BTreeMap<&'static str, Value>);

impl SpanFields {
    /// Records `values`; whether a trace id, span id or sampled flag was among them.
    pub(super) fn record(&mut self, values: &impl RecordFields) -> bool {
        let mut visitor = SpanFieldsVisitor {
            fields: self,
            ids_changed: false,
        };
        values.record(&mut visitor);
        visitor.ids_changed
    }
}

struct SpanFieldsVisitor<'a> {
    fields: &'a mut SpanFields,
    ids_changed: bool,
}

impl SpanFieldsVisitor<'_> {
    fn insert(&mut self, name: &'static str, value: Value) {
        self.ids_changed |= matches!(
            name,
            fields::TRACE_ID | fields::SPAN_ID | fields::TRACE_SAMPLED
        );
        self.fields.0.insert(name, value);
    }
}

impl Visit for SpanFieldsVisitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.insert(field.name(), Value::from(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.insert(field.name(), Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.insert(field.name(), Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.insert(field.name(), Value::from(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.insert(field.name(), Value::from(value));
    }

    fn record_bytes(&mut self, field: &Field, value: &[u8]) {
        self.insert(field.name(), Value::from(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let name = field.name();
        let name = name.strip_prefix("r#").unwrap_or(name);
        let mut text = String::new();
        // A `Debug` that fails keeps what it wrote (`format!` would panic).
        let _ = write!(text, "{value:?}");
        self.insert(name, Value::String(text));
    }
}

/// A request span's ids, read from its fields when they are recorded (the span layers record
/// them as the span opens), in the span's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RequestIds {
    pub(super) trace_id: TraceId,
    pub(super) span_id: SpanId,
    pub(super) sampled: Option<bool>,
}

impl RequestIds {
    /// The ids in a span's fields, when it has both a trace id and a span id.
    pub(super) fn from_fields(fields: &SpanFields) -> Option<Self> {
        let hex = |key: &str, digits: usize| {
            let text = fields.0.get(key)?.as_str()?;
            (text.len() == digits && text.bytes().all(|b| b.is_ascii_hexdigit())).then_some(text)
        };
        Some(RequestIds {
            trace_id: TraceId::from_hex(hex(fields::TRACE_ID, 32)?).ok()?,
            span_id: SpanId::from_hex(hex(fields::SPAN_ID, 16)?).ok()?,
            sampled: fields.0.get(fields::TRACE_SAMPLED).and_then(Value::as_bool),
        })
    }
}

/// The `fmt` layer's field formatter: formats nothing, since [`SpanFields`] keeps the fields.
#[derive(Debug, Clone, Copy)]
pub(super) struct KeptFields;

impl<'w> FormatFields<'w> for KeptFields {
    fn format_fields<R: RecordFields>(&self, _: Writer<'w>, _: R) -> fmt::Result {
        Ok(())
    }
}
