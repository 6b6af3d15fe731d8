//! The server span's configuration, built by [`TraceLayer`](crate::TraceLayer) and shared by
//! its observer (the request facts' configuration is the lifecycle's `Conventions`).

use std::sync::Arc;

use http::HeaderName;
use opentelemetry::Key;

use super::trace_response::TraceResponse;
use crate::span::hooks::ResponseAttributes;

/// The server span's configuration: tracer, propagator, public-endpoint predicate, hooks, and
/// settings (the request facts' configuration is the lifecycle's `Conventions`).
pub(crate) struct SpanConfig<T, P, E, H> {
    /// Shared: tracers need not be `Clone` (`BoxedTracer` is not).
    pub(crate) tracer: Arc<T>,
    pub(crate) propagator: P,
    pub(crate) public: E,
    pub(crate) hooks: H,
    pub(crate) settings: Settings,
}

#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) enabled: bool,
    /// The tracer is a no-op (probed once, when the layer was built): never enabled.
    pub(crate) noop_tracer: bool,
    pub(crate) request_headers: Arc<[(HeaderName, Key)]>,
    /// Response headers and the response hook, when any is set.
    pub(crate) response: Option<Arc<dyn ResponseAttributes + Send + Sync>>,
    pub(crate) sensitive_query: Arc<[Box<str>]>,
    pub(crate) random_roots: bool,
    pub(crate) trace_response: TraceResponse,
    #[cfg(feature = "tracing")]
    pub(crate) logs: crate::logs::span::LogSpans,
}

impl<T, P: Clone, E: Clone, H: Clone> Clone for SpanConfig<T, P, E, H> {
    fn clone(&self) -> Self {
        SpanConfig {
            tracer: Arc::clone(&self.tracer),
            propagator: self.propagator.clone(),
            public: self.public.clone(),
            hooks: self.hooks.clone(),
            settings: self.settings.clone(),
        }
    }
}
