//! How a request's [`Outcome`] is judged, once per request, for spans and metrics alike: which
//! requests are errors, their `error.type`, and the gRPC status code. The rules are those of
//! the semantic conventions' HTTP spans page ("Status": server 5xx, client 4xx and 5xx) and
//! gRPC page ("gRPC Status": the server error codes), with gRPC's HTTP-to-gRPC status mapping
//! (`grpc/doc/http-grpc-status-mapping.md`) for answers without `grpc-status`.
//!
//! | | server | client |
//! |---|---|---|
//! | HTTP status | 5xx is an error, `error.type` = the code | 4xx and 5xx |
//! | transport error | `error.type` = the error's type | `connect`, `timeout`, or the error's type |
//! | cancelled (future or body dropped) | the client went away: `error.type` = `cancelled` | the caller gave up: **not** an error |
//! | panic below the layer | `error.type` = `panic` | `panic` |
//! | gRPC status | `UNKNOWN`, `DEADLINE_EXCEEDED`, `UNIMPLEMENTED`, `INTERNAL`, `UNAVAILABLE`, `DATA_LOSS` are errors | every code but `OK` |
//! | gRPC, cancelled | `CANCELLED`, not an error | no status, not an error |
//! | gRPC, cancelled or failed without a status at or after the `grpc-timeout` deadline | `DEADLINE_EXCEEDED`, an error | `DEADLINE_EXCEEDED`, an error |
//! | gRPC, no `grpc-status` | — | inferred from the HTTP status (404 → `UNIMPLEMENTED`, …) |
//! | gRPC, transport error | `UNKNOWN` | `DEADLINE_EXCEEDED` for a timeout, `UNAVAILABLE` for a connection failure, else `UNKNOWN` |
//!
//! For gRPC, `error.type` is the status code's name.
//!
//! **A server's client that goes away** (a closed event stream, a reset connection) ends the
//! request then, with `error.type=cancelled`: the HTTP spans page (semconv 1.45.0, "Status")
//! says a request that fails because "it was cancelled or an error occurred preventing the
//! client or server from sending/receiving the request/response fully" SHOULD be an error with
//! `error.type`, and gives the server example "connection dropped before response body was
//! sent". Leaving a cancelled request unset (semconv 1.41.0) is the rule for a *client* whose
//! caller cancelled on purpose, which the client column follows.
//!
//! **Deadlines.** A gRPC call carries its deadline as `grpc-timeout` ("gRPC over HTTP2",
//! `grpc/grpc:doc/PROTOCOL-HTTP2.md`). When it passes, a server is not told with a status it
//! could read: tonic's server drops the service's future (its timer sits outside the layers
//! added with `Server::builder().layer`) and answers `CANCELLED` itself; hyper drops the
//! response body when the client resets a stream it gave up on; a client's transport (tonic's
//! `Channel`) fails the call with an error of its own. So a call that ends **without a
//! `grpc-status`, cancelled or failed, at or after its deadline** is judged
//! `DEADLINE_EXCEEDED` (what gRPC reports for it, and a server error in the gRPC table), on
//! both sides; one cancelled earlier is `CANCELLED` on a server (not an error) and has no
//! status on a client (the caller gave up). The deadline is measured from the request's
//! arrival at the layer, less [`DEADLINE_SLACK`] for a client's reset that travels ahead of
//! the server's clock.

use std::time::Duration;

use super::grpc::Code;
use super::request::status_code_str;
use super::{Role, error_type};
use crate::outcome::Outcome;

/// What the rules say of one request: `error.type` when it is an error, and the gRPC status
/// code (gRPC only). The lifecycle turns it into its [`Verdict`](crate::lifecycle::Verdict).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Judgement {
    pub(crate) error_type: Option<&'static str>,
    pub(crate) grpc_code: Option<Code>,
}

/// How long before its `grpc-timeout` deadline a cancelled gRPC call still counts as having
/// hit it.
///
/// A gRPC call carries its deadline as `grpc-timeout` ("gRPC over HTTP2",
/// `grpc/grpc:doc/PROTOCOL-HTTP2.md`). When it passes, the server's service is not told with
/// a status: tonic's server drops the service's future (its timer sits outside the layers
/// added with `Server::builder().layer`) and answers `CANCELLED` itself, hyper drops the
/// response body of a stream the client resets, and tonic's `Channel` fails the client's call
/// with a transport error. So the lifecycle judges a call that ends without a `grpc-status`,
/// cancelled or failed, at or after its deadline (measured from its arrival at the layer) as
/// `DEADLINE_EXCEEDED` (an error, for servers and clients alike), and one cancelled earlier as
/// `CANCELLED` on a server (not an error) and without a status on a client (its caller gave
/// up).
///
/// Measured from the arrival, a server's own timer (tonic's starts just after the layer
/// sees the request) fires at or after the deadline. A client that enforces the deadline
/// itself resets the stream when *its* clock says so, which the server sees earlier by the
/// request's transit time: this slack absorbs that on a fast path; a reset that comes
/// earlier still is judged `CANCELLED`, as gRPC servers that race their own timer against
/// the reset do.
pub const DEADLINE_SLACK: Duration = Duration::from_millis(5);

/// Judges an HTTP request from its status code (if a response came) and its outcome.
pub(crate) fn http(role: Role, status: Option<u16>, outcome: &Outcome<'_>) -> Judgement {
    let first_error = match role {
        Role::Server => 500,
        Role::Client => 400,
    };
    let error_type = match (outcome, role) {
        (Outcome::Complete, _) => match status {
            Some(code) if code >= first_error => Some(status_code_str(code)),
            _ => None,
        },
        (Outcome::ServiceError(e) | Outcome::BodyError(e), Role::Server) => Some(error_type::of(e)),
        (Outcome::ServiceError(e) | Outcome::BodyError(e), Role::Client) => {
            Some(error_type::of_client(e))
        }
        (Outcome::Cancelled, Role::Server) => Some(error_type::CANCELLED),
        (Outcome::Cancelled, Role::Client) => None,
        (Outcome::Panicked, _) => Some(error_type::PANIC),
    };
    Judgement {
        error_type,
        grpc_code: None,
    }
}

/// Judges a gRPC call from its `grpc-status` (head or trailers), the HTTP status, the
/// outcome, and whether its deadline had passed when it ended.
pub(crate) fn grpc(
    role: Role,
    grpc_status: Option<Code>,
    http_status: Option<u16>,
    outcome: &Outcome<'_>,
    deadline_passed: bool,
) -> Judgement {
    let code = match (outcome, role) {
        (Outcome::Cancelled | Outcome::ServiceError(_) | Outcome::BodyError(_), _)
            if deadline_passed && grpc_status.is_none() =>
        {
            Some(Code::DeadlineExceeded)
        }
        (Outcome::Complete, Role::Server) => grpc_status,
        (Outcome::Complete, Role::Client) => {
            Some(grpc_status.unwrap_or_else(|| Code::from_http_status(http_status.unwrap_or(200))))
        }
        (Outcome::Cancelled, Role::Server) => Some(Code::Cancelled),
        (Outcome::Cancelled, Role::Client) => None,
        (Outcome::ServiceError(e) | Outcome::BodyError(e), Role::Client) => {
            Some(match error_type::of_client(e) {
                error_type::TIMEOUT => Code::DeadlineExceeded,
                error_type::CONNECT => Code::Unavailable,
                _ => grpc_status.unwrap_or(Code::Unknown),
            })
        }
        (Outcome::ServiceError(_) | Outcome::BodyError(_) | Outcome::Panicked, _) => {
            grpc_status.or(Some(Code::Unknown))
        }
    };
    let is_error = |code: Code| match role {
        Role::Server => code.is_server_error(),
        Role::Client => code.is_client_error(),
    };
    Judgement {
        error_type: code.filter(|c| is_error(*c)).map(Code::as_str),
        grpc_code: code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::ErrorRef;

    #[rustfmt::skip]
    #[test]
    fn grpc_table() {
        let io = std::io::Error::other("transport error");
        let failed = Outcome::ServiceError(ErrorRef::new(&io));
        let (server, client) = (Role::Server, Role::Client);
        let (ok, not_found, internal) = (Some(Code::Ok), Some(Code::NotFound), Some(Code::Internal));
        for (role, status, outcome, past, code, error, why) in [
            (server, ok,        Outcome::Complete,  false, ok, None, "OK"),
            (server, not_found, Outcome::Complete,  false, not_found, None, "the caller's mistake"),
            (client, not_found, Outcome::Complete,  false, not_found, Some("NOT_FOUND"), "any code but OK, for a client"),
            (server, internal,  Outcome::Complete,  false, internal, Some("INTERNAL"), "a server error"),
            (server, internal,  Outcome::Complete,  true,  internal, Some("INTERNAL"), "a status of its own wins over the deadline"),
            (server, None,      Outcome::Cancelled, false, Some(Code::Cancelled), None, "the client went away"),
            (server, None,      Outcome::Cancelled, true,  Some(Code::DeadlineExceeded), Some("DEADLINE_EXCEEDED"), "dropped at its deadline"),
            (client, None,      Outcome::Cancelled, false, None, None, "the caller gave up"),
            (client, None,      Outcome::Cancelled, true,  Some(Code::DeadlineExceeded), Some("DEADLINE_EXCEEDED"), "the caller's deadline"),
            (client, None,      failed,             false, Some(Code::Unknown), Some("UNKNOWN"), "a transport error"),
            (client, None,      failed,             true,  Some(Code::DeadlineExceeded), Some("DEADLINE_EXCEEDED"), "a transport error at the deadline"),
            (server, None,      failed,             true,  Some(Code::DeadlineExceeded), Some("DEADLINE_EXCEEDED"), "a timeout below the layer"),
            (server, None,      Outcome::Panicked,  true,  Some(Code::Unknown), Some("UNKNOWN"), "a panic is a panic"),
        ] {
            let verdict = grpc(role, status, Some(200), &outcome, past);
            assert_eq!((verdict.grpc_code, verdict.error_type), (code, error), "{role:?}: {why}");
        }
    }
}
