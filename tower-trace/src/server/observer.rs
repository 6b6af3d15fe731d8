use std::borrow::Cow;
use std::sync::Arc;

use http::{HeaderMap, HeaderName, Request, Response};
use opentelemetry::trace::{Link, SpanContext, SpanKind, TraceContextExt, TraceFlags, Tracer};
use opentelemetry::{Array, Context, Key, KeyValue, StringValue, Value};
use propagation::HeaderPropagator;

use crate::conventions::{Protocol, RpcConventions};
use crate::grpc;
use crate::intern::Interner;
use crate::lifecycle::{Now, Observer, Outcome, Progress, Record};
use crate::redact::redact_query;
use crate::request::{MakeRoute, RequestInfo, RequestPredicate};
use crate::span_end::{Role, SpanState};
use crate::{flags, semconv};

/// The server layer's configuration: hooks (generic, swapped by the builder) and settings.
pub(crate) struct Config<T, P, R, F, E> {
    /// Shared: tracers need not be `Clone` (`BoxedTracer` is not).
    pub(crate) tracer: Arc<T>,
    pub(crate) propagator: P,
    pub(crate) route: R,
    pub(crate) skip: F,
    pub(crate) public: E,
    pub(crate) settings: Settings,
}

#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) enabled: bool,
    /// The tracer is a no-op (probed once, when the layer was built): never enabled.
    pub(crate) noop_tracer: bool,
    pub(crate) protocol: Protocol,
    pub(crate) rpc: RpcConventions,
    pub(crate) request_headers: Arc<[(HeaderName, Key)]>,
    pub(crate) response_headers: Arc<[(HeaderName, Key)]>,
    pub(crate) sensitive_query: Arc<[Box<str>]>,
    pub(crate) default_scheme: &'static str,
    pub(crate) random_roots: bool,
    /// Routes and server addresses seen so far: their attribute values allocate once.
    pub(crate) interned: Arc<(Interner, Interner)>,
}

/// The [`Observer`] behind [`TraceLayer`](crate::TraceLayer): one `Arc` clone per service
/// clone (axum clones the route's service per request), nothing cloned per request.
pub struct ServerObserver<T, P, R, F, E> {
    config: Arc<Config<T, P, R, F, E>>,
}

impl<T, P: Clone, R: Clone, F: Clone, E: Clone> Clone for Config<T, P, R, F, E> {
    fn clone(&self) -> Self {
        Config {
            tracer: Arc::clone(&self.tracer),
            propagator: self.propagator.clone(),
            route: self.route.clone(),
            skip: self.skip.clone(),
            public: self.public.clone(),
            settings: self.settings.clone(),
        }
    }
}

impl<T, P, R, F, E> ServerObserver<T, P, R, F, E> {
    pub(crate) fn new(config: Config<T, P, R, F, E>) -> Self {
        ServerObserver {
            config: Arc::new(config),
        }
    }
}

impl<T, P, R, F, E> Clone for ServerObserver<T, P, R, F, E> {
    fn clone(&self) -> Self {
        ServerObserver {
            config: Arc::clone(&self.config),
        }
    }
}

impl<T, P, R, F, E> std::fmt::Debug for ServerObserver<T, P, R, F, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerObserver")
            .field("enabled", &self.config.settings.enabled)
            .finish_non_exhaustive()
    }
}

/// A tracer that hands back the parent's span context for a suppressed parent is a no-op
/// (OpenTelemetry's `NoopTracer`, the global default before a provider is installed): the SDK
/// returns an invalid context for a suppressed parent instead, and records nothing. Checked
/// once, when the layer is built.
pub(crate) fn is_noop<T: Tracer>(tracer: &T) -> bool {
    use opentelemetry::trace::{Span, SpanId, TraceId, TraceState};
    let probe = SpanContext::new(
        TraceId::from(0x5072_6f62_6520_666f_7220_6e6f_6f70_2e2e),
        SpanId::from(0x7072_6f62_6521_2121),
        TraceFlags::SAMPLED,
        true,
        TraceState::NONE,
    );
    let parent = Context::new()
        .with_remote_span_context(probe.clone())
        .with_telemetry_suppressed();
    let mut span = tracer.build_with_context(tracer.span_builder("noop-probe"), &parent);
    let noop = span.span_context() == &probe;
    span.end();
    noop
}

/// The per-request state of a server span.
#[derive(Debug)]
pub struct ServerRecord(State);

#[derive(Debug)]
enum State {
    /// Skipped: only the caller's context, made current for the handler.
    PassThrough(Context),
    Span(SpanRecord),
}

#[derive(Debug)]
struct SpanRecord {
    span: SpanState,
    response_headers: Option<Arc<[(HeaderName, Key)]>>,
}

impl<B, T, P, R, F, E> Observer<B> for ServerObserver<T, P, R, F, E>
where
    T: Tracer,
    T::Span: Send + Sync + 'static,
    P: HeaderPropagator,
    R: MakeRoute,
    F: RequestPredicate,
    E: RequestPredicate,
{
    type Record = ServerRecord;

    fn on_request(&self, request: &mut Request<B>, now: &Now) -> Option<ServerRecord> {
        let config = &*self.config;
        let settings = &config.settings;
        if !settings.enabled {
            return None;
        }
        let info = RequestInfo::new(request);
        if config.skip.check(&info) {
            let caller = config
                .propagator
                .extract_headers(request.headers(), &Context::new());
            return caller
                .has_active_span()
                .then(|| ServerRecord(State::PassThrough(caller)));
        }

        let grpc = match settings.protocol {
            Protocol::Http => None,
            Protocol::Grpc => Some(settings.rpc),
            Protocol::Auto => grpc::is_grpc(request.headers()).then_some(settings.rpc),
        };
        let caller = config
            .propagator
            .extract_headers(request.headers(), &Context::new());
        let public = config.public.check(&info);
        let route = if grpc.is_none() {
            config.route.route(&info)
        } else {
            None
        };
        let (method, known_method) = semconv::method(request.method());
        let name: Cow<'static, str> = match (grpc, &route) {
            (Some(_), _) => match grpc::split_path(request.uri().path()) {
                Some((full, _, _)) => Cow::Owned(full.to_owned()),
                None => Cow::Borrowed("grpc"),
            },
            (None, Some(route)) => {
                let m = if known_method { method } else { "HTTP" };
                match crate::intern::span_name(m, route) {
                    Some(name) => Cow::Borrowed(name),
                    None => Cow::Owned(format!("{m} {route}")),
                }
            }
            (None, None) => Cow::Borrowed(if known_method { method } else { "HTTP" }),
        };

        // The attributes go on the builder, before the sampling decision, as the conventions
        // ask (samplers may read them); the SDK keeps this `Vec` as the span's own, so a
        // recorded span costs one attribute allocation, not two.
        let attributes = request_attributes(request, settings, grpc, method, known_method, route);
        let start = now.get();
        let mut builder = config
            .tracer
            .span_builder(name)
            .with_kind(SpanKind::Server)
            .with_start_time(start.system)
            .with_attributes(attributes);
        let parent = if public {
            // Only a public endpoint needs its own copy of the caller's span context (its
            // trace state allocates when cloned).
            let span = caller.span();
            let remote = span.span_context();
            if remote.is_valid() {
                builder = builder.with_links(vec![Link::with_context(remote.clone())]);
            }
            Context::new()
        } else {
            caller
        };
        let span = builder.start_with_context(&*config.tracer, &parent);
        let recording = opentelemetry::trace::Span::is_recording(&span);
        let trace_id = span_context_of(&span).trace_id();
        let random = flags::is_random(&parent, trace_id, settings.random_roots);
        let cx = match flags::with_random(span_context_of(&span), random) {
            // A dropped span: the SDK gave it default flags; carry the right ones instead.
            Some(fixed) if !recording => parent.with_remote_span_context(fixed),
            _ if random && !parent.span().span_context().is_valid() => {
                // A recorded root: its flags are the SDK's, so tell client layers below.
                parent
                    .with_value(flags::LocalRandomRoot(trace_id))
                    .with_span(span)
            }
            _ => parent.with_span(span),
        };

        request.extensions_mut().insert(cx.clone());
        let response_headers = (recording && !settings.response_headers.is_empty())
            .then(|| Arc::clone(&settings.response_headers));
        Some(ServerRecord(State::Span(SpanRecord {
            span: SpanState::new(cx, start, recording, grpc),
            response_headers,
        })))
    }
}

/// `server.address` (interned) and `server.port`, when the request says.
fn push_server_address(
    attrs: &mut Vec<KeyValue>,
    settings: &Settings,
    address: Option<&str>,
    port: Option<u16>,
) {
    if let Some(address) = address {
        attrs.push(KeyValue::new(
            semconv::SERVER_ADDRESS,
            interned(&settings.interned.1, address),
        ));
        if let Some(port) = port {
            attrs.push(KeyValue::new(semconv::SERVER_PORT, i64::from(port)));
        }
    }
}

/// The interned copy of `value`, or an owned one when the interner is full.
fn interned(interner: &Interner, value: &str) -> StringValue {
    match interner.get(value) {
        Some(v) => StringValue::from(v),
        None => StringValue::from(value.to_owned()),
    }
}

fn span_context_of<S: opentelemetry::trace::Span>(span: &S) -> &SpanContext {
    span.span_context()
}

fn request_attributes<B>(
    request: &Request<B>,
    settings: &Settings,
    grpc: Option<RpcConventions>,
    method: &'static str,
    known_method: bool,
    route: Option<Cow<'_, str>>,
) -> Vec<KeyValue> {
    let mut attrs = Vec::with_capacity(16);
    let uri = request.uri();
    let headers = request.headers();
    let (address, port) = semconv::server_address(request);

    if let Some(rpc) = grpc {
        match (rpc, grpc::split_path(uri.path())) {
            (RpcConventions::Current, path) => {
                attrs.push(KeyValue::new(semconv::RPC_SYSTEM_NAME, "grpc"));
                let method = path.map_or(Cow::Borrowed(semconv::OTHER), |(full, _, _)| {
                    Cow::Owned(full.to_owned())
                });
                attrs.push(KeyValue::new(semconv::RPC_METHOD, method));
            }
            (RpcConventions::Classic, path) => {
                attrs.push(KeyValue::new(semconv::RPC_SYSTEM, "grpc"));
                if let Some((_, service, method)) = path {
                    attrs.push(KeyValue::new(semconv::RPC_SERVICE, service.to_owned()));
                    attrs.push(KeyValue::new(semconv::RPC_METHOD, method.to_owned()));
                }
            }
        }
        push_server_address(&mut attrs, settings, address, port);
        push_peer(&mut attrs, request, false);
        return attrs;
    }

    attrs.push(KeyValue::new(semconv::HTTP_REQUEST_METHOD, method));
    if !known_method {
        attrs.push(KeyValue::new(
            semconv::HTTP_REQUEST_METHOD_ORIGINAL,
            request.method().as_str().to_owned(),
        ));
    }
    attrs.push(KeyValue::new(semconv::URL_PATH, uri.path().to_owned()));
    if let Some(query) = uri.query() {
        let redacted = redact_query(query, &settings.sensitive_query);
        attrs.push(KeyValue::new(semconv::URL_QUERY, redacted.into_owned()));
    }
    attrs.push(KeyValue::new(
        semconv::URL_SCHEME,
        semconv::url_scheme(request, settings.default_scheme),
    ));
    if let Some(route) = route {
        let value = match settings.interned.0.get(&route) {
            Some(route) => StringValue::from(route),
            None => StringValue::from(route.into_owned()),
        };
        attrs.push(KeyValue::new(semconv::HTTP_ROUTE, value));
    }
    if let Some(version) = semconv::protocol_version(request.version()) {
        attrs.push(KeyValue::new(semconv::NETWORK_PROTOCOL_VERSION, version));
    }
    push_server_address(&mut attrs, settings, address, port);
    if let Some(agent) = headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
    {
        attrs.push(KeyValue::new(
            semconv::USER_AGENT_ORIGINAL,
            agent.to_owned(),
        ));
    }
    push_peer(&mut attrs, request, true);
    push_headers(&mut attrs, headers, &settings.request_headers);
    attrs
}

/// `client.address` (HTTP only) and `network.peer.*`, from the connection's address when the
/// server recorded it (axum `ConnectInfo<SocketAddr>`, or [`crate::PeerAddr`]).
fn push_peer<B>(attrs: &mut Vec<KeyValue>, request: &Request<B>, http: bool) {
    let ext = request.extensions();
    let peer = ext.get::<crate::PeerAddr>().map(|p| p.0);
    #[cfg(feature = "axum")]
    let peer = peer.or_else(|| {
        ext.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0)
    });
    if http {
        let forwarded_for = request
            .headers()
            .get(semconv::X_FORWARDED_FOR)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty());
        let client = match (forwarded_for, peer) {
            (Some(client), _) => Some(client.to_owned()),
            (None, Some(peer)) => Some(peer.ip().to_string()),
            (None, None) => None,
        };
        if let Some(client) = client {
            attrs.push(KeyValue::new(semconv::CLIENT_ADDRESS, client));
        }
    }
    if let Some(peer) = peer {
        attrs.push(KeyValue::new(
            semconv::NETWORK_PEER_ADDRESS,
            peer.ip().to_string(),
        ));
        attrs.push(KeyValue::new(
            semconv::NETWORK_PEER_PORT,
            i64::from(peer.port()),
        ));
    }
}

fn push_headers(attrs: &mut Vec<KeyValue>, headers: &HeaderMap, allowed: &[(HeaderName, Key)]) {
    for (name, key) in allowed {
        let values: Vec<StringValue> = headers
            .get_all(name)
            .iter()
            .filter(|v| !v.is_sensitive())
            .filter_map(|v| v.to_str().ok())
            .map(|v| StringValue::from(v.to_owned()))
            .collect();
        if !values.is_empty() {
            attrs.push(KeyValue::new(
                key.clone(),
                Value::Array(Array::String(values)),
            ));
        }
    }
}

// === impl Record ===

impl Record for ServerRecord {
    #[inline]
    fn context(&self) -> Option<&Context> {
        match &self.0 {
            State::PassThrough(cx) => Some(cx),
            State::Span(state) => Some(&state.span.cx),
        }
    }

    fn on_response<B>(&mut self, response: &Response<B>) -> Progress {
        if let State::Span(state) = &mut self.0 {
            let span = &mut state.span;
            span.status = Some(response.status().as_u16());
            if span.grpc.is_some() {
                // Trailers-Only: the status is in the head.
                span.grpc_status = grpc::status_in_head(response);
            }
            if let Some(allowed) = &state.response_headers {
                let mut attrs = Vec::new();
                push_headers(&mut attrs, response.headers(), allowed);
                span.cx.span().set_attributes(attrs);
            }
        }
        Progress::Continue
    }

    fn on_trailers(&mut self, trailers: &HeaderMap) {
        if let State::Span(state) = &mut self.0 {
            if state.span.grpc.is_some() {
                if let Some(code) = grpc::status_in(trailers) {
                    state.span.grpc_status = Some(code);
                }
            }
        }
    }

    fn finish(self, outcome: Outcome<'_>, now: &Now) {
        if let State::Span(state) = self.0 {
            state.span.end(Role::Server, outcome, now);
        }
    }
}
