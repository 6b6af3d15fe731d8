//! The semantic conventions and the one configuration every signal of a layer reads.
//!
//! This module is the door through which other signals (the RED metrics of
//! `tower-telemetry-metrics`, or an observer of your own) reach what the span layers know:
//! attribute names ([`attributes`]), gRPC status codes ([`grpc`]), and the [`Conventions`] a
//! lifecycle follows: which side of the call it is on, HTTP or gRPC, which generation of the
//! RPC conventions, where `http.route` comes from, the default `url.scheme`, the server's
//! address for clients, and which requests are filtered out. A fused trace + metrics layer owns
//! **one** `Conventions`, so its span and its metrics cannot disagree about a request.

pub mod attributes;
pub(crate) mod classify;
pub(crate) mod error_type;
pub mod grpc;
pub(crate) mod intern;
pub(crate) mod redact;
pub(crate) mod request;

use std::sync::Arc;

use crate::hooks::{DefaultRoute, MakeRoute, RequestInfo, RequestPredicate};

pub use classify::{DEADLINE_SLACK, Verdict};
pub use intern::{Interner, MAX_INTERNED};
pub use redact::DEFAULT_SENSITIVE_QUERY_PARAMS;

/// Which protocol's conventions a layer follows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protocol {
    /// gRPC when `content-type` is `application/grpc…`, HTTP otherwise.
    #[default]
    Auto,
    /// Always HTTP.
    Http,
    /// Always gRPC.
    Grpc,
}

/// Which generation of the RPC semantic conventions gRPC spans and metrics follow.
///
/// | | spans | metrics |
/// |---|---|---|
/// | `Current` | `rpc.system.name`, `rpc.method` (`pkg.Service/Method` or `_OTHER`), `rpc.method_original` (with `_OTHER`), `rpc.status_code` (`"NOT_FOUND"`), `error.type` | `rpc.{server,client}.call.duration` (s) |
/// | `Classic` | `rpc.system`, `rpc.service`, `rpc.method` (`Method`), `rpc.grpc.status_code` (`5`), `error.type` | `rpc.{server,client}.duration` (ms) |
/// | `Both` | the union; the one key both generations use, `rpc.method`, carries the current value | both instruments, each with its own attributes |
///
/// `OTEL_SEMCONV_STABILITY_OPT_IN` selects one, as the RPC conventions' migration note says:
/// see [`from_opt_in`](Self::from_opt_in).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum RpcConventions {
    /// The RPC conventions of semconv 1.45.0 ("RPC spans", "RPC metrics" and "gRPC" pages;
    /// the names introduced from 1.39 on, with `rpc.status_code` from semantic-conventions
    /// PR #3921): `rpc.system.name`, a fully qualified `rpc.method`, the status code by
    /// name, `rpc.{server,client}.call.duration` in seconds. `rpc` in
    /// `OTEL_SEMCONV_STABILITY_OPT_IN`.
    #[default]
    Current,
    /// semconv ≤ 1.37, what most dashboards still expect: `rpc.system`, `rpc.service` +
    /// `rpc.method`, `rpc.grpc.status_code` as an integer, `rpc.{server,client}.duration` in
    /// milliseconds. `rpc/old` in `OTEL_SEMCONV_STABILITY_OPT_IN`.
    Classic,
    /// Both generations at once, for a phased migration: the attributes of both on spans
    /// (`rpc.method` holds the current, fully qualified value: one key cannot hold two) and
    /// both duration histograms. `rpc/dup` in `OTEL_SEMCONV_STABILITY_OPT_IN`.
    Both,
}

impl RpcConventions {
    /// The RPC conventions an `OTEL_SEMCONV_STABILITY_OPT_IN` value asks for, `None` when it
    /// names none (then keep the default).
    ///
    /// The value is a comma-separated list of categories (the RPC conventions' migration
    /// note, semconv 1.45.0 `docs/rpc/README.md`); entries are trimmed and compared without
    /// regard to case, and entries of other categories (`http`, `database`, …) are ignored.
    /// `rpc/dup` wins over `rpc` (the note's rule) and over `rpc/old` (nothing is lost), and
    /// `rpc` wins over `rpc/old`.
    ///
    /// ```
    /// use tower_telemetry_trace::RpcConventions;
    ///
    /// assert_eq!(RpcConventions::from_opt_in("http,rpc"), Some(RpcConventions::Current));
    /// assert_eq!(RpcConventions::from_opt_in("rpc, rpc/dup"), Some(RpcConventions::Both));
    /// assert_eq!(RpcConventions::from_opt_in(" RPC/OLD "), Some(RpcConventions::Classic));
    /// assert_eq!(RpcConventions::from_opt_in("http/dup"), None);
    /// ```
    pub fn from_opt_in(value: &str) -> Option<Self> {
        let (mut current, mut classic, mut both) = (false, false, false);
        for entry in value.split(',').map(str::trim) {
            if entry.eq_ignore_ascii_case("rpc/dup") {
                both = true;
            } else if entry.eq_ignore_ascii_case("rpc") {
                current = true;
            } else if entry.eq_ignore_ascii_case("rpc/old") {
                classic = true;
            }
        }
        match (both, current, classic) {
            (true, _, _) => Some(RpcConventions::Both),
            (false, true, _) => Some(RpcConventions::Current),
            (false, false, true) => Some(RpcConventions::Classic),
            (false, false, false) => None,
        }
    }

    /// Whether the current names are emitted (`Current` and `Both`).
    #[inline]
    pub fn emits_current(self) -> bool {
        matches!(self, RpcConventions::Current | RpcConventions::Both)
    }

    /// Whether the classic names are emitted (`Classic` and `Both`).
    #[inline]
    pub fn emits_classic(self) -> bool {
        matches!(self, RpcConventions::Classic | RpcConventions::Both)
    }
}

/// Which side of the call a lifecycle is on; the conventions judge errors differently, and
/// HTTP client calls end at the response head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Role {
    /// A server handling a request.
    Server,
    /// A client making a call.
    Client,
}

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
    pub(crate) interned: Arc<intern::Interners>,
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

#[cfg(test)]
mod tests {
    use super::RpcConventions::{self, Both, Classic, Current};

    #[rustfmt::skip]
    #[test]
    fn stability_opt_in() {
        for (value, expected, why) in [
            ("rpc",                Some(Current), "the current conventions"),
            ("rpc/dup",            Some(Both),    "both generations"),
            ("rpc/old",            Some(Classic), "the classic conventions"),
            ("",                   None,          "empty is unset"),
            ("http,database",      None,          "other categories only"),
            ("http/dup",           None,          "another category's dup"),
            ("rpc,rpc/dup",        Some(Both),    "rpc/dup wins over rpc (the migration note)"),
            ("rpc/dup,rpc",        Some(Both),    "whatever the order"),
            ("rpc/old, rpc/dup",   Some(Both),    "rpc/dup wins over rpc/old: nothing is lost"),
            ("rpc/old,rpc",        Some(Current), "rpc wins over rpc/old"),
            ("  RPC/Dup  ",        Some(Both),    "trimmed, case-insensitive"),
            ("http, rpc ,database", Some(Current), "among other categories"),
            ("rpc/", None,                        "not a value"),
            ("rpcx,rpc/dupx",      None,          "prefixes are not values"),
        ] {
            assert_eq!(RpcConventions::from_opt_in(value), expected, "{value:?}: {why}");
        }
    }

    #[test]
    fn what_each_mode_emits() {
        assert!(Current.emits_current() && !Current.emits_classic());
        assert!(!Classic.emits_current() && Classic.emits_classic());
        assert!(Both.emits_current() && Both.emits_classic());
    }
}
