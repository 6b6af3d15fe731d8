//! The facts about one request and its response: computed once when it arrives (exactly
//! those the observers declared they need) or read from the response, and shared by every
//! observer.

use std::ops::Deref;
use std::time::Duration;

use http::HeaderMap;

use super::{Conventions, Timestamp};
use crate::conventions::grpc::{self, Code};
use crate::conventions::grpc_web::{self, GrpcWeb};
use crate::conventions::intern::Interners;
use crate::conventions::{Protocol, Role, RpcConventions, request};
use crate::route::{MakeRoute, RequestPredicate};
use crate::view::{RequestInfo, ResponseInfo};

/// The longest `User-Agent` kept for sharing (longer ones are copied per request).
pub(crate) const MAX_INTERNED_AGENT: usize = 256;

/// A set of the request facts that are computed when a request arrives: each costs something
/// (a clock reading, a route function, a header scan, an interner lookup), so the lifecycle
/// computes only those its observers need.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct FactSet(u8);

impl FactSet {
    /// No fact.
    pub const NONE: FactSet = FactSet(0);
    /// The clock reading of the arrival ([`Facts::start`]), which every duration is measured from.
    pub const START: FactSet = FactSet(1);
    /// `http.route` ([`Facts::route`]), HTTP only.
    pub const ROUTE: FactSet = FactSet(1 << 1);
    /// `url.scheme` ([`Facts::scheme`]).
    pub const SCHEME: FactSet = FactSet(1 << 2);
    /// `server.address` and `server.port` ([`Facts::server`]).
    pub const SERVER: FactSet = FactSet(1 << 3);
    /// The fully qualified gRPC method ([`Facts::rpc_method`]), gRPC only.
    pub const RPC_METHOD: FactSet = FactSet(1 << 4);

    /// Both sets.
    #[inline]
    #[must_use]
    pub const fn and(self, other: FactSet) -> FactSet {
        FactSet(self.0 | other.0)
    }

    /// Whether every fact of `other` is in this set.
    #[inline]
    pub const fn contains(self, other: FactSet) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::fmt::Debug for FactSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = [
            (FactSet::START, "START"),
            (FactSet::ROUTE, "ROUTE"),
            (FactSet::SCHEME, "SCHEME"),
            (FactSet::SERVER, "SERVER"),
            (FactSet::RPC_METHOD, "RPC_METHOD"),
        ];
        f.debug_set()
            .entries(
                names
                    .iter()
                    .filter(|(set, _)| self.contains(*set))
                    .map(|(_, name)| name),
            )
            .finish()
    }
}

/// What an observer needs computed when a request arrives, declared once, when the observer is
/// built ([`Observer::needs`](super::Observer::needs)): the facts of the requests it observes,
/// and those of the requests the layer's filter skips (usually none).
///
/// The lifecycle computes the union of its observers' needs, once per request, **before** any
/// observer sees the request; [`Facts`] then holds them for the rest of the request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    observed: FactSet,
    filtered: FactSet,
}

impl Needs {
    /// Nothing.
    pub const NONE: Needs = Needs {
        observed: FactSet::NONE,
        filtered: FactSet::NONE,
    };

    /// `facts` for every request that is not filtered out.
    #[inline]
    pub const fn new(facts: FactSet) -> Needs {
        Needs {
            observed: facts,
            filtered: FactSet::NONE,
        }
    }

    /// Also `facts` for the requests the layer's filter skips.
    #[inline]
    #[must_use]
    pub const fn when_filtered(self, facts: FactSet) -> Needs {
        Needs {
            observed: self.observed,
            filtered: self.filtered.and(facts),
        }
    }

    /// What both need.
    #[inline]
    #[must_use]
    pub const fn and(self, other: Needs) -> Needs {
        Needs {
            observed: self.observed.and(other.observed),
            filtered: self.filtered.and(other.filtered),
        }
    }

    /// The facts needed for a request, filtered or not.
    #[inline]
    pub const fn facts(self, filtered: bool) -> FactSet {
        if filtered {
            self.filtered
        } else {
            self.observed
        }
    }
}

/// What is known about one request: decided when it arrives (role, protocol, method, version,
/// filtered or not, and the facts its observers declared they [need](Needs): start, route,
/// scheme, server address, RPC method), and read from the response head and trailers by the
/// lifecycle (status, version, `grpc-status`).
///
/// Every observer of a lifecycle sees the same `Facts`: a route function runs at most once
/// per request, and a span and a metric can't disagree about the request. A fact nobody
/// declared is `None`.
#[derive(Debug, Clone)]
pub struct Facts {
    role: Role,
    rpc: Option<RpcConventions>,
    filtered: bool,
    method: &'static str,
    known_method: bool,
    request_version: Option<&'static str>,
    start: Option<Timestamp>,
    route: Option<&'static str>,
    scheme: Option<&'static str>,
    server: (Option<&'static str>, Option<u16>),
    rpc_method: Option<&'static str>,
    grpc_timeout: Option<Duration>,
    grpc_web: Option<GrpcWeb>,
    status: Option<u16>,
    response_version: Option<&'static str>,
    grpc_status: Option<Code>,
}

impl Facts {
    /// The facts of `request` as it arrives: those decided by the conventions, and `needs`
    /// (for a filtered request, what is needed even then).
    pub(crate) fn new<R: MakeRoute, F: RequestPredicate>(
        conventions: &Conventions<R, F>,
        request: &RequestInfo<'_>,
        needs: Needs,
    ) -> Self {
        let grpc = match conventions.protocol {
            Protocol::Http => false,
            Protocol::Grpc => true,
            _ => grpc::is_grpc(request.headers()),
        };
        let (method, known_method) = request::method(request.method());
        let filtered = conventions.is_filtered(request);
        let want = needs.facts(filtered);
        let interned = &*conventions.interned;
        let route = (want.contains(FactSet::ROUTE) && !grpc)
            .then(|| interned.routes.get(&conventions.route.route(request)?))
            .flatten();
        let rpc_method = (want.contains(FactSet::RPC_METHOD) && grpc)
            .then(|| {
                interned
                    .methods
                    .get(grpc::split_path(request.uri().path())?.0)
            })
            .flatten();
        let server = if want.contains(FactSet::SERVER) {
            server(conventions, request, interned)
        } else {
            (None, None)
        };
        Facts {
            role: conventions.role,
            rpc: grpc.then_some(conventions.rpc),
            filtered,
            method,
            known_method,
            request_version: request::protocol_version(request.version()),
            start: want.contains(FactSet::START).then(Timestamp::now),
            route,
            scheme: want
                .contains(FactSet::SCHEME)
                .then(|| request::url_scheme(request, conventions.default_scheme)),
            server,
            rpc_method,
            grpc_timeout: if grpc {
                grpc::timeout_in(request.headers())
            } else {
                None
            },
            grpc_web: if grpc {
                grpc_web::encoding_in(request.headers())
            } else {
                None
            },
            status: None,
            response_version: None,
            grpc_status: None,
        }
    }

    /// Server or client.
    #[inline]
    pub fn role(&self) -> Role {
        self.role
    }

    /// The RPC conventions when this is a gRPC request, `None` for HTTP.
    #[inline]
    pub fn rpc(&self) -> Option<RpcConventions> {
        self.rpc
    }

    /// True for a gRPC request.
    #[inline]
    pub fn is_grpc(&self) -> bool {
        self.rpc.is_some()
    }

    /// True when the layer's filter (`skip_if`) matched this request.
    #[inline]
    pub fn is_filtered(&self) -> bool {
        self.filtered
    }

    /// `http.request.method`: the method, or `_OTHER` for a method outside the known set.
    #[inline]
    pub fn method(&self) -> &'static str {
        self.method
    }

    /// Whether the method is one the conventions know (else it is recorded as `_OTHER`).
    #[inline]
    pub fn is_known_method(&self) -> bool {
        self.known_method
    }

    /// The clock reading taken when the request arrived ([`FactSet::START`]).
    #[inline]
    pub fn start(&self) -> Option<Timestamp> {
        self.start
    }

    /// `http.route` from the layer's route source, interned ([`FactSet::ROUTE`]; HTTP only;
    /// `None` when unknown, or past the 1,000 distinct routes a layer keeps). Interned values
    /// are `'static`: each distinct text is kept once per process (at most 4,000 values and
    /// 1 MiB per kind), so copying one writes no reference count shared by every core.
    #[inline]
    pub fn route(&self) -> Option<&'static str> {
        self.route
    }

    /// `url.scheme` ([`FactSet::SCHEME`]): the URI's, else `Forwarded`/`X-Forwarded-Proto`
    /// (`http` or `https` only), else the layer's default.
    #[inline]
    pub fn scheme(&self) -> Option<&'static str> {
        self.scheme
    }

    /// `server.address` (interned, `None` past the bounds [`Facts::route`] names) and `server.port`
    /// ([`FactSet::SERVER`]). A server reads
    /// `X-Forwarded-Host`, the URI's authority (`:authority`), then `Host`; a client the URI's
    /// authority, else the configured one, with the port defaulting from the scheme.
    #[inline]
    pub fn server(&self) -> (Option<&'static str>, Option<u16>) {
        self.server
    }

    /// The fully qualified gRPC method (`pkg.Service/Method`), interned ([`FactSet::RPC_METHOD`];
    /// gRPC only; `None` when the path has another shape or past the bounds [`Facts::route`] names:
    /// 1,000 per layer, 4,000 values and 1 MiB per process).
    #[inline]
    pub fn rpc_method(&self) -> Option<&'static str> {
        self.rpc_method
    }

    /// The call's deadline as its `grpc-timeout` says, from its arrival (gRPC only; `None`
    /// without a valid one). A call cancelled at or after it (less
    /// [`DEADLINE_SLACK`](crate::conventions::DEADLINE_SLACK)) is judged `DEADLINE_EXCEEDED`.
    #[inline]
    pub fn grpc_timeout(&self) -> Option<Duration> {
        self.grpc_timeout
    }

    /// Whether this gRPC call is gRPC-Web, and how its body is encoded: from the request's
    /// `content-type`, then the response's when it has one (gRPC only; `None` for native
    /// gRPC). A gRPC-Web call's status is read from the head (Trailers-Only) or from the
    /// trailer frame in its body, where the call ends ("gRPC Web",
    /// `grpc/grpc:doc/PROTOCOL-WEB.md`).
    #[inline]
    pub fn grpc_web(&self) -> Option<GrpcWeb> {
        self.grpc_web
    }

    /// `network.protocol.version`: the response's, else the request's.
    #[inline]
    pub fn protocol_version(&self) -> Option<&'static str> {
        self.response_version.or(self.request_version)
    }

    /// The response's HTTP status code, once the head arrived.
    #[inline]
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// The `grpc-status` read from a Trailers-Only head or from the trailers (gRPC only).
    #[inline]
    pub fn grpc_status(&self) -> Option<Code> {
        self.grpc_status
    }

    /// Reads the response head, once: status, version, and the `grpc-status` of a
    /// Trailers-Only response.
    pub(crate) fn on_response(&mut self, response: &ResponseInfo<'_>) {
        self.status = Some(response.status().as_u16());
        self.response_version = request::protocol_version(response.version());
        if self.is_grpc() {
            self.grpc_status = grpc::status_in(response.headers());
            // The response's framing is what the body is read by: a layer inside a
            // gRPC-Web translation sees native gRPC answers.
            if response.headers().contains_key(http::header::CONTENT_TYPE) {
                self.grpc_web = grpc_web::encoding_in(response.headers());
            }
        }
    }

    /// Reads the trailers, once: gRPC puts its status there (gRPC-Web in the body's trailer
    /// frame, which the lifecycle reads as trailers).
    pub(crate) fn on_trailers(&mut self, trailers: &HeaderMap) {
        if self.is_grpc() {
            if let Some(code) = grpc::status_in(trailers) {
                self.grpc_status = Some(code);
            }
        }
    }

    /// The one rule for where a request ends, for every signal alike: an HTTP client call at
    /// the response head (the HTTP conventions: reading the body is the caller's time), a gRPC
    /// call answered by something that is not gRPC (no `grpc-status`, HTTP status not 200) at
    /// the head too; everything else at the end of the body.
    pub(crate) fn ends_at_head(&self) -> bool {
        match (self.role, self.is_grpc()) {
            (Role::Client, false) => true,
            (Role::Client, true) => self.grpc_status.is_none() && self.status != Some(200),
            _ => false,
        }
    }
}

/// `server.address` and `server.port` of a request, per the conventions' role.
fn server<R, F>(
    conventions: &Conventions<R, F>,
    request: &RequestInfo<'_>,
    interned: &Interners,
) -> (Option<&'static str>, Option<u16>) {
    let (authority, scheme) = match conventions.role {
        Role::Client => (
            request::client_authority(request, conventions.server_authority.as_deref()),
            request.uri().scheme_str(),
        ),
        _ => (request::server_authority(request), None),
    };
    let Some(authority) = authority else {
        return (None, None);
    };
    let (host, port) = request::host_port(authority, scheme);
    (host.and_then(|h| interned.addresses.get(h)), port)
}

/// The [`Facts`] of a request as it arrives, as observers and hooks see them in
/// [`Observer::on_request`](super::Observer::on_request), with the layer's shared values at
/// hand: derefs to [`Facts`].
pub struct RequestFacts<'a> {
    facts: &'a Facts,
    server_authority: Option<&'a str>,
    interned: &'a Interners,
}

impl<'a> RequestFacts<'a> {
    pub(crate) fn new<R, F>(facts: &'a Facts, conventions: &'a Conventions<R, F>) -> Self {
        RequestFacts {
            facts,
            server_authority: conventions.server_authority.as_deref(),
            interned: &conventions.interned,
        }
    }

    /// The authority the request is addressed to, unparsed (for `url.full`): a client's URI
    /// authority or the configured one.
    pub(crate) fn authority<'r>(&self, request: &RequestInfo<'r>) -> Option<&'r str>
    where
        'a: 'r,
    {
        request::client_authority(request, self.server_authority)
    }

    /// `user_agent.original`, shared when it has been seen before: services see few distinct
    /// agents, and copying a 100-byte browser agent per request was one of a span's
    /// allocations. At most 1,000 agents per layer of at most [`MAX_INTERNED_AGENT`] bytes
    /// are kept (memory stays bounded); any other is copied.
    pub(crate) fn user_agent(&self, agent: &str) -> opentelemetry::StringValue {
        if agent.len() <= MAX_INTERNED_AGENT {
            if let Some(kept) = self.interned.user_agents.get(agent) {
                return opentelemetry::StringValue::from(kept);
            }
        }
        opentelemetry::StringValue::from(agent.to_owned())
    }
}

impl Deref for RequestFacts<'_> {
    type Target = Facts;

    fn deref(&self) -> &Facts {
        self.facts
    }
}

impl std::fmt::Debug for RequestFacts<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.facts.fmt(f)
    }
}
