//! One JSON object per log line, with the fields Google Cloud Logging reads to join a log
//! entry to its trace.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{FormatEvent, JsonFields, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use super::{fields, is_request_span};

/// The environment variable [`CloudLogging::from_env`] reads the project id from.
const PROJECT_VAR: &str = "GOOGLE_CLOUD_PROJECT";

/// A `tracing_subscriber::fmt` event format for Google Cloud Logging: one JSON object per
/// line, with the special fields Cloud Logging reads from a structured log line ("Structured
/// logging", "Special JSON fields in messages", in Google Cloud Logging's documentation):
///
/// | key | value |
/// |---|---|
/// | `time` | the event's time, RFC 3339 in UTC |
/// | `severity` | `ERROR`, `WARNING`, `INFO`, `DEBUG` (`TRACE` is `DEBUG`) |
/// | `message` and the event's other fields | as recorded |
/// | `target` | the event's target |
/// | `logging.googleapis.com/sourceLocation` | `{"file": …, "line": "…"}` (the line as a string, as `LogEntrySourceLocation` has it) |
/// | `logging.googleapis.com/trace` | `projects/PROJECT_ID/traces/TRACE_ID` |
/// | `logging.googleapis.com/spanId` | the span id, 16 hex digits |
/// | `logging.googleapis.com/trace_sampled` | `true` or `false` |
/// | `spans` | the fields of every span around the event, root first, each with its `name` |
///
/// The trace fields come from the innermost [request span](super) around the event: the
/// client call's while a client layer runs, else the server request's. Lines outside any
/// request have none.
///
/// ```no_run
/// use tracing_subscriber::prelude::*;
/// use tower_telemetry_trace::logs::CloudLogging;
///
/// // The project id from GOOGLE_CLOUD_PROJECT (Cloud Run does not set it: set it on the
/// // service, or pass it to `CloudLogging::new`).
/// let format = CloudLogging::from_env().unwrap_or_else(|| CloudLogging::new("my-project"));
/// tracing_subscriber::registry()
///     .with(format.layer()) // writes to stdout, where Cloud Run's logging agent reads
///     .with(tracing_subscriber::filter::LevelFilter::INFO)
///     .init();
/// ```
///
/// It is an ordinary event format: [`layer`](Self::layer) is
/// `fmt::layer().fmt_fields(JsonFields::new()).event_format(self)`, and it can be given to a
/// `fmt` builder the same way (span fields must be formatted by `JsonFields`).
#[derive(Debug, Clone)]
pub struct CloudLogging<T = SystemTime> {
    /// `projects/PROJECT_ID/traces/`, built once.
    trace_prefix: Box<str>,
    timer: T,
    source_location: bool,
}

impl CloudLogging {
    /// The format for the Google Cloud project `project_id` (where the traces are).
    pub fn new(project_id: impl AsRef<str>) -> Self {
        CloudLogging {
            trace_prefix: format!("projects/{}/traces/", project_id.as_ref()).into(),
            timer: SystemTime,
            source_location: true,
        }
    }

    /// The format for the project named by the `GOOGLE_CLOUD_PROJECT` environment variable,
    /// read now; `None` when it is unset or empty.
    pub fn from_env() -> Option<Self> {
        Self::from_project_var(std::env::var(PROJECT_VAR).ok())
    }

    fn from_project_var(value: Option<String>) -> Option<Self> {
        let value = value?;
        let project = value.trim();
        (!project.is_empty()).then(|| Self::new(project))
    }
}

impl<T> CloudLogging<T> {
    /// Writes `time` with `timer` instead of the system clock in RFC 3339.
    pub fn with_timer<T2: FormatTime>(self, timer: T2) -> CloudLogging<T2> {
        CloudLogging {
            trace_prefix: self.trace_prefix,
            timer,
            source_location: self.source_location,
        }
    }

    /// Whether to write `logging.googleapis.com/sourceLocation` (on by default).
    pub fn with_source_location(mut self, source_location: bool) -> Self {
        self.source_location = source_location;
        self
    }

    /// A `tracing_subscriber::fmt` layer with this format, writing to stdout (change it with
    /// the layer's `with_writer`).
    pub fn layer<S>(self) -> tracing_subscriber::fmt::Layer<S, JsonFields, Self>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
        T: FormatTime + 'static,
    {
        tracing_subscriber::fmt::layer()
            .fmt_fields(JsonFields::new())
            .event_format(self)
    }
}

/// Cloud Logging's `LogSeverity` for a `tracing` level.
fn severity(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        Level::DEBUG | Level::TRACE => "DEBUG",
    }
}

impl<S, T> FormatEvent<S, JsonFields> for CloudLogging<T>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    T: FormatTime,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut time = String::with_capacity(32);
        self.timer.format_time(&mut Writer::new(&mut time))?;

        let mut line = Object::new(&mut writer)?;
        line.string("time", &time)?;
        line.string("severity", severity(meta.level()))?;
        let mut visitor = EventFields {
            line: &mut line,
            result: Ok(()),
        };
        event.record(&mut visitor);
        visitor.result?;
        line.string("target", meta.target())?;
        if self.source_location {
            if let (Some(file), Some(number)) = (meta.file(), meta.line()) {
                let out = line.key("logging.googleapis.com/sourceLocation")?;
                out.write_str("{\"file\":")?;
                write_string(out, file)?;
                write!(out, ",\"line\":\"{number}\"}}")?;
            }
        }

        let ids = ctx
            .event_scope()
            .and_then(|mut scope| scope.find(|span| is_request_span(span.metadata())))
            .and_then(|span| {
                let extensions = span.extensions();
                let fields = extensions.get::<FormattedFields<JsonFields>>()?;
                TraceIds::parse(fields)
            });
        if let Some(ids) = ids {
            let out = line.key("logging.googleapis.com/trace")?;
            out.write_char('"')?;
            Escaped(&mut *out).write_str(&self.trace_prefix)?;
            Escaped(&mut *out).write_str(&ids.trace_id)?;
            out.write_char('"')?;
            line.string("logging.googleapis.com/spanId", &ids.span_id)?;
            if let Some(sampled) = ids.sampled {
                line.raw(
                    "logging.googleapis.com/trace_sampled",
                    if sampled { "true" } else { "false" },
                )?;
            }
        }

        if let Some(scope) = ctx.event_scope() {
            let out = line.key("spans")?;
            out.write_char('[')?;
            for (i, span) in scope.from_root().enumerate() {
                if i > 0 {
                    out.write_char(',')?;
                }
                out.write_str("{\"name\":")?;
                write_string(out, span.metadata().name())?;
                let extensions = span.extensions();
                // `JsonFields` formats a span's fields as one JSON object: splice its members.
                if let Some(members) = extensions
                    .get::<FormattedFields<JsonFields>>()
                    .and_then(|f| f.fields.strip_prefix('{')?.strip_suffix('}'))
                    .filter(|members| !members.is_empty())
                {
                    out.write_char(',')?;
                    out.write_str(members)?;
                }
                out.write_char('}')?;
            }
            out.write_char(']')?;
        }
        line.end()?;
        writeln!(writer)
    }
}

/// The ids of a request span, read back from its JSON-formatted fields.
struct TraceIds {
    trace_id: String,
    span_id: String,
    sampled: Option<bool>,
}

impl TraceIds {
    fn parse(fields: &str) -> Option<Self> {
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(fields).ok()?;
        let text = |key: &str| map.get(key)?.as_str().map(str::to_owned);
        Some(TraceIds {
            trace_id: text(fields::TRACE_ID)?,
            span_id: text(fields::SPAN_ID)?,
            sampled: map
                .get(fields::TRACE_SAMPLED)
                .and_then(serde_json::Value::as_bool),
        })
    }
}

/// A JSON object being written, one member at a time.
struct Object<'a, 'w> {
    out: &'a mut Writer<'w>,
    empty: bool,
}

impl<'a, 'w> Object<'a, 'w> {
    fn new(out: &'a mut Writer<'w>) -> Result<Self, fmt::Error> {
        out.write_char('{')?;
        Ok(Object { out, empty: true })
    }

    /// Writes `"key":` (after a comma if needed) and returns the writer for the value.
    fn key(&mut self, key: &str) -> Result<&mut Writer<'w>, fmt::Error> {
        if !self.empty {
            self.out.write_char(',')?;
        }
        self.empty = false;
        write_string(self.out, key)?;
        self.out.write_char(':')?;
        Ok(self.out)
    }

    fn string(&mut self, key: &str, value: &str) -> fmt::Result {
        let out = self.key(key)?;
        write_string(out, value)
    }

    fn display(&mut self, key: &str, value: &dyn fmt::Display) -> fmt::Result {
        let out = self.key(key)?;
        out.write_char('"')?;
        write!(Escaped(&mut *out), "{value}")?;
        out.write_char('"')
    }

    /// A value that is already JSON.
    fn raw(&mut self, key: &str, json: &str) -> fmt::Result {
        self.key(key)?.write_str(json)
    }

    fn end(self) -> fmt::Result {
        self.out.write_char('}')
    }
}

fn write_string(out: &mut dyn fmt::Write, value: &str) -> fmt::Result {
    out.write_char('"')?;
    Escaped(&mut *out).write_str(value)?;
    out.write_char('"')
}

/// Escapes what is written through it for the inside of a JSON string (RFC 8259, section 7).
struct Escaped<'a>(&'a mut dyn fmt::Write);

impl fmt::Write for Escaped<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut plain = 0;
        for (i, c) in s.char_indices() {
            let escape = match c {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                c if c < ' ' => "",
                _ => continue,
            };
            self.0.write_str(&s[plain..i])?;
            if escape.is_empty() {
                write!(self.0, "\\u{:04x}", u32::from(c))?;
            } else {
                self.0.write_str(escape)?;
            }
            plain = i + c.len_utf8();
        }
        self.0.write_str(&s[plain..])
    }
}

/// Writes an event's fields as members of the line.
struct EventFields<'l, 'a, 'w> {
    line: &'l mut Object<'a, 'w>,
    result: fmt::Result,
}

impl EventFields<'_, '_, '_> {
    fn write(&mut self, write: impl FnOnce(&mut Object<'_, '_>) -> fmt::Result) {
        if self.result.is_ok() {
            self.result = write(self.line);
        }
    }
}

impl Visit for EventFields<'_, '_, '_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.write(|line| {
            if value.is_finite() {
                line.raw(field.name(), &value.to_string())
            } else {
                line.display(field.name(), &value)
            }
        });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.write(|line| line.raw(field.name(), &value.to_string()));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.write(|line| line.raw(field.name(), &value.to_string()));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.write(|line| line.raw(field.name(), &value.to_string()));
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.write(|line| line.raw(field.name(), &value.to_string()));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.write(|line| line.raw(field.name(), if value { "true" } else { "false" }));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.write(|line| line.string(field.name(), value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.write(|line| line.display(field.name(), &value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.write(|line| line.display(field.name(), &format_args!("{value:?}")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(s: &str) -> String {
        let mut out = String::new();
        write_string(&mut out, s).unwrap();
        out
    }

    #[rustfmt::skip]
    #[test]
    fn strings_are_escaped_as_json() {
        for (input, json) in [
            ("plain", r#""plain""#),
            ("a \"quote\"", r#""a \"quote\"""#),
            ("back\\slash", r#""back\\slash""#),
            ("line\nbreak\r\ttab", r#""line\nbreak\r\ttab""#),
            ("\u{1b}[31mred", r#""\u001b[31mred""#),   // control characters as \u escapes
            ("née ✓", "\"née ✓\""),                      // non-ASCII stays as it is
        ] {
            let out = escaped(input);
            assert_eq!(out, json, "{input:?}");
            assert_eq!(serde_json::from_str::<String>(&out).unwrap(), input, "round trip");
        }
    }

    #[test]
    fn the_project_comes_from_the_variable_when_set() {
        let from = |value: Option<&str>| {
            CloudLogging::from_project_var(value.map(str::to_owned)).map(|f| f.trace_prefix)
        };
        assert_eq!(
            from(Some("my-project")).as_deref(),
            Some("projects/my-project/traces/")
        );
        assert_eq!(
            from(Some(" my-project\n")).as_deref(),
            Some("projects/my-project/traces/")
        );
        assert_eq!(from(Some("  ")), None);
        assert_eq!(from(None), None);
    }

    #[test]
    fn severities_are_cloud_loggings() {
        assert_eq!(severity(&Level::ERROR), "ERROR");
        assert_eq!(severity(&Level::WARN), "WARNING");
        assert_eq!(severity(&Level::INFO), "INFO");
        assert_eq!(severity(&Level::DEBUG), "DEBUG");
        assert_eq!(severity(&Level::TRACE), "DEBUG");
    }

    #[test]
    fn trace_ids_are_read_from_json_fields() {
        let ids = TraceIds::parse(
            r#"{"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","trace_sampled":false}"#,
        )
        .unwrap();
        assert_eq!(ids.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(ids.span_id, "00f067aa0ba902b7");
        assert_eq!(ids.sampled, Some(false));
        assert!(TraceIds::parse(r#"{"span_id":"00f067aa0ba902b7"}"#).is_none());
    }
}
