//! How a span ends: the per-request state server and client spans share, and the rules that
//! turn an [`Outcome`] into `http.response.status_code`, `rpc.*` status, `error.type` and the
//! span status, for each role (`spec/SPEC.md` §4.2, §4.5).

use std::borrow::Cow;

use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};

use crate::conventions::RpcConventions;
use crate::grpc::Code;
use crate::lifecycle::{Now, Outcome, Timestamp};
use crate::{error_type, semconv};

/// Which side of the call a span is on; the conventions judge errors differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Server,
    Client,
}

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
            span.set_attributes(attrs);
            if let Some(status) = status {
                span.set_status(status);
            }
        }
        span.end_with_timestamp(now.get().system_since(&self.start));
    }
}

fn http_outcome(
    state: &SpanState,
    role: Role,
    outcome: Outcome<'_>,
) -> (Vec<KeyValue>, Option<Status>) {
    let mut attrs = Vec::with_capacity(3);
    if let Some(code) = state.status {
        attrs.push(KeyValue::new(
            semconv::HTTP_RESPONSE_STATUS_CODE,
            i64::from(code),
        ));
    }
    if let Some(version) = state.version {
        attrs.push(KeyValue::new(semconv::NETWORK_PROTOCOL_VERSION, version));
    }
    // Servers fail on 5xx; clients on 4xx too.
    let first_error = match role {
        Role::Server => 500,
        Role::Client => 400,
    };
    let failure: Option<(&'static str, Cow<'static, str>)> = match (outcome, role) {
        (Outcome::Complete, _) => match state.status {
            Some(code) if code >= first_error => {
                Some((semconv::status_code_str(code), Cow::Borrowed("")))
            }
            _ => None,
        },
        (Outcome::ServiceError(e) | Outcome::BodyError(e), Role::Server) => {
            Some((error_type::of(&e), Cow::Owned(e.to_string())))
        }
        (Outcome::ServiceError(e) | Outcome::BodyError(e), Role::Client) => {
            Some((error_type::of_client(&e), Cow::Owned(e.to_string())))
        }
        // A server whose client went away did not deliver the response: a network error.
        (Outcome::Cancelled, Role::Server) => Some((
            error_type::CANCELLED,
            Cow::Borrowed("the client went away before the response ended"),
        )),
        // A client whose caller gave up: not an error (semconv 1.41).
        (Outcome::Cancelled, Role::Client) => None,
        (Outcome::Panicked, _) => Some((error_type::PANIC, Cow::Borrowed("panicked"))),
    };
    let status = failure.map(|(error_type, description)| {
        attrs.push(KeyValue::new(semconv::ERROR_TYPE, error_type));
        Status::error(description)
    });
    (attrs, status)
}

fn grpc_outcome(
    state: &SpanState,
    role: Role,
    rpc: RpcConventions,
    outcome: Outcome<'_>,
) -> (Vec<KeyValue>, Option<Status>) {
    let mut description = Cow::Borrowed("");
    let code = match (outcome, role) {
        (Outcome::Complete, Role::Server) => state.grpc_status,
        // Without `grpc-status`, a client infers the code from the HTTP status.
        (Outcome::Complete, Role::Client) => Some(
            state
                .grpc_status
                .unwrap_or_else(|| Code::from_http_status(state.status.unwrap_or(200))),
        ),
        // The client went away: the call was CANCELLED, which is not a server error.
        (Outcome::Cancelled, Role::Server) => Some(Code::Cancelled),
        // The caller gave up: no status was received, and it is not an error.
        (Outcome::Cancelled, Role::Client) => None,
        (Outcome::ServiceError(e) | Outcome::BodyError(e), Role::Server) => {
            description = Cow::Owned(e.to_string());
            state.grpc_status.or(Some(Code::Unknown))
        }
        (Outcome::ServiceError(e) | Outcome::BodyError(e), Role::Client) => {
            description = Cow::Owned(e.to_string());
            Some(match error_type::of_client(&e) {
                error_type::TIMEOUT => Code::DeadlineExceeded,
                error_type::CONNECT => Code::Unavailable,
                _ => state.grpc_status.unwrap_or(Code::Unknown),
            })
        }
        (Outcome::Panicked, _) => {
            description = Cow::Borrowed("panicked");
            state.grpc_status.or(Some(Code::Unknown))
        }
    };
    let Some(code) = code else {
        return (Vec::new(), None);
    };
    let mut attrs = Vec::with_capacity(2);
    attrs.push(match rpc {
        RpcConventions::Current => KeyValue::new(semconv::RPC_RESPONSE_STATUS_CODE, code.as_str()),
        RpcConventions::Classic => {
            KeyValue::new(semconv::RPC_GRPC_STATUS_CODE, i64::from(code.as_i32()))
        }
    });
    let is_error = match role {
        Role::Server => code.is_server_error(),
        Role::Client => code.is_client_error(),
    };
    if !is_error {
        return (attrs, None);
    }
    attrs.push(KeyValue::new(semconv::ERROR_TYPE, code.as_str()));
    (attrs, Some(Status::error(description)))
}
