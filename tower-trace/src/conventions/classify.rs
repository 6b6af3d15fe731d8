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
//! | gRPC, no `grpc-status` | — | inferred from the HTTP status (404 → `UNIMPLEMENTED`, …) |
//! | gRPC, transport error | `UNKNOWN` | `DEADLINE_EXCEEDED` for a timeout, `UNAVAILABLE` for a connection failure, else `UNKNOWN` |
//!
//! For gRPC, `error.type` is the status code's name.

use super::grpc::Code;
use super::request::status_code_str;
use super::{Role, error_type};
use crate::lifecycle::{Facts, Outcome};

/// The verdict on one request, reached once when it finishes and read by every signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verdict {
    /// `error.type`, when the request is an error.
    pub error_type: Option<&'static str>,
    /// The gRPC status code to record (gRPC only).
    pub grpc_code: Option<Code>,
}

/// Judges an HTTP request from its status code (if a response came) and its outcome.
pub(crate) fn http(role: Role, status: Option<u16>, outcome: &Outcome<'_>) -> Verdict {
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
    Verdict {
        error_type,
        grpc_code: None,
    }
}

/// Judges a gRPC call from its `grpc-status` (head or trailers), the HTTP status and the
/// outcome.
pub(crate) fn grpc(
    role: Role,
    grpc_status: Option<Code>,
    http_status: Option<u16>,
    outcome: &Outcome<'_>,
) -> Verdict {
    let code = match (outcome, role) {
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
    Verdict {
        error_type: code.filter(|c| is_error(*c)).map(Code::as_str),
        grpc_code: code,
    }
}

/// The one judgement of a request, from its facts and outcome.
pub(crate) fn judge(facts: &Facts, outcome: &Outcome<'_>) -> Verdict {
    if facts.is_grpc() {
        grpc(facts.role(), facts.grpc_status(), facts.status(), outcome)
    } else {
        http(facts.role(), facts.status(), outcome)
    }
}
