//! The one verdict on a request, reached when it ends from its facts and outcome by the
//! conventions' rules (see [`classify`](crate::conventions)), and read by every observer.

use std::time::Duration;

use super::Facts;
use crate::conventions::Role;
use crate::conventions::classify::{self, DEADLINE_SLACK};
use crate::conventions::grpc::Code;
use crate::outcome::Outcome;

/// The verdict on one request, reached once when it finishes and read by every signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verdict {
    /// `error.type`, when the request is an error.
    pub error_type: Option<&'static str>,
    /// The gRPC status code to record (gRPC only).
    pub grpc_code: Option<Code>,
    /// gRPC: whether the method is one the other side recognises, so `rpc.method` names it;
    /// otherwise it is `_OTHER` (with `rpc.method_original` on spans). Not recognised: a
    /// path that is not `/pkg.Service/Method`, a layer that has seen too many distinct
    /// methods (see `MAX_INTERNED`), or, on a server, a call answered
    /// `UNIMPLEMENTED` (the server does not implement it; a handler that answers
    /// `UNIMPLEMENTED` itself looks the same from outside, and is recorded the same way). A
    /// client's method comes from its stub, so its status does not change it.
    pub rpc_method_recognized: bool,
}

/// The one judgement of a request, from its facts, its outcome and, for a gRPC call with a
/// deadline that was cancelled, the time it took (`elapsed`, read only then).
pub(super) fn judge(
    facts: &Facts,
    outcome: &Outcome<'_>,
    elapsed: impl FnOnce() -> Duration,
) -> Verdict {
    if !facts.is_grpc() {
        let judgement = classify::http(facts.role(), facts.status(), outcome);
        return Verdict {
            error_type: judgement.error_type,
            grpc_code: None,
            rpc_method_recognized: false,
        };
    }
    let deadline_passed = matches!(
        outcome,
        Outcome::Cancelled | Outcome::ServiceError(_) | Outcome::BodyError(_)
    ) && facts
        .grpc_timeout()
        .is_some_and(|timeout| elapsed() + DEADLINE_SLACK >= timeout);
    let judgement = classify::grpc(
        facts.role(),
        facts.grpc_status(),
        facts.status(),
        outcome,
        deadline_passed,
    );
    let unimplemented =
        facts.role() == Role::Server && judgement.grpc_code == Some(Code::Unimplemented);
    Verdict {
        error_type: judgement.error_type,
        grpc_code: judgement.grpc_code,
        rpc_method_recognized: facts.rpc_method().is_some() && !unimplemented,
    }
}
