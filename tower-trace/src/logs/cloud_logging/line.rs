//! One log line, serialized with `serde_json` from the event and the values kept in its spans'
//! extensions.

use std::fmt::{self, Write as _};
use std::io;

use opentelemetry::trace::TraceId;
use serde::ser::{Serialize, SerializeMap, Serializer};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::fmt::format::{FormatEvent, Writer};
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::registry::{LookupSpan, Scope, SpanRef};

use super::kept::{KeptFields, RequestIds, SpanFields};
use super::{CloudLogging, severity};

impl<S, T> FormatEvent<S, KeptFields> for CloudLogging<T>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    T: FormatTime,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, KeptFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let line = Line {
            format: self,
            ctx,
            event,
        };
        line.serialize(&mut serde_json::Serializer::new(FmtWrite(&mut writer)))
            .map_err(|_| fmt::Error)?;
        writeln!(writer)
    }
}

/// One log line, serialized as one JSON object.
pub(super) struct Line<'a, S, T> {
    format: &'a CloudLogging<T>,
    ctx: &'a FmtContext<'a, S, KeptFields>,
    event: &'a Event<'a>,
}

impl<S, T> Serialize for Line<'_, S, T>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    T: FormatTime,
{
    fn serialize<Z: Serializer>(&self, serializer: Z) -> Result<Z::Ok, Z::Error> {
        let meta = self.event.metadata();
        let mut line = serializer.serialize_map(None)?;
        line.serialize_entry("time", &Text(Time(&self.format.timer)))?;
        line.serialize_entry("severity", severity(meta.level()))?;
        let mut fields = EventFields {
            line: &mut line,
            result: Ok(()),
        };
        self.event.record(&mut fields);
        fields.result?;
        line.serialize_entry("target", meta.target())?;
        if self.format.source_location {
            if let (Some(file), Some(number)) = (meta.file(), meta.line()) {
                line.serialize_entry(
                    "logging.googleapis.com/sourceLocation",
                    &SourceLocation { file, line: number },
                )?;
            }
        }

        let ids = self.ctx.event_scope().and_then(|mut scope| {
            scope.find_map(|span| span.extensions().get::<RequestIds>().copied())
        });
        if let Some(ids) = ids {
            line.serialize_entry(
                "logging.googleapis.com/trace",
                &Text(CloudTrace {
                    prefix: &self.format.trace_prefix,
                    trace_id: ids.trace_id,
                }),
            )?;
            line.serialize_entry("logging.googleapis.com/spanId", &Text(ids.span_id))?;
            if let Some(sampled) = ids.sampled {
                line.serialize_entry("logging.googleapis.com/trace_sampled", &sampled)?;
            }
        }

        if let Some(scope) = self.ctx.event_scope() {
            line.serialize_entry("spans", &Spans(std::cell::Cell::new(Some(scope))))?;
        }
        line.end()
    }
}

/// The spans around the event, root first: `{"name": …, <its fields>}` each.
pub(super) struct Spans<'a, S: LookupSpan<'a>>(std::cell::Cell<Option<Scope<'a, S>>>);

impl<'a, S> Serialize for Spans<'a, S>
where
    S: LookupSpan<'a>,
{
    fn serialize<Z: Serializer>(&self, serializer: Z) -> Result<Z::Ok, Z::Error> {
        // `Serialize` takes `&self`, the scope is an iterator: serialized once, as here.
        let spans = self.0.take().into_iter().flat_map(Scope::from_root);
        serializer.collect_seq(spans.map(SpanEntry))
    }
}

pub(super) struct SpanEntry<'a, S: LookupSpan<'a>>(SpanRef<'a, S>);

impl<'a, S> Serialize for SpanEntry<'a, S>
where
    S: LookupSpan<'a>,
{
    fn serialize<Z: Serializer>(&self, serializer: Z) -> Result<Z::Ok, Z::Error> {
        let extensions = self.0.extensions();
        let fields = extensions.get::<SpanFields>();
        let mut entry = serializer.serialize_map(None)?;
        entry.serialize_entry("name", self.0.metadata().name())?;
        for (name, value) in fields.into_iter().flat_map(|fields| &fields.0) {
            entry.serialize_entry(name, value)?;
        }
        entry.end()
    }
}

/// `LogEntrySourceLocation`: the line is a string.
pub(super) struct SourceLocation<'a> {
    file: &'a str,
    line: u32,
}

impl Serialize for SourceLocation<'_> {
    fn serialize<Z: Serializer>(&self, serializer: Z) -> Result<Z::Ok, Z::Error> {
        let mut location = serializer.serialize_map(Some(2))?;
        location.serialize_entry("file", self.file)?;
        location.serialize_entry("line", &Text(self.line))?;
        location.end()
    }
}

/// `projects/PROJECT_ID/traces/TRACE_ID`.
pub(super) struct CloudTrace<'a> {
    prefix: &'a str,
    trace_id: TraceId,
}

impl fmt::Display for CloudTrace<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.prefix, self.trace_id)
    }
}

/// The timer's output.
pub(super) struct Time<'a, T>(&'a T);

impl<T: FormatTime> fmt::Display for Time<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.format_time(&mut Writer::new(f))
    }
}

/// A `Display` value as a JSON string, escaped by `serde_json` as it is written, without a
/// `String` in between.
pub(super) struct Text<D>(D);

impl<D: fmt::Display> Serialize for Text<D> {
    fn serialize<Z: Serializer>(&self, serializer: Z) -> Result<Z::Ok, Z::Error> {
        serializer.collect_str(&Lenient(&self.0))
    }
}

/// A `Display` whose own failure (a user's `Debug` that returns `Err`) is not reported: the
/// value keeps what it wrote. `serde_json`'s `collect_str` panics on an error that did not
/// come from its writer; the writer's own errors still pass.
pub(super) struct Lenient<'a, D>(&'a D);

impl<D: fmt::Display> fmt::Display for Lenient<'_, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Tracking<'a, 'f> {
            out: &'a mut fmt::Formatter<'f>,
            failed: bool,
        }
        impl fmt::Write for Tracking<'_, '_> {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                let result = self.out.write_str(s);
                self.failed |= result.is_err();
                result
            }
        }
        let mut out = Tracking {
            out: f,
            failed: false,
        };
        let _ = write!(out, "{}", self.0);
        if out.failed { Err(fmt::Error) } else { Ok(()) }
    }
}

/// A `Debug` value, shown as `{:?}`.
pub(super) struct DebugText<'a>(&'a dyn fmt::Debug);

impl fmt::Display for DebugText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0, f)
    }
}

/// `serde_json` writes bytes and a `fmt` layer takes `str`. `serde_json` only writes whole
/// UTF-8 sequences (it cuts strings at the ASCII characters it escapes), so each write is
/// `str`; were one not, the line would fail to format, never be written broken.
pub(super) struct FmtWrite<'a, 'w>(&'a mut Writer<'w>);

impl io::Write for FmtWrite<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = std::str::from_utf8(buf).map_err(io::Error::other)?;
        self.0.write_str(text).map_err(io::Error::other)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Serializes an event's fields as members of the line.
pub(super) struct EventFields<'a, M: SerializeMap> {
    line: &'a mut M,
    result: Result<(), M::Error>,
}

impl<M: SerializeMap> EventFields<'_, M> {
    fn entry<V: Serialize + ?Sized>(&mut self, field: &Field, value: &V) {
        if self.result.is_ok() {
            self.result = self.line.serialize_entry(field.name(), value);
        }
    }
}

impl<M: SerializeMap> Visit for EventFields<'_, M> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        if value.is_finite() {
            self.entry(field, &value);
        } else {
            // JSON has no NaN or infinity: `"NaN"`, `"inf"`, `"-inf"`.
            self.entry(field, &Text(value));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.entry(field, &value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.entry(field, &value);
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.entry(field, &value);
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.entry(field, &value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.entry(field, &value);
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.entry(field, value);
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.entry(field, &Text(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.entry(field, &Text(DebugText(value)));
    }
}
