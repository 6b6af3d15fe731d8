//! How a span ends: the per-request state server and client spans share, turned into
//! `http.response.status_code`, `rpc.*` status, `error.type` and the span status by the rules
//! in [`classify`](crate::classify).

use std::borrow::Cow;

use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};

use crate::classify;
pub(crate) use crate::classify::Role;
use crate::conventions::RpcConventions;
use crate::grpc::Code;
use crate::lifecycle::{Now, Outcome, Timestamp};
use crate::semconv;

/// What a span needs to be ended.
#[derive(Debug)]
pub(crate) struct SpanState {
    pub(crate) cx: Context,
    pub(crate) start: Timestamp,
    /// Sampled: attributes are built only then.
    pub(crate) recording: bool,
    pub(crate) grpc: Option<RpcConventions>,
    pub(crate) status: Option<u16>,
    /// `network.protocol.version` known only from the response (client spans).
    pub(crate) version: Option<&'static str>,
    pub(crate) grpc_status: Option<Code>,
}

impl SpanState {
    pub(crate) fn new(
        cx: Context,
        start: Timestamp,
        recording: bool,
        grpc: Option<RpcConventions>,
    ) -> Self {
        SpanState {
            cx,
            start,
            recording,
            grpc,
            status: None,
            version: None,
            grpc_status: None,
        }
    }

    /// Records the outcome (when sampled) and ends the span at `now`, measured from its start on
    /// the monotonic clock.
    pub(crate) fn end(self, role: Role, outcome: Outcome<'_>, now: &Now) {
        let span = self.cx.span();
        if self.recording {
            let (attrs, status) = match self.grpc {
                Some(rpc) => grpc_outcome(&self, role, rpc, outcome),
                None => http_outcome(&self, role, outcome),
            };
            span.set_attributes(attrs.into_iter().flatten());
            if let Some(status) = status {
                span.set_status(status);
            }
        }
        span.end_with_timestamp(now.get().system_since(&self.start));
    }
}

/// The span status description: the error's message for errors without a status code
/// (inferable ones get none, as the conventions ask).
fn description(outcome: &Outcome<'_>) -> Cow<'static, str> {
    match outcome {
        Outcome::ServiceError(e) | Outcome::BodyError(e) => Cow::Owned(e.to_string()),
        Outcome::Cancelled => Cow::Borrowed("the other side went away before the response ended"),
        Outcome::Panicked => Cow::Borrowed("panicked"),
        Outcome::Complete => Cow::Borrowed(""),
    }
}

/// The attributes a span gets when it ends: at most three, kept on the stack (no `Vec` per
/// request).
type EndAttributes = [Option<KeyValue>; 3];

fn http_outcome(
    state: &SpanState,
    role: Role,
    outcome: Outcome<'_>,
) -> (EndAttributes, Option<Status>) {
    let status_code = state
        .status
        .map(|code| KeyValue::new(semconv::HTTP_RESPONSE_STATUS_CODE, i64::from(code)));
    let version = state
        .version
        .map(|version| KeyValue::new(semconv::NETWORK_PROTOCOL_VERSION, version));
    let verdict = classify::http(role, state.status, &outcome);
    let (error_type, status) = error(verdict.error_type, &outcome);
    ([status_code, version, error_type], status)
}

/// `error.type` and the error status, for an outcome classified as an error.
fn error(
    error_type: Option<&'static str>,
    outcome: &Outcome<'_>,
) -> (Option<KeyValue>, Option<Status>) {
    match error_type {
        Some(error_type) => (
            Some(KeyValue::new(semconv::ERROR_TYPE, error_type)),
            Some(Status::error(description(outcome))),
        ),
        None => (None, None),
    }
}

fn grpc_outcome(
    state: &SpanState,
    role: Role,
    rpc: RpcConventions,
    outcome: Outcome<'_>,
) -> (EndAttributes, Option<Status>) {
    let verdict = classify::grpc(role, state.grpc_status, state.status, &outcome);
    let Some(code) = verdict.grpc_code else {
        return ([None, None, None], None);
    };
    let code = match rpc {
        RpcConventions::Current => KeyValue::new(semconv::RPC_RESPONSE_STATUS_CODE, code.as_str()),
        RpcConventions::Classic => {
            KeyValue::new(semconv::RPC_GRPC_STATUS_CODE, i64::from(code.as_i32()))
        }
    };
    let (error_type, status) = error(verdict.error_type, &outcome);
    ([Some(code), error_type, None], status)
}
