use std::sync::Arc;
use std::time::Duration;

use http::Request;
use opentelemetry::{Key, KeyValue};
use tower_telemetry_trace::__private::attributes as attr;
use tower_telemetry_trace::__private::{Interner, Kind, SnapshotMap};
use tower_telemetry_trace::conventions::Role;
use tower_telemetry_trace::lifecycle::{
    End, FactSet, Facts, Needs, Observer, Record, RequestFacts,
};
use tower_telemetry_trace::{RequestInfo, ResponseInfo};

use crate::bound::{Atom, SeriesKey};
use crate::exemplars::{ExemplarFilter, Ids};
use crate::instruments::{Duration as Measured, Instruments};

/// Distinct values an extra label keeps per layer; later values are recorded as `_OTHER`.
pub const MAX_LABEL_VALUES: usize = 100;

/// Distinct `server.address`/`server.port` pairs a client metrics layer labels by default;
/// calls to later targets are recorded with `server.address="_OTHER"` and no port, so a
/// caller-chosen target can't grow `/metrics` without bound.
pub const MAX_SERVER_TARGETS: usize = 100;

/// The client targets seen so far, bounded.
pub(crate) struct Targets {
    /// Read without a lock (see `SnapshotMap`): every call looks its target up.
    seen: SnapshotMap<(usize, u16), (), rustc_hash::FxBuildHasher>,
}

impl Targets {
    pub(crate) fn new(cap: usize) -> Self {
        Targets {
            seen: SnapshotMap::with_capacity(cap),
        }
    }

    /// Whether `(address, port)` gets its own labels (seen before, or room for it).
    fn admit(&self, address: Option<&'static str>, port: Option<u16>) -> bool {
        // Interned addresses live as long as the process: the pointer names the text.
        let key = (
            address.map_or(0, |a| a.as_ptr() as usize),
            port.unwrap_or(0),
        );
        self.seen.read(&key, |_| ()).is_some()
            || self.seen.insert_with(&key, || (key, ()), |_| ()).is_some()
    }
}

/// An extra metric label computed from the request: **bounded** by construction, because each
/// distinct value is a new time series. The value is interned (`'static`, kept once per
/// process), at most [`MAX_LABEL_VALUES`] distinct values per layer, then `_OTHER`; a request
/// without a value gets no label.
///
/// Implemented for `()` (no label) and [`Label`]. Set it with
/// [`MetricsLayer::with_label`](crate::MetricsLayer::with_label).
pub trait MetricLabel {
    /// The label's key and interned value for `request`, if it has one: a value of a bounded
    /// set, `'static` (intern it, e.g. with a `match` to constants).
    fn label(&self, request: &RequestInfo<'_>) -> Option<(&Key, &'static str)>;
}

impl MetricLabel for () {
    #[inline]
    fn label(&self, _: &RequestInfo<'_>) -> Option<(&Key, &'static str)> {
        None
    }
}

/// A label `key` whose value a function reads from the request; see [`MetricLabel`].
pub struct Label<V> {
    key: Key,
    value: V,
    /// Shared by the clones of a layer (axum clones layers): one bound per layer.
    values: Arc<Interner>,
}

impl<V: Clone> Clone for Label<V> {
    fn clone(&self) -> Self {
        Label {
            key: self.key.clone(),
            value: self.value.clone(),
            values: Arc::clone(&self.values),
        }
    }
}

impl<V> Label<V> {
    pub(crate) fn new(key: Key, value: V) -> Self {
        Label {
            key,
            value,
            values: Arc::new(Interner::with_capacity(Kind::Labels, MAX_LABEL_VALUES)),
        }
    }
}

impl<V> MetricLabel for Label<V>
where
    V: for<'a> Fn(&RequestInfo<'a>) -> Option<&'a str>,
{
    fn label(&self, request: &RequestInfo<'_>) -> Option<(&Key, &'static str)> {
        let value = (self.value)(request)?;
        let value = self.values.get(value).unwrap_or(attr::OTHER);
        Some((&self.key, value))
    }
}

impl<V> std::fmt::Debug for Label<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Label")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner<L> {
    pub(crate) instruments: Arc<Instruments>,
    pub(crate) count_filtered: bool,
    pub(crate) label: L,
    pub(crate) targets: Targets,
    /// A layer of its own (not the second of a fused pair): the span a measurement belongs to
    /// is the one current when the request reaches it (an outer trace layer's), read in
    /// `on_request`. In a pair, it is the pair's span ([`End::context`]).
    pub(crate) capture_current: bool,
}

/// The [`Observer`] behind [`MetricsLayer`](crate::MetricsLayer): records RED metrics on the
/// shared request lifecycle, from the lifecycle's facts and verdict. One `Arc`, cloned once per
/// wrapped service; per request, one `Arc` clone of the instruments (the record outlives the
/// service: it ends with the response body) and no allocation or reference count for label
/// values.
pub struct MetricsObserver<L = ()> {
    inner: Arc<Inner<L>>,
    needs: Needs,
}

impl<L> MetricsObserver<L> {
    pub(crate) fn new(inner: Inner<L>) -> Self {
        // The attributes of the role's instruments (the "HTTP metrics" and "RPC metrics"
        // pages): a server labels by route and scheme, a client by server address and port;
        // both by the RPC method for gRPC.
        let facts = FactSet::START
            .and(FactSet::RPC_METHOD)
            .and(match inner.instruments.role {
                Role::Client => FactSet::SERVER,
                _ => FactSet::ROUTE.and(FactSet::SCHEME),
            });
        let needs = Needs::new(facts);
        MetricsObserver {
            needs: if inner.count_filtered {
                needs.when_filtered(facts)
            } else {
                needs
            },
            inner: Arc::new(inner),
        }
    }
}

impl<L> Clone for MetricsObserver<L> {
    fn clone(&self) -> Self {
        MetricsObserver {
            inner: Arc::clone(&self.inner),
            needs: self.needs,
        }
    }
}

impl<L> std::fmt::Debug for MetricsObserver<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsObserver")
            .field("count_filtered", &self.inner.count_filtered)
            .finish_non_exhaustive()
    }
}

/// The per-request state of [`MetricsObserver`]: what the facts don't hold.
#[derive(Debug)]
pub struct MetricsRecord {
    instruments: Arc<Instruments>,
    label: Option<(Key, &'static str)>,
    request_bytes: Option<u64>,
    response_bytes: u64,
    active: bool,
    /// A client target past the cap: `server.address="_OTHER"`, no port.
    overflow: bool,
    /// The ids of the span current at `on_request`, when this layer stands alone and the
    /// exemplar filter admits it.
    ids: Option<Ids>,
}

impl<B, L: MetricLabel> Observer<B> for MetricsObserver<L> {
    type Record = MetricsRecord;

    #[inline]
    fn needs(&self) -> Needs {
        self.needs
    }

    fn on_request(
        &self,
        request: &mut Request<B>,
        facts: &RequestFacts<'_>,
    ) -> Option<MetricsRecord> {
        let inner = &*self.inner;
        if facts.is_filtered() && !inner.count_filtered {
            return None;
        }
        let info = RequestInfo::new(request);
        let overflow = facts.role() == Role::Client && {
            let (address, port) = facts.server();
            !inner.targets.admit(address, port)
        };
        let base = (!facts.is_grpc()).then(|| Base::of(facts, overflow));
        let mut record = MetricsRecord {
            instruments: Arc::clone(&inner.instruments),
            label: inner.label.label(&info).map(|(k, v)| (k.clone(), v)),
            request_bytes: None,
            response_bytes: 0,
            active: false,
            overflow,
            ids: None,
        };
        let filter = inner.instruments.exemplar_filter;
        if inner.capture_current && filter != ExemplarFilter::AlwaysOff {
            record.ids = opentelemetry::Context::map_current(|cx| filter.admit_context(cx));
        }
        if inner.instruments.request_body_size.is_some() {
            record.request_bytes = content_length(info.headers());
        }
        if let (Some(active), Some(base)) = (&inner.instruments.http_active, &base) {
            active.record(&base.key(), 1, || base.attributes());
            record.active = true;
        }
        Some(record)
    }
}

fn content_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// `Some(n)` as `n + 1`, `None` as 0.
fn number(n: Option<u16>) -> u32 {
    n.map_or(0, |n| u32::from(n) + 1)
}

/// The base label set of HTTP metrics: `http.request.method`, then `url.scheme` (server) or
/// `server.address`/`server.port` (client). The active-requests attributes, and the start of
/// the duration's.
struct Base {
    method: &'static str,
    scheme: Option<&'static str>,
    address: Option<&'static str>,
    port: Option<u16>,
}

impl Base {
    fn server(method: &'static str, scheme: &'static str) -> Self {
        Base {
            method,
            scheme: Some(scheme),
            address: None,
            port: None,
        }
    }

    fn client(method: &'static str, address: Option<&'static str>, port: Option<u16>) -> Self {
        Base {
            method,
            scheme: None,
            address,
            port,
        }
    }

    /// `overflow`: a client target past the cap, labelled `server.address="_OTHER"`, no port.
    fn of(facts: &Facts, overflow: bool) -> Self {
        match facts.role() {
            Role::Client if overflow => Base::client(facts.method(), Some(attr::OTHER), None),
            Role::Client => {
                let (address, port) = facts.server();
                Base::client(facts.method(), address, port)
            }
            _ => Base::server(facts.method(), facts.scheme().unwrap_or("http")),
        }
    }

    /// The label set as atoms (see `crate::bound`).
    fn key(&self) -> SeriesKey {
        let mut key = SeriesKey::default();
        key.atoms[0] = Atom::of_static(self.method);
        match self.scheme {
            Some(scheme) => key.atoms[1] = Atom::of_static(scheme),
            None => {
                key.atoms[1] = self.address.map_or(Atom::NONE, Atom::of_static);
                key.numbers[1] = number(self.port);
            }
        }
        key
    }

    fn attributes(&self) -> Attrs {
        let mut attrs = Attrs::new();
        attrs.push(KeyValue::new(attr::HTTP_REQUEST_METHOD, self.method));
        match self.scheme {
            Some(scheme) => attrs.push(KeyValue::new(attr::URL_SCHEME, scheme)),
            None => {
                if let Some(address) = self.address {
                    attrs.push(KeyValue::new(attr::SERVER_ADDRESS, address));
                }
                if let Some(port) = self.port {
                    attrs.push(KeyValue::new(attr::SERVER_PORT, i64::from(port)));
                }
            }
        }
        attrs
    }
}

/// An attribute list on the stack (at most 8 here, so never spilled): recording allocates no
/// `Vec`, and only the attributes pushed are built and dropped.
type Attrs = smallvec::SmallVec<[KeyValue; 8]>;

impl MetricsRecord {
    fn push_label(&self, attrs: &mut Attrs) {
        if let Some((key, value)) = &self.label {
            attrs.push(KeyValue::new(key.clone(), *value));
        }
    }

    fn label_atom(&self) -> Atom {
        self.label
            .as_ref()
            .map_or(Atom::NONE, |(_, v)| Atom::of_static(v))
    }

    /// The gRPC duration: `rpc.*.call.duration` in seconds with the current attributes,
    /// and/or the classic `rpc.*.duration` in milliseconds ("RPC metrics" page, semconv
    /// 1.45.0 and 1.37.0).
    fn finish_rpc(&self, end: &End<'_>, elapsed: Duration) {
        let facts = end.facts();
        let verdict = end.verdict();
        // `_OTHER` when not recognised (a server's `UNIMPLEMENTED`): bounded cardinality, and
        // never the method as called.
        let method = end.rpc_method();
        let with_end = |mut attrs: Attrs| {
            if let Some(error_type) = verdict.error_type {
                attrs.push(KeyValue::new(attr::ERROR_TYPE, error_type));
            }
            self.push_label(&mut attrs);
            attrs
        };
        let ids = self.exemplar_ids(end);
        // `server.address` and `server.port` are conditionally required on the client's
        // duration and opt-in on the server's, in both generations ("RPC metrics" page,
        // semconv 1.45.0 and 1.37.0).
        let (address, port) = match facts.role() {
            Role::Client => facts.server(),
            _ => (None, None),
        };
        let push_server = |attrs: &mut Attrs| {
            if let Some(address) = address {
                attrs.push(KeyValue::new(attr::SERVER_ADDRESS, address));
                if let Some(port) = port {
                    attrs.push(KeyValue::new(attr::SERVER_PORT, i64::from(port)));
                }
            }
        };
        let mut key = SeriesKey::default();
        key.atoms[0] = method.map_or(Atom::of_static(attr::OTHER), Atom::of_static);
        key.atoms[1] = verdict
            .grpc_code
            .map_or(Atom::NONE, |c| Atom::of_static(c.as_str()));
        key.atoms[2] = verdict.error_type.map_or(Atom::NONE, Atom::of_static);
        key.atoms[3] = address.map_or(Atom::NONE, Atom::of_static);
        key.atoms[5] = self.label_atom();
        key.numbers[1] = number(port);
        if let Some(histogram) = &self.instruments.rpc_classic_duration {
            // Service and method are split per call (owned): recorded unbound.
            let mut attrs = Attrs::new();
            attrs.push(KeyValue::new(attr::RPC_SYSTEM, "grpc"));
            if let Some((service, name)) = method.and_then(|m| m.split_once('/')) {
                attrs.push(KeyValue::new(attr::RPC_SERVICE, service.to_owned()));
                attrs.push(KeyValue::new(attr::RPC_METHOD, name.to_owned()));
            }
            if let Some(code) = verdict.grpc_code {
                attrs.push(KeyValue::new(
                    attr::RPC_GRPC_STATUS_CODE,
                    i64::from(code.as_i32()),
                ));
            }
            push_server(&mut attrs);
            let ms = elapsed.as_secs_f64() * 1000.0;
            let attrs = with_end(attrs);
            histogram.record_unbound(ms, attrs.as_slice());
            // The classic series are told apart by the same atoms (the method's text holds
            // service and method): a key of its own store.
            self.offer(Measured::RpcClassic, &key, ms, ids, end, || {
                attrs.as_slice()
            });
        }
        let Some(histogram) = &self.instruments.rpc_call_duration else {
            return;
        };
        let attributes = || {
            let mut attrs = Attrs::new();
            attrs.push(KeyValue::new(attr::RPC_SYSTEM_NAME, "grpc"));
            attrs.push(KeyValue::new(
                attr::RPC_METHOD,
                method.unwrap_or(attr::OTHER),
            ));
            if let Some(code) = verdict.grpc_code {
                attrs.push(KeyValue::new(attr::RPC_STATUS_CODE, code.as_str()));
            }
            push_server(&mut attrs);
            with_end(attrs)
        };
        let seconds = elapsed.as_secs_f64();
        histogram.record(&key, seconds, attributes);
        self.offer(Measured::RpcCall, &key, seconds, ids, end, attributes);
    }

    /// The ids of the span this request's measurements belong to, if the exemplar filter
    /// admits it: the pair's span ([`End::context`]), else the one current at `on_request`.
    #[inline]
    fn exemplar_ids(&self, end: &End<'_>) -> Option<Ids> {
        match end.context() {
            Some(cx) => self.instruments.exemplar_filter.admit_context(cx),
            None => self.ids,
        }
    }

    /// Offers an exemplar of `value` to the series `key` of `duration`, when there are ids.
    #[inline]
    fn offer<A: AsRef<[KeyValue]>>(
        &self,
        duration: Measured,
        key: &SeriesKey,
        value: f64,
        ids: Option<Ids>,
        end: &End<'_>,
        attributes: impl FnOnce() -> A,
    ) {
        if let (Some(ids), Some(exemplars)) = (ids, &self.instruments.exemplars[duration as usize])
        {
            exemplars.offer(key, value, ids, end.now().system, attributes);
        }
    }

    fn finish_http(&self, end: &End<'_>, seconds: f64) {
        let facts = end.facts();
        let verdict = end.verdict();
        let base = Base::of(facts, self.overflow);
        let mut key = base.key();
        // The in-flight count's attributes are the base ones.
        if self.active {
            if let Some(active) = &self.instruments.http_active {
                active.record(&key, -1, || base.attributes());
            }
        }
        let version = facts.protocol_version();
        let status = facts.status();
        key.atoms[2] = facts.route().map_or(Atom::NONE, Atom::of_static);
        key.atoms[3] = version.map_or(Atom::NONE, Atom::of_static);
        key.atoms[4] = verdict.error_type.map_or(Atom::NONE, Atom::of_static);
        key.atoms[5] = self.label_atom();
        key.numbers[0] = number(status);
        // Built only for a label set seen for the first time.
        let attributes = || {
            let mut attrs = base.attributes();
            if let Some(code) = status {
                attrs.push(KeyValue::new(
                    attr::HTTP_RESPONSE_STATUS_CODE,
                    i64::from(code),
                ));
            }
            if let Some(route) = facts.route() {
                attrs.push(KeyValue::new(attr::HTTP_ROUTE, route));
            }
            if let Some(version) = version {
                attrs.push(KeyValue::new(attr::NETWORK_PROTOCOL_VERSION, version));
            }
            if let Some(error_type) = verdict.error_type {
                attrs.push(KeyValue::new(attr::ERROR_TYPE, error_type));
            }
            self.push_label(&mut attrs);
            attrs
        };
        self.instruments
            .http_duration
            .record(&key, seconds, attributes);
        let ids = self.exemplar_ids(end);
        self.offer(Measured::Http, &key, seconds, ids, end, attributes);
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

impl Record for MetricsRecord {
    fn on_response(&mut self, response: &ResponseInfo<'_>, facts: &Facts) {
        // An HTTP client call ends at the head (as its span): the response size then comes
        // from `Content-Length`.
        if facts.role() == Role::Client
            && !facts.is_grpc()
            && self.instruments.response_body_size.is_some()
        {
            self.response_bytes = content_length(response.headers()).unwrap_or(0);
        }
    }

    #[inline]
    fn on_body_chunk(&mut self, len: usize) {
        self.response_bytes += len as u64;
    }

    fn finish(self, end: &End<'_>) {
        let elapsed = end.elapsed();
        if end.facts().is_grpc() {
            self.finish_rpc(end, elapsed);
        } else {
            self.finish_http(end, elapsed.as_secs_f64());
        }
    }
}
