//! The semantic conventions, as tables: attribute names, gRPC status codes
//! ([`grpc`]), the protocol and RPC generation switches, which requests are errors and their
//! `error.type` (the rules behind the lifecycle's [`Verdict`](crate::lifecycle::Verdict)), the
//! request's method, scheme and `host:port`, and query redaction.
//!
//! Pure data and rules over borrowed requests and outcomes: this module imports nothing above
//! the request and response views, so the lifecycle, the span layers and the metrics crate all
//! read the same tables.

pub(crate) mod attributes;
pub(crate) mod classify;
pub(crate) mod error_type;
pub mod grpc;
pub mod grpc_web;
pub(crate) mod intern;
pub(crate) mod redact;
pub(crate) mod request;
pub(crate) mod snapshot;

pub use classify::DEADLINE_SLACK;
pub use redact::DEFAULT_SENSITIVE_QUERY_PARAMS;

/// Which protocol's conventions a layer follows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protocol {
    /// gRPC when `content-type` is `application/grpc…` (gRPC-Web's `application/grpc-web…`
    /// included, see [`grpc_web`]), HTTP otherwise.
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
