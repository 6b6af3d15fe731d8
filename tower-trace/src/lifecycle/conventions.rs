//! The lifecycle's configuration: which side of the call, which protocol's and which RPC
//! generation's conventions, where `http.route` comes from, which requests are filtered out.

use std::sync::Arc;

use crate::conventions::intern::Interners;
use crate::conventions::{Protocol, Role, RpcConventions};
use crate::route::{DefaultRoute, MakeRoute, RequestPredicate};
use crate::view::RequestInfo;

/// The configuration shared by every observer of one lifecycle: built by the layers
/// (`TraceLayer`, `ClientTraceLayer`, the metrics layer) and carried over when they are fused.
///
/// `R` is the route source and `F` the request filter; the rest is plain data. Per layer, not
/// per request: the lifecycle holds it in an `Arc`.
pub struct Conventions<R = DefaultRoute, F = ()> {
    pub(crate) role: Role,
    pub(crate) protocol: Protocol,
    pub(crate) rpc: RpcConventions,
    pub(crate) route: R,
    pub(crate) filter: F,
    pub(crate) default_scheme: &'static str,
    /// `host[:port]` of the server, for clients whose request URIs carry no authority.
    pub(crate) server_authority: Option<Arc<str>>,
    /// Routes, RPC methods and server addresses seen so far: one set per layer, shared by its
    /// signals, so each value allocates once.
    pub(crate) interned: Arc<Interners>,
}

impl Conventions {
    /// The conventions of a server: HTTP or gRPC detected per request, current RPC
    /// conventions, the route from axum's `MatchedPath` (feature `axum`), `http` as the
    /// default scheme, no filter.
    pub fn server() -> Self {
        Self::new(Role::Server)
    }

    /// The conventions of a client, with the same defaults as [`server`](Self::server).
    pub fn client() -> Self {
        Self::new(Role::Client)
    }

    fn new(role: Role) -> Self {
        Conventions {
            role,
            protocol: Protocol::Auto,
            rpc: RpcConventions::Current,
            route: DefaultRoute,
            filter: (),
            default_scheme: "http",
            server_authority: None,
            interned: Arc::default(),
        }
    }
}

impl<R, F> Conventions<R, F> {
    /// The side of the call.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The protocol setting.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The RPC conventions.
    pub fn rpc(&self) -> RpcConventions {
        self.rpc
    }

    /// Follows one protocol's conventions instead of detecting it per request.
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// Selects the RPC conventions (current by default).
    pub fn with_rpc_conventions(mut self, rpc: RpcConventions) -> Self {
        self.rpc = rpc;
        self
    }

    /// The `url.scheme` when neither the URI nor `Forwarded`/`X-Forwarded-Proto` says.
    pub fn with_default_scheme(mut self, https: bool) -> Self {
        self.default_scheme = if https { "https" } else { "http" };
        self
    }

    /// `host[:port]` of the server for requests whose URI has no authority (clients).
    pub fn with_server_address(mut self, authority: impl Into<Arc<str>>) -> Self {
        self.server_authority = Some(authority.into());
        self
    }

    /// Takes `http.route` from `route`.
    pub fn with_route<R2: MakeRoute>(self, route: R2) -> Conventions<R2, F> {
        Conventions {
            role: self.role,
            protocol: self.protocol,
            rpc: self.rpc,
            route,
            filter: self.filter,
            default_scheme: self.default_scheme,
            server_authority: self.server_authority,
            interned: self.interned,
        }
    }

    /// Marks the requests where `filter` says yes as filtered.
    pub fn with_filter<F2: RequestPredicate>(self, filter: F2) -> Conventions<R, F2> {
        Conventions {
            role: self.role,
            protocol: self.protocol,
            rpc: self.rpc,
            route: self.route,
            filter,
            default_scheme: self.default_scheme,
            server_authority: self.server_authority,
            interned: self.interned,
        }
    }

    /// Whether `request` is filtered out.
    #[inline]
    pub(crate) fn is_filtered(&self, request: &RequestInfo<'_>) -> bool
    where
        F: RequestPredicate,
    {
        self.filter.check(request)
    }
}

impl<R: Clone, F: Clone> Clone for Conventions<R, F> {
    fn clone(&self) -> Self {
        Conventions {
            role: self.role,
            protocol: self.protocol,
            rpc: self.rpc,
            route: self.route.clone(),
            filter: self.filter.clone(),
            default_scheme: self.default_scheme,
            server_authority: self.server_authority.clone(),
            interned: Arc::clone(&self.interned),
        }
    }
}

impl<R, F> std::fmt::Debug for Conventions<R, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conventions")
            .field("role", &self.role)
            .field("protocol", &self.protocol)
            .field("rpc", &self.rpc)
            .field("route", &std::any::type_name::<R>())
            .field("filter", &std::any::type_name::<F>())
            .field("default_scheme", &self.default_scheme)
            .field("server_authority", &self.server_authority)
            .finish()
    }
}
