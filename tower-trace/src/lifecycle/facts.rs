//! The facts about one request and its response, read at most once and shared by every
//! observer of the lifecycle.

use std::cell::OnceCell;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;

use super::{Now, Timestamp};
use crate::conventions::grpc::{self, Code};
use crate::conventions::intern::Interners;

/// The longest `User-Agent` kept for sharing (longer ones are copied per request).
pub(crate) const MAX_INTERNED_AGENT: usize = 256;
use crate::conventions::{Conventions, Protocol, Role, RpcConventions, request};
use crate::hooks::{MakeRoute, RequestInfo, RequestPredicate, ResponseInfo};

/// What is known about one request: decided when it arrives (role, protocol, method, version,
/// filtered or not), computed lazily the first time an observer asks (route, scheme, server
/// address, RPC method), and read from the response head and trailers by the lifecycle
/// (status, version, `grpc-status`).
///
/// Every observer of a lifecycle sees the same `Facts`: a route function runs at most once
/// per request, and a span and a metric can't disagree about the request. Values computed
/// while the request arrived (through [`RequestFacts`]) are kept for the rest of the request;
/// accessors on `Facts` return what was computed.
#[derive(Debug, Clone)]
pub struct Facts {
    role: Role,
    rpc: Option<RpcConventions>,
    filtered: bool,
    method: &'static str,
    known_method: bool,
    request_version: Option<&'static str>,
    start: Option<Timestamp>,
    route: Option<Arc<str>>,
    scheme: Option<&'static str>,
    server: (Option<Arc<str>>, Option<u16>),
    rpc_method: Option<Arc<str>>,
    grpc_timeout: Option<Duration>,
    status: Option<u16>,
    response_version: Option<&'static str>,
    grpc_status: Option<Code>,
}

impl Facts {
    /// The facts decided when `request` arrives.
    pub(crate) fn new<R, F: RequestPredicate>(
        conventions: &Conventions<R, F>,
        request: &RequestInfo<'_>,
    ) -> Self {
        let grpc = match conventions.protocol {
            Protocol::Http => false,
            Protocol::Grpc => true,
            _ => grpc::is_grpc(request.headers()),
        };
        let (method, known_method) = request::method(request.method());
        Facts {
            role: conventions.role,
            rpc: grpc.then_some(conventions.rpc),
            filtered: conventions.is_filtered(request),
            method,
            known_method,
            request_version: request::protocol_version(request.version()),
            start: None,
            route: None,
            scheme: None,
            server: (None, None),
            rpc_method: None,
            grpc_timeout: if grpc {
                grpc::timeout_in(request.headers())
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

    /// The clock reading taken when the request arrived, if an observer read it.
    #[inline]
    pub fn start(&self) -> Option<Timestamp> {
        self.start
    }

    /// `http.route`, if an observer asked for it while the request arrived and it is known.
    #[inline]
    pub fn route(&self) -> Option<&Arc<str>> {
        self.route.as_ref()
    }

    /// `url.scheme`, if an observer asked for it while the request arrived.
    #[inline]
    pub fn scheme(&self) -> Option<&'static str> {
        self.scheme
    }

    /// `server.address` and `server.port`, if an observer asked for them while the request
    /// arrived.
    #[inline]
    pub fn server(&self) -> (Option<&Arc<str>>, Option<u16>) {
        (self.server.0.as_ref(), self.server.1)
    }

    /// The fully qualified gRPC method (`pkg.Service/Method`), if an observer asked for it
    /// while the request arrived and the path has that shape.
    #[inline]
    pub fn rpc_method(&self) -> Option<&Arc<str>> {
        self.rpc_method.as_ref()
    }

    /// The call's deadline as its `grpc-timeout` says, from its arrival (gRPC only; `None`
    /// without a valid one). A call cancelled at or after it (less
    /// [`DEADLINE_SLACK`](crate::conventions::DEADLINE_SLACK)) is judged `DEADLINE_EXCEEDED`.
    #[inline]
    pub fn grpc_timeout(&self) -> Option<Duration> {
        self.grpc_timeout
    }

    /// Keeps what the observers computed while the request arrived.
    pub(crate) fn keep(&mut self, lazy: Lazy) {
        self.start = lazy.start.reading();
        self.route = lazy.route.into_inner().flatten();
        self.scheme = lazy.scheme.into_inner();
        self.server = lazy.server.into_inner().unwrap_or_default();
        self.rpc_method = lazy.rpc_method.into_inner().flatten();
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
        }
    }

    /// Reads the trailers, once: gRPC puts its status there.
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

/// The facts computed on demand while a request arrives (on the stack of `Service::call`),
/// then kept in [`Facts`].
#[derive(Debug, Default)]
pub(crate) struct Lazy {
    start: Now,
    route: OnceCell<Option<Arc<str>>>,
    scheme: OnceCell<&'static str>,
    server: OnceCell<(Option<Arc<str>>, Option<u16>)>,
    rpc_method: OnceCell<Option<Arc<str>>>,
}

/// The [`Facts`] of a request as it arrives, with the layer's [`Conventions`] at hand to
/// compute the lazy ones: the first observer that asks computes a fact, the others get the
/// same value. Pass the request being observed.
pub struct RequestFacts<'a> {
    facts: &'a Facts,
    lazy: &'a Lazy,
    route: &'a dyn MakeRoute,
    default_scheme: &'static str,
    server_authority: Option<&'a str>,
    interned: &'a Interners,
}

impl<'a> RequestFacts<'a> {
    pub(crate) fn new<R: MakeRoute, F>(
        facts: &'a Facts,
        lazy: &'a Lazy,
        conventions: &'a Conventions<R, F>,
    ) -> Self {
        RequestFacts {
            facts,
            lazy,
            route: &conventions.route,
            default_scheme: conventions.default_scheme,
            server_authority: conventions.server_authority.as_deref(),
            interned: &conventions.interned,
        }
    }

    /// The clock reading of the request's arrival, shared by every observer (read on the
    /// first call).
    pub fn start(&self) -> Timestamp {
        self.lazy.start.get()
    }

    /// `http.route` (HTTP only): from the layer's route source, interned (at most
    /// [`MAX_INTERNED`](crate::conventions::MAX_INTERNED) distinct routes per layer, then none).
    pub fn route(&self, request: &RequestInfo<'_>) -> Option<&'a Arc<str>> {
        self.lazy
            .route
            .get_or_init(|| {
                if self.facts.is_grpc() {
                    return None;
                }
                let route = self.route.route(request)?;
                self.interned.routes.get(&route)
            })
            .as_ref()
    }

    /// `url.scheme`: the URI's, else `Forwarded`/`X-Forwarded-Proto` (`http` or `https`
    /// only), else the layer's default.
    pub fn scheme(&self, request: &RequestInfo<'_>) -> &'static str {
        self.lazy
            .scheme
            .get_or_init(|| request::url_scheme(request, self.default_scheme))
    }

    /// `server.address` (interned) and `server.port`. A server reads `X-Forwarded-Host`, the
    /// URI's authority (`:authority`), then `Host`; a client the URI's authority, else the
    /// configured one, with the port defaulting from the scheme.
    pub fn server(&self, request: &RequestInfo<'_>) -> (Option<&'a Arc<str>>, Option<u16>) {
        let (address, port) = self.lazy.server.get_or_init(|| {
            let (authority, scheme) = match self.facts.role {
                Role::Client => (
                    request::client_authority(request, self.server_authority),
                    request.uri().scheme_str(),
                ),
                _ => (request::server_authority(request), None),
            };
            let Some(authority) = authority else {
                return (None, None);
            };
            let (host, port) = request::host_port(authority, scheme);
            (host.and_then(|h| self.interned.addresses.get(h)), port)
        });
        (address.as_ref(), *port)
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
    /// allocations. At most [`MAX_INTERNED`](crate::conventions::intern::MAX_INTERNED) agents
    /// of at most [`MAX_INTERNED_AGENT`] bytes are kept (memory stays bounded); any other is
    /// copied.
    pub(crate) fn user_agent(&self, agent: &str) -> opentelemetry::StringValue {
        if agent.len() <= MAX_INTERNED_AGENT {
            if let Some(shared) = self.interned.user_agents.get(agent) {
                return opentelemetry::StringValue::from(shared);
            }
        }
        opentelemetry::StringValue::from(agent.to_owned())
    }

    /// The fully qualified gRPC method of a gRPC request, interned (`None` when the path is
    /// not `/pkg.Service/Method` or the layer has seen too many methods).
    pub fn rpc_method(&self, request: &RequestInfo<'_>) -> Option<&'a Arc<str>> {
        self.lazy
            .rpc_method
            .get_or_init(|| {
                let (full, _, _) = grpc::split_path(request.uri().path())?;
                self.interned.methods.get(full)
            })
            .as_ref()
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
