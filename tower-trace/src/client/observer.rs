use std::borrow::Cow;
use std::sync::Arc;

use http::{HeaderMap, Method, Request, Response, StatusCode, Uri, Version};
use opentelemetry::trace::{Span as _, SpanKind, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use propagation::HeaderPropagator;

use crate::conventions::{Protocol, RpcConventions};
use crate::grpc::{self, Code};
use crate::lifecycle::{Now, Observer, Outcome, Progress, Record};
use crate::redact::url_full;
use crate::span_end::{Role, SpanState};
use crate::{flags, semconv};

/// The client layer's configuration.
pub(crate) struct ClientConfig<T, P> {
    pub(crate) tracer: Arc<T>,
    pub(crate) propagator: P,
    pub(crate) settings: ClientSettings,
}

impl<T, P: Clone> Clone for ClientConfig<T, P> {
    fn clone(&self) -> Self {
        ClientConfig {
            tracer: Arc::clone(&self.tracer),
            propagator: self.propagator.clone(),
            settings: self.settings.clone(),
        }
    }
}

#[derive(Clone)]
pub(crate) struct ClientSettings {
    pub(crate) enabled: bool,
    /// The tracer is a no-op (probed once, when the layer was built): no spans.
    pub(crate) noop_tracer: bool,
    pub(crate) protocol: Protocol,
    pub(crate) rpc: RpcConventions,
    pub(crate) sensitive_query: Arc<[Box<str>]>,
    /// `host[:port]` for requests whose URI has no authority (tonic's channel adds it later).
    pub(crate) server_authority: Option<Arc<str>>,
    pub(crate) random_roots: bool,
}

/// The [`Observer`] behind [`ClientTraceLayer`](crate::ClientTraceLayer) and the reqwest
/// middleware.
pub struct ClientObserver<T, P> {
    config: Arc<ClientConfig<T, P>>,
}

impl<T, P> Clone for ClientObserver<T, P> {
    fn clone(&self) -> Self {
        ClientObserver {
            config: Arc::clone(&self.config),
        }
    }
}

impl<T, P> std::fmt::Debug for ClientObserver<T, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientObserver")
            .field("enabled", &self.config.settings.enabled)
            .finish_non_exhaustive()
    }
}

impl<T, P> ClientObserver<T, P> {
    pub(crate) fn new(config: ClientConfig<T, P>) -> Self {
        ClientObserver {
            config: Arc::new(config),
        }
    }
}

/// What the client side needs of a request, whatever carries it (an `http::Request`, a
/// `reqwest::Request`).
pub(crate) struct OutgoingRequest<'a> {
    pub(crate) method: &'a Method,
    pub(crate) uri: &'a Uri,
    pub(crate) headers: &'a mut HeaderMap,
    /// An explicit parent (a `Context` in the request's extensions), else `Context::current()`.
    pub(crate) parent: Option<&'a Context>,
}

impl<T, P> ClientObserver<T, P>
where
    T: Tracer,
    T::Span: Send + Sync + 'static,
    P: HeaderPropagator,
{
    /// Starts the client span (when enabled) and injects the headers.
    pub(crate) fn start(
        &self,
        request: &mut OutgoingRequest<'_>,
        now: &Now,
    ) -> Option<ClientRecord> {
        let config = &*self.config;
        let settings = &config.settings;
        let parent = request.parent.cloned().unwrap_or_else(Context::current);
        if !settings.enabled {
            // No spans, but the caller's context still travels on.
            if parent.span().span_context().is_valid() {
                config.propagator.inject_headers(&parent, request.headers);
            }
            return None;
        }

        let grpc = match settings.protocol {
            Protocol::Http => None,
            Protocol::Grpc => Some(settings.rpc),
            Protocol::Auto => grpc::is_grpc(request.headers).then_some(settings.rpc),
        };
        let (method, known_method) = semconv::method(request.method);
        let path = grpc.and_then(|_| grpc::split_path(request.uri.path()));
        let name: Cow<'static, str> = match (grpc, path) {
            (Some(_), Some((full, _, _))) => Cow::Owned(full.to_owned()),
            (Some(_), None) => Cow::Borrowed("grpc"),
            (None, _) => Cow::Borrowed(if known_method { method } else { "HTTP" }),
        };

        // The attributes go on the builder, before the sampling decision, as the conventions
        // ask; the SDK keeps this `Vec` as the span's own.
        let authority = request
            .uri
            .authority()
            .map(|a| a.as_str())
            .or(settings.server_authority.as_deref());
        let attributes = request_attributes(
            request,
            settings,
            grpc,
            path,
            method,
            known_method,
            authority,
        );
        let start = now.get();
        let span = config
            .tracer
            .span_builder(name)
            .with_kind(SpanKind::Client)
            .with_start_time(start.system)
            .with_attributes(attributes)
            .start_with_context(&*config.tracer, &parent);
        let recording = span.is_recording();
        let trace_id = span.span_context().trace_id();
        let random = flags::is_random(&parent, trace_id, settings.random_roots);
        let fixed = flags::with_random(span.span_context(), random);
        let cx = parent.with_span(span);

        // This client span's id goes on the wire, so N calls carry N parent ids.
        match fixed {
            Some(sc) => config
                .propagator
                .inject_headers(&cx.with_remote_span_context(sc), request.headers),
            None => config.propagator.inject_headers(&cx, request.headers),
        }

        Some(ClientRecord(SpanState::new(cx, start, recording, grpc)))
    }
}

impl<B, T, P> Observer<B> for ClientObserver<T, P>
where
    T: Tracer,
    T::Span: Send + Sync + 'static,
    P: HeaderPropagator,
{
    type Record = ClientRecord;

    fn on_request(&self, request: &mut Request<B>, now: &Now) -> Option<ClientRecord> {
        // Move the headers out (no allocation) to borrow them mutably beside the rest.
        let mut headers = std::mem::take(request.headers_mut());
        let record = self.start(
            &mut OutgoingRequest {
                method: request.method(),
                uri: request.uri(),
                headers: &mut headers,
                parent: request.extensions().get::<Context>(),
            },
            now,
        );
        *request.headers_mut() = headers;
        record
    }
}

fn request_attributes(
    request: &OutgoingRequest<'_>,
    settings: &ClientSettings,
    grpc: Option<RpcConventions>,
    path: Option<(&str, &str, &str)>,
    method: &'static str,
    known_method: bool,
    authority: Option<&str>,
) -> Vec<KeyValue> {
    // Room for the end-of-request attributes too (status code, version, `error.type`): the SDK
    // keeps this `Vec` as the span's, so it never grows.
    let mut attrs = Vec::with_capacity(12);
    let (host, port) = match authority {
        Some(a) => semconv::split_authority(a, request.uri.scheme_str()),
        None => (None, None),
    };
    if let Some(host) = host {
        attrs.push(KeyValue::new(semconv::SERVER_ADDRESS, host.to_owned()));
    }
    if let Some(port) = port {
        attrs.push(KeyValue::new(semconv::SERVER_PORT, i64::from(port)));
    }
    match (grpc, path) {
        (Some(RpcConventions::Current), path) => {
            attrs.push(KeyValue::new(semconv::RPC_SYSTEM_NAME, "grpc"));
            let m = path.map_or(Cow::Borrowed(semconv::OTHER), |(full, _, _)| {
                Cow::Owned(full.to_owned())
            });
            attrs.push(KeyValue::new(semconv::RPC_METHOD, m));
        }
        (Some(RpcConventions::Classic), path) => {
            attrs.push(KeyValue::new(semconv::RPC_SYSTEM, "grpc"));
            if let Some((_, service, m)) = path {
                attrs.push(KeyValue::new(semconv::RPC_SERVICE, service.to_owned()));
                attrs.push(KeyValue::new(semconv::RPC_METHOD, m.to_owned()));
            }
        }
        (None, _) => {
            attrs.push(KeyValue::new(semconv::HTTP_REQUEST_METHOD, method));
            if !known_method {
                attrs.push(KeyValue::new(
                    semconv::HTTP_REQUEST_METHOD_ORIGINAL,
                    request.method.as_str().to_owned(),
                ));
            }
            attrs.push(KeyValue::new(
                semconv::URL_FULL,
                url_full(request.uri, authority, &settings.sensitive_query),
            ));
        }
    }
    attrs
}

/// The per-request state of a client span.
#[derive(Debug)]
pub struct ClientRecord(SpanState);

impl ClientRecord {
    /// The response head: HTTP spans are done (the conventions end them here), gRPC spans
    /// go on to the trailers unless the head already says how the call ended.
    pub(crate) fn on_head(
        &mut self,
        status: StatusCode,
        version: Version,
        headers: &HeaderMap,
    ) -> Progress {
        let state = &mut self.0;
        state.status = Some(status.as_u16());
        state.version = semconv::protocol_version(version);
        if state.grpc.is_none() {
            return Progress::Finish;
        }
        state.grpc_status = grpc::status_in(headers);
        if state.grpc_status.is_none() && status != StatusCode::OK {
            // Not a gRPC answer at all: the HTTP-to-gRPC table (clients only).
            state.grpc_status = Some(Code::from_http_status(status.as_u16()));
            return Progress::Finish;
        }
        Progress::Continue
    }
}

impl Record for ClientRecord {
    #[inline]
    fn context(&self) -> Option<&Context> {
        Some(&self.0.cx)
    }

    fn on_response<B>(&mut self, response: &Response<B>) -> Progress {
        self.on_head(response.status(), response.version(), response.headers())
    }

    fn on_trailers(&mut self, trailers: &HeaderMap) {
        if let Some(code) = grpc::status_in(trailers) {
            self.0.grpc_status = Some(code);
        }
    }

    fn finish(self, outcome: Outcome<'_>, now: &Now) {
        self.0.end(Role::Client, outcome, now);
    }
}
