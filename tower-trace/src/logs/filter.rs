use tracing::Metadata;
use tracing::subscriber::Interest;
use tracing_subscriber::layer::{Context, Filter};

use super::is_request_span;

/// A per-layer filter that hides the request spans from one layer: put it on
/// `tracing-opentelemetry`'s layer, which would otherwise export each request a second time.
///
/// The request's OpenTelemetry span is made by our layers; the `tracing` span is only there
/// for logs. Hidden from `tracing-opentelemetry`, the request span is skipped when it looks
/// for a parent, so `#[instrument]` spans inside a handler become children of the request's
/// current OpenTelemetry `Context`, which is our server span. Everything else passes.
///
/// ```
/// use opentelemetry::trace::noop::NoopTracer;
/// use tracing_subscriber::prelude::*;
/// use tower_telemetry_trace::logs::SkipRequestSpans;
///
/// # let tracer = NoopTracer::new();
/// let subscriber = tracing_subscriber::registry()
///     .with(tracing_subscriber::fmt::layer())
///     .with(tracing_opentelemetry::layer().with_tracer(tracer).with_filter(SkipRequestSpans));
/// # let _ = subscriber;
/// ```
///
/// Combine it with other filters with `tracing_subscriber::filter::FilterExt::and`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SkipRequestSpans;

impl<S> Filter<S> for SkipRequestSpans {
    fn enabled(&self, metadata: &Metadata<'_>, _: &Context<'_, S>) -> bool {
        !is_request_span(metadata)
    }

    fn callsite_enabled(&self, metadata: &'static Metadata<'static>) -> Interest {
        if is_request_span(metadata) {
            Interest::never()
        } else {
            Interest::always()
        }
    }
}
