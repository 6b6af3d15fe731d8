use std::sync::Arc;

use http::Request;
use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue, StringValue};
use tower_telemetry_propagation::HeaderPropagator;

use crate::conventions::attributes as attr;
use crate::conventions::grpc;
use crate::conventions::redact::url_full;
use crate::lifecycle::{End, FactSet, Needs, Observer, Record, RequestFacts};
use crate::span::hooks::{MakeSpanName, RequestAttributes, SpanHooks};
use crate::span::{self, Placement, SpanState};
use crate::view::RequestInfo;

/// The client layer's configuration (the request facts' configuration is the lifecycle's
/// `Conventions`).
pub(crate) struct ClientConfig<T, P, H> {
    pub(crate) tracer: Arc<T>,
    pub(crate) propagator: P,
    pub(crate) hooks: H,
    pub(crate) settings: ClientSettings,
}

impl<T, P: Clone, H: Clone> Clone for ClientConfig<T, P, H> {
    fn clone(&self) -> Self {
        ClientConfig {
            tracer: Arc::clone(&self.tracer),
            propagator: self.propagator.clone(),
            hooks: self.hooks.clone(),
            settings: self.settings.clone(),
        }
    }
}

#[derive(Clone)]
pub(crate) struct ClientSettings {
    pub(crate) enabled: bool,
    /// The tracer is a no-op (probed once, when the layer was built): no spans.
    pub(crate) noop_tracer: bool,
    pub(crate) sensitive_query: Arc<[Box<str>]>,
    pub(crate) random_roots: bool,
    #[cfg(feature = "tracing")]
    pub(crate) logs: crate::logs::span::LogSpans,
}

/// The [`Observer`] behind [`ClientTraceLayer`](crate::ClientTraceLayer) and the reqwest
/// middleware.
pub struct ClientObserver<T, P, H = SpanHooks> {
    config: Arc<ClientConfig<T, P, H>>,
}

impl<T, P, H> Clone for ClientObserver<T, P, H> {
    fn clone(&self) -> Self {
        ClientObserver {
            config: Arc::clone(&self.config),
        }
    }
}

impl<T, P, H> std::fmt::Debug for ClientObserver<T, P, H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientObserver")
            .field("enabled", &self.config.settings.enabled)
            .finish_non_exhaustive()
    }
}

impl<T, P, H> ClientObserver<T, P, H> {
    pub(crate) fn new(config: ClientConfig<T, P, H>) -> Self {
        ClientObserver {
            config: Arc::new(config),
        }
    }
}

impl<B, T, P, N, Q> Observer<B> for ClientObserver<T, P, SpanHooks<N, Q>>
where
    T: Tracer,
    T::Span: Send + Sync + 'static,
    P: HeaderPropagator,
    N: MakeSpanName,
    Q: RequestAttributes,
{
    type Record = ClientRecord;

    /// The start, the server address and the RPC method: what a client span and its name read
    /// (an HTTP client span is named after the method alone, without a route).
    #[inline]
    fn needs(&self) -> Needs {
        Needs::new(FactSet::START.and(FactSet::SERVER).and(FactSet::RPC_METHOD))
    }

    // Always on: with spans off, the caller's context must still be injected.

    fn on_request(
        &self,
        request: &mut Request<B>,
        facts: &RequestFacts<'_>,
    ) -> Option<ClientRecord> {
        let config = &*self.config;
        let settings = &config.settings;
        let parent = request
            .extensions()
            .get::<Context>()
            .cloned()
            .unwrap_or_else(Context::current);
        if !settings.enabled || facts.is_filtered() {
            // No span, but the caller's context still travels on.
            if parent.span().span_context().is_valid() {
                config
                    .propagator
                    .inject_headers(&parent, request.headers_mut());
            }
            return None;
        }

        let info = RequestInfo::new(request);
        let placement = Placement {
            kind: SpanKind::Client,
            parent: &parent,
            link: None,
            random_roots: settings.random_roots,
        };
        let attributes = request_attributes(&info, facts, settings);
        let (span, wire) = span::start(
            &*config.tracer,
            &config.hooks,
            &info,
            facts,
            attributes,
            placement,
        );
        #[cfg(feature = "tracing")]
        let log = {
            let otel_span = span.cx.span();
            let ids = wire.as_ref().unwrap_or_else(|| otel_span.span_context());
            settings.logs.client(ids, facts)
        };
        let cx = &span.cx;
        // This client span's id goes on the wire, so N calls carry N parent ids.
        match wire {
            Some(sc) => config
                .propagator
                .inject_headers(&cx.with_remote_span_context(sc), request.headers_mut()),
            None => config.propagator.inject_headers(cx, request.headers_mut()),
        }
        Some(ClientRecord {
            span,
            #[cfg(feature = "tracing")]
            log,
        })
    }
}

fn request_attributes(
    request: &RequestInfo<'_>,
    facts: &RequestFacts<'_>,
    settings: &ClientSettings,
) -> Vec<KeyValue> {
    // Room for the end-of-request attributes too (status code, version, `error.type`): the SDK
    // keeps this `Vec` as the span's, so it never grows.
    let mut attrs = Vec::with_capacity(12);
    let (host, port) = facts.server();
    if let Some(host) = host {
        attrs.push(KeyValue::new(attr::SERVER_ADDRESS, StringValue::from(host)));
    }
    if let Some(port) = port {
        attrs.push(KeyValue::new(attr::SERVER_PORT, i64::from(port)));
    }
    match facts.rpc() {
        Some(rpc) => {
            let path = request.uri().path();
            if rpc.emits_classic() {
                attrs.push(KeyValue::new(attr::RPC_SYSTEM, "grpc"));
                if let Some((_, service, m)) = grpc::split_path(path) {
                    attrs.push(KeyValue::new(attr::RPC_SERVICE, service.to_owned()));
                    // With both generations, `rpc.method` holds the current value.
                    if !rpc.emits_current() {
                        attrs.push(KeyValue::new(attr::RPC_METHOD, m.to_owned()));
                    }
                }
            }
            if rpc.emits_current() {
                attrs.push(KeyValue::new(attr::RPC_SYSTEM_NAME, "grpc"));
                // A client's method comes from its stub: recognised unless it can't be named
                // (see `Verdict::rpc_method_recognized`), whatever the server answers.
                match facts.rpc_method() {
                    Some(m) => attrs.push(KeyValue::new(attr::RPC_METHOD, StringValue::from(m))),
                    None => {
                        attrs.push(KeyValue::new(attr::RPC_METHOD, attr::OTHER));
                        attrs.push(KeyValue::new(
                            attr::RPC_METHOD_ORIGINAL,
                            grpc::method_as_called(path).to_owned(),
                        ));
                    }
                }
            }
        }
        None => {
            attrs.push(KeyValue::new(attr::HTTP_REQUEST_METHOD, facts.method()));
            if !facts.is_known_method() {
                attrs.push(KeyValue::new(
                    attr::HTTP_REQUEST_METHOD_ORIGINAL,
                    request.method().as_str().to_owned(),
                ));
            }
            attrs.push(KeyValue::new(
                attr::URL_FULL,
                url_full(
                    request.uri(),
                    facts.authority(request),
                    &settings.sensitive_query,
                ),
            ));
        }
    }
    attrs
}

/// The per-request state of a client span.
#[derive(Debug)]
pub struct ClientRecord {
    span: SpanState,
    /// The call's `tracing` span, for logs.
    #[cfg(feature = "tracing")]
    log: crate::logs::span::LogSpan,
}

impl Record for ClientRecord {
    #[inline]
    fn context(&self) -> Option<&Context> {
        Some(&self.span.cx)
    }

    #[cfg(feature = "tracing")]
    #[inline]
    fn tracing_span(&self) -> Option<&tracing::Span> {
        self.log.get()
    }

    #[cfg(feature = "tracing")]
    fn on_response(&mut self, _: &crate::view::ResponseInfo<'_>, facts: &crate::lifecycle::Facts) {
        crate::logs::span::record_response(&self.log, facts);
    }

    fn finish(self, end: &End<'_>) {
        #[cfg(feature = "tracing")]
        crate::logs::span::record_end(&self.log, end);
        self.span.end(end);
    }
}
