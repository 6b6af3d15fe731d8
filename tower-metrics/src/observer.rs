use std::sync::Arc;

use http::{HeaderMap, Request, Response};
use opentelemetry::{KeyValue, StringValue};
use tower_trace::classify::{self, Role};
use tower_trace::grpc::{self, Code};
use tower_trace::intern::Interner;
use tower_trace::lifecycle::{Now, Observer, Outcome, Progress, Record, Timestamp};
use tower_trace::{MakeRoute, Protocol, RequestInfo, RpcConventions, semconv};

use crate::bound::{Atom, SeriesKey};
use crate::instruments::Instruments;

pub(crate) struct Inner<R> {
    pub(crate) role: Role,
    pub(crate) protocol: Protocol,
    pub(crate) rpc: RpcConventions,
    pub(crate) route: R,
    pub(crate) default_scheme: &'static str,
    pub(crate) instruments: Arc<Instruments>,
    pub(crate) interned: Arc<Interned>,
}

/// The label values seen so far, shared by every service of a layer.
pub(crate) struct Interned {
    routes: Interner,
    methods: Interner,
    addresses: Interner,
}

impl Interned {
    pub(crate) fn new() -> Self {
        Interned {
            routes: Interner::new(),
            methods: Interner::new(),
            addresses: Interner::new(),
        }
    }
}

/// The [`Observer`] behind [`MetricsLayer`](crate::MetricsLayer): records RED metrics on the
/// shared request lifecycle. One `Arc` clone per service clone; per request, one `Arc` clone
/// of the instruments and no allocation for label values.
pub struct MetricsObserver<R> {
    inner: Arc<Inner<R>>,
}

impl<R> MetricsObserver<R> {
    pub(crate) fn new(inner: Inner<R>) -> Self {
        MetricsObserver {
            inner: Arc::new(inner),
        }
    }
}

impl<R> Clone for MetricsObserver<R> {
    fn clone(&self) -> Self {
        MetricsObserver {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<R> std::fmt::Debug for MetricsObserver<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsObserver")
            .field("role", &self.inner.role)
            .field("protocol", &self.inner.protocol)
            .finish_non_exhaustive()
    }
}

/// The per-request state of [`MetricsObserver`].
#[derive(Debug)]
pub struct MetricsRecord {
    instruments: Arc<Instruments>,
    role: Role,
    start: Timestamp,
    grpc: Option<RpcConventions>,
    method: &'static str,
    scheme: &'static str,
    route: Option<Arc<str>>,
    request_version: Option<&'static str>,
    response_version: Option<&'static str>,
    server_address: Option<Arc<str>>,
    server_port: Option<u16>,
    rpc_method: Option<Arc<str>>,
    status: Option<u16>,
    grpc_status: Option<Code>,
    request_bytes: Option<u64>,
    response_bytes: u64,
    active: bool,
}

impl<B, R: MakeRoute> Observer<B> for MetricsObserver<R> {
    type Record = MetricsRecord;

    fn on_request(&self, request: &mut Request<B>, now: &Now) -> Option<MetricsRecord> {
        let inner = &*self.inner;
        let grpc = match inner.protocol {
            Protocol::Http => false,
            Protocol::Grpc => true,
            _ => grpc::is_grpc(request.headers()),
        };
        let (method, _) = semconv::method(request.method());
        let mut record = MetricsRecord {
            instruments: Arc::clone(&inner.instruments),
            role: inner.role,
            start: now.get(),
            grpc: grpc.then_some(inner.rpc),
            method,
            scheme: "",
            route: None,
            request_version: semconv::protocol_version(request.version()),
            response_version: None,
            server_address: None,
            server_port: None,
            rpc_method: None,
            status: None,
            grpc_status: None,
            request_bytes: None,
            response_bytes: 0,
            active: false,
        };
        if grpc {
            record.rpc_method = grpc::split_path(request.uri().path())
                .and_then(|(full, _, _)| inner.interned.methods.get(full));
        }
        match inner.role {
            Role::Server => {
                record.scheme = semconv::url_scheme(request, inner.default_scheme);
                if !grpc {
                    let info = RequestInfo::new(request);
                    record.route = inner
                        .route
                        .route(&info)
                        .and_then(|r| inner.interned.routes.get(&r));
                }
            }
            Role::Client => {
                let authority = request.uri().authority().map(|a| a.as_str());
                if let Some(authority) = authority {
                    let (host, port) =
                        semconv::split_authority(authority, request.uri().scheme_str());
                    record.server_address = host.and_then(|h| inner.interned.addresses.get(h));
                    record.server_port = port;
                }
            }
        }
        if inner.instruments.request_body_size.is_some() {
            record.request_bytes = request
                .headers()
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok());
        }
        if let Some(active) = &inner.instruments.http_active {
            if !grpc {
                active.record(&record.base_key(), 1, || record.base_attributes());
                record.active = true;
            }
        }
        Some(record)
    }
}

/// `Some(n)` as `n + 1`, `None` as 0.
fn number(n: Option<u16>) -> u32 {
    n.map_or(0, |n| u32::from(n) + 1)
}

impl MetricsRecord {
    /// The label set of [`Self::base_attributes`], as atoms (see `crate::bound`).
    fn base_key(&self) -> SeriesKey {
        let mut key = SeriesKey::default();
        key.atoms[0] = Atom::of_static(self.method);
        match self.role {
            Role::Server => key.atoms[1] = Atom::of_static(self.scheme),
            Role::Client => {
                key.atoms[1] = self
                    .server_address
                    .as_ref()
                    .map_or(Atom::NONE, Atom::of_interned);
                key.numbers[1] = number(self.server_port);
            }
        }
        key
    }

    /// `http.request.method`, then `url.scheme` (server) or `server.address`/`server.port`
    /// (client): the active-requests attributes, and the start of the duration's.
    fn base_attributes(&self) -> Attrs {
        let mut attrs = Attrs::new();
        attrs.push(KeyValue::new(semconv::HTTP_REQUEST_METHOD, self.method));
        match self.role {
            Role::Server => attrs.push(KeyValue::new(semconv::URL_SCHEME, self.scheme)),
            Role::Client => {
                if let Some(address) = &self.server_address {
                    attrs.push(KeyValue::new(
                        semconv::SERVER_ADDRESS,
                        StringValue::from(Arc::clone(address)),
                    ));
                }
                if let Some(port) = self.server_port {
                    attrs.push(KeyValue::new(semconv::SERVER_PORT, i64::from(port)));
                }
            }
        }
        attrs
    }
}

/// An attribute list on the stack (at most 8 here, so never spilled): recording allocates no
/// `Vec`, and only the attributes pushed are built and dropped.
type Attrs = smallvec::SmallVec<[KeyValue; 8]>;

impl Record for MetricsRecord {
    fn on_response<B>(&mut self, response: &Response<B>) -> Progress {
        self.status = Some(response.status().as_u16());
        self.response_version = semconv::protocol_version(response.version());
        if self.grpc.is_some() {
            self.grpc_status = grpc::status_in_head(response);
            return Progress::Continue;
        }
        match self.role {
            Role::Server => Progress::Continue,
            // HTTP client durations end with the client span, at the response head; the
            // response size then comes from `Content-Length`.
            Role::Client => {
                if self.instruments.response_body_size.is_some() {
                    self.response_bytes = response
                        .headers()
                        .get(http::header::CONTENT_LENGTH)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                }
                Progress::Finish
            }
        }
    }

    #[inline]
    fn on_body_chunk(&mut self, len: usize) {
        self.response_bytes += len as u64;
    }

    fn on_trailers(&mut self, trailers: &HeaderMap) {
        if let Some(code) = grpc::status_in(trailers) {
            self.grpc_status = Some(code);
        }
    }

    fn finish(self, outcome: Outcome<'_>, now: &Now) {
        let elapsed = now.get().duration_since(&self.start);
        match self.grpc {
            Some(rpc) => {
                let verdict = classify::grpc(self.role, self.grpc_status, self.status, &outcome);
                // Methods the server does not implement are `_OTHER` (bounded cardinality).
                let method = match (&self.rpc_method, verdict.grpc_code) {
                    (Some(m), code) if code != Some(Code::Unimplemented) => Some(m),
                    _ => None,
                };
                let value = if self.instruments.rpc_in_ms {
                    elapsed.as_secs_f64() * 1000.0
                } else {
                    elapsed.as_secs_f64()
                };
                let histogram = &self.instruments.rpc_duration;
                let error_type = verdict.error_type;
                let with_error = |mut attrs: Attrs| {
                    if let Some(error_type) = error_type {
                        attrs.push(KeyValue::new(semconv::ERROR_TYPE, error_type));
                    }
                    attrs
                };
                match rpc {
                    RpcConventions::Classic => {
                        // Service and method are split per call (owned): recorded unbound.
                        let mut attrs = Attrs::new();
                        attrs.push(KeyValue::new(semconv::RPC_SYSTEM, "grpc"));
                        if let Some((service, name)) = method.and_then(|m| m.split_once('/')) {
                            attrs.push(KeyValue::new(semconv::RPC_SERVICE, service.to_owned()));
                            attrs.push(KeyValue::new(semconv::RPC_METHOD, name.to_owned()));
                        }
                        if let Some(code) = verdict.grpc_code {
                            attrs.push(KeyValue::new(
                                semconv::RPC_GRPC_STATUS_CODE,
                                i64::from(code.as_i32()),
                            ));
                        }
                        histogram.record_unbound(value, with_error(attrs).as_slice());
                    }
                    _ => {
                        let mut key = SeriesKey::default();
                        key.atoms[0] =
                            method.map_or(Atom::of_static(semconv::OTHER), Atom::of_interned);
                        key.atoms[1] = verdict
                            .grpc_code
                            .map_or(Atom::NONE, |c| Atom::of_static(c.as_str()));
                        key.atoms[2] = error_type.map_or(Atom::NONE, Atom::of_static);
                        histogram.record(&key, value, || {
                            let mut attrs = Attrs::new();
                            attrs.push(KeyValue::new(semconv::RPC_SYSTEM_NAME, "grpc"));
                            attrs.push(KeyValue::new(
                                semconv::RPC_METHOD,
                                method.map_or(StringValue::from(semconv::OTHER), |m| {
                                    StringValue::from(Arc::clone(m))
                                }),
                            ));
                            if let Some(code) = verdict.grpc_code {
                                attrs.push(KeyValue::new(
                                    semconv::RPC_RESPONSE_STATUS_CODE,
                                    code.as_str(),
                                ));
                            }
                            with_error(attrs)
                        });
                    }
                }
            }
            None => {
                let verdict = classify::http(self.role, self.status, &outcome);
                let mut key = self.base_key();
                // The in-flight count's attributes are the base ones.
                if self.active {
                    if let Some(active) = &self.instruments.http_active {
                        active.record(&key, -1, || self.base_attributes());
                    }
                }
                let version = self.response_version.or(self.request_version);
                key.atoms[2] = self.route.as_ref().map_or(Atom::NONE, Atom::of_interned);
                key.atoms[3] = version.map_or(Atom::NONE, Atom::of_static);
                key.atoms[4] = verdict.error_type.map_or(Atom::NONE, Atom::of_static);
                key.numbers[0] = number(self.status);
                // Built only for a label set seen for the first time.
                let attributes = || {
                    let mut attrs = self.base_attributes();
                    if let Some(code) = self.status {
                        attrs.push(KeyValue::new(
                            semconv::HTTP_RESPONSE_STATUS_CODE,
                            i64::from(code),
                        ));
                    }
                    if let Some(route) = &self.route {
                        attrs.push(KeyValue::new(
                            semconv::HTTP_ROUTE,
                            StringValue::from(Arc::clone(route)),
                        ));
                    }
                    if let Some(version) = version {
                        attrs.push(KeyValue::new(semconv::NETWORK_PROTOCOL_VERSION, version));
                    }
                    if let Some(error_type) = verdict.error_type {
                        attrs.push(KeyValue::new(semconv::ERROR_TYPE, error_type));
                    }
                    attrs
                };
                self.instruments
                    .http_duration
                    .record(&key, elapsed.as_secs_f64(), attributes);
                if let Some(histogram) = &self.instruments.response_body_size {
                    histogram.record(&key, self.response_bytes, attributes);
                }
                if let (Some(histogram), Some(bytes)) =
                    (&self.instruments.request_body_size, self.request_bytes)
                {
                    histogram.record(&key, bytes, attributes);
                }
            }
        }
    }
}
