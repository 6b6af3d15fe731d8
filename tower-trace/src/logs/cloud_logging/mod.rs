//! One JSON object per log line, with the fields Google Cloud Logging reads to join a log
//! entry to its trace.
//!
//! Two halves, one layer: when a span opens or records, [`CloudLoggingLayer`] keeps its fields
//! as typed values in the span's extensions, and, on a request span, its trace id, span id and
//! sampled flag as a [`RequestIds`], read once; the event format serializes each line with
//! `serde_json` from those values, so every string is escaped by construction and nothing is
//! re-read per line.

mod kept;
mod line;

use std::fmt;
use std::io;

use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Dispatch, Event, Level, Metadata, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use self::kept::{KeptFields, RequestIds, SpanFields};
use super::is_request_span;

/// The environment variable [`CloudLogging::from_env`] reads the project id from.
const PROJECT_VAR: &str = "GOOGLE_CLOUD_PROJECT";

/// A `tracing_subscriber` layer for Google Cloud Logging: one JSON object per line, with the
/// special fields Cloud Logging reads from a structured log line ("Structured logging",
/// "Special JSON fields in messages", in Google Cloud Logging's documentation):
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
/// Install it with [`layer`](Self::layer): the layer reads each span's fields, and a request
/// span's ids, once when the span opens or records, and keeps them typed in the span's
/// extensions, where each line finds them.
#[derive(Debug, Clone)]
pub struct CloudLogging<T = SystemTime> {
    /// `projects/PROJECT_ID/traces/`, built once.
    trace_prefix: Box<str>,
    timer: T,
    source_location: bool,
}

impl CloudLogging {
    /// The format for the Google Cloud project `project_id` (where the traces are).
    ///
    /// ```
    /// use tower_telemetry_trace::logs::CloudLogging;
    ///
    /// let format = CloudLogging::new("my-project");
    /// # let _ = format;
    /// ```
    pub fn new(project_id: impl AsRef<str>) -> Self {
        CloudLogging {
            trace_prefix: format!("projects/{}/traces/", project_id.as_ref()).into(),
            timer: SystemTime,
            source_location: true,
        }
    }

    /// The format for the project named by the `GOOGLE_CLOUD_PROJECT` environment variable,
    /// read now; `None` when it is unset or empty.
    ///
    /// ```
    /// use tower_telemetry_trace::logs::CloudLogging;
    ///
    /// let format = CloudLogging::from_env().unwrap_or_else(|| CloudLogging::new("my-project"));
    /// # let _ = format;
    /// ```
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
    ///
    /// ```
    /// use tower_telemetry_trace::logs::CloudLogging;
    /// use tracing_subscriber::fmt::time::Uptime;
    ///
    /// let format = CloudLogging::new("my-project").with_timer(Uptime::default());
    /// # let _ = format;
    /// ```
    pub fn with_timer<T2: FormatTime>(self, timer: T2) -> CloudLogging<T2> {
        CloudLogging {
            trace_prefix: self.trace_prefix,
            timer,
            source_location: self.source_location,
        }
    }

    /// Whether to write `logging.googleapis.com/sourceLocation` (on by default).
    ///
    /// ```
    /// use tower_telemetry_trace::logs::CloudLogging;
    ///
    /// let format = CloudLogging::new("my-project").with_source_location(false);
    /// # let _ = format;
    /// ```
    pub fn with_source_location(mut self, source_location: bool) -> Self {
        self.source_location = source_location;
        self
    }

    /// The layer that writes this format, to stdout (change it with the layer's
    /// `with_writer`).
    ///
    /// ```
    /// use tracing_subscriber::prelude::*;
    /// use tower_telemetry_trace::logs::CloudLogging;
    ///
    /// let subscriber = tracing_subscriber::registry()
    ///     .with(CloudLogging::new("my-project").layer().with_writer(std::io::stderr));
    /// # let _ = subscriber;
    /// ```
    pub fn layer<S>(self) -> CloudLoggingLayer<S, T>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
        T: FormatTime + 'static,
    {
        CloudLoggingLayer {
            fmt: tracing_subscriber::fmt::layer()
                .fmt_fields(KeptFields)
                .event_format(self),
        }
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

// === impl CloudLoggingLayer ===

/// The layer that writes [`CloudLogging`] lines; made by [`CloudLogging::layer`], where the
/// format is described.
///
/// A `tracing_subscriber::fmt` layer underneath (its writer, its per-thread buffer) that also
/// keeps, when a span opens or records, the span's fields and, on a request span, its ids as
/// typed values in the span's extensions.
pub struct CloudLoggingLayer<S, T = SystemTime, W = fn() -> io::Stdout> {
    fmt: tracing_subscriber::fmt::Layer<S, KeptFields, CloudLogging<T>, W>,
}

impl<S, T, W> CloudLoggingLayer<S, T, W> {
    /// Writes the lines through `make_writer` (a `tracing_subscriber::fmt::MakeWriter`)
    /// instead of stdout.
    ///
    /// ```
    /// use tracing_subscriber::prelude::*;
    /// use tower_telemetry_trace::logs::CloudLogging;
    ///
    /// let subscriber = tracing_subscriber::registry()
    ///     .with(CloudLogging::new("my-project").layer().with_writer(std::io::stderr));
    /// # let _ = subscriber;
    /// ```
    pub fn with_writer<W2>(self, make_writer: W2) -> CloudLoggingLayer<S, T, W2>
    where
        W2: for<'w> MakeWriter<'w> + 'static,
    {
        CloudLoggingLayer {
            fmt: self.fmt.with_writer(make_writer),
        }
    }
}

impl<S, T, W> fmt::Debug for CloudLoggingLayer<S, T, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloudLoggingLayer")
            .field("timer", &std::any::type_name::<T>())
            .field("writer", &std::any::type_name::<W>())
            .finish_non_exhaustive()
    }
}

impl<S, T, W> Layer<S> for CloudLoggingLayer<S, T, W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    T: FormatTime + 'static,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        self.fmt.on_register_dispatch(subscriber);
    }

    fn on_layer(&mut self, subscriber: &mut S) {
        self.fmt.on_layer(subscriber);
    }

    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        self.fmt.register_callsite(metadata)
    }

    fn enabled(&self, metadata: &Metadata<'_>, ctx: Context<'_, S>) -> bool {
        self.fmt.enabled(metadata, ctx)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        self.fmt.max_level_hint()
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        // Before the `fmt` layer, which may write a line for the new span.
        if let Some(span) = ctx.span(id) {
            keep_fields(&span, attrs);
        }
        self.fmt.on_new_span(attrs, id, ctx);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            keep_fields(&span, values);
        }
        self.fmt.on_record(id, values, ctx);
    }

    fn on_follows_from(&self, span: &Id, follows: &Id, ctx: Context<'_, S>) {
        self.fmt.on_follows_from(span, follows, ctx);
    }

    fn event_enabled(&self, event: &Event<'_>, ctx: Context<'_, S>) -> bool {
        self.fmt.event_enabled(event, ctx)
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        self.fmt.on_event(event, ctx);
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        self.fmt.on_enter(id, ctx);
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        self.fmt.on_exit(id, ctx);
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        self.fmt.on_close(id, ctx);
    }

    fn on_id_change(&self, old: &Id, new: &Id, ctx: Context<'_, S>) {
        self.fmt.on_id_change(old, new, ctx);
    }
}

/// Records `values` into the span's [`SpanFields`] and, on a request span whose ids they
/// touch, reads its [`RequestIds`] again.
fn keep_fields<R>(span: &SpanRef<'_, R>, values: &impl RecordFields)
where
    R: for<'a> LookupSpan<'a>,
{
    let mut extensions = span.extensions_mut();
    let ids_changed = match extensions.get_mut::<SpanFields>() {
        Some(fields) => fields.record(values),
        None => {
            let mut fields = SpanFields::default();
            let ids_changed = fields.record(values);
            extensions.insert(fields);
            ids_changed
        }
    };
    if !ids_changed || !is_request_span(span.metadata()) {
        return;
    }
    match extensions
        .get_mut::<SpanFields>()
        .and_then(|fields| RequestIds::from_fields(fields))
    {
        Some(ids) => extensions.replace(ids),
        None => extensions.remove::<RequestIds>(),
    };
}

#[cfg(test)]
mod tests;
