//! Tower layers that give every request an OpenTelemetry span that joins the caller's trace.
//!
//! DOCS_PLACEHOLDER

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod error_type;
pub mod grpc;
pub mod lifecycle;
pub mod redact;
mod request;
pub mod semconv;
mod server;

pub use propagation;
pub use request::{DefaultRoute, MakeRoute, RequestInfo, RequestPredicate};
pub use server::{Protocol, RpcConventions, ServerObserver, ServerRecord, TraceLayer};

/// The peer's socket address, for `network.peer.*` and `client.address`.
///
/// Insert it into the request's extensions where the connection is accepted (a hyper server
/// loop) and the server layer records it; axum's `ConnectInfo<SocketAddr>` is read too with
/// the `axum` feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub std::net::SocketAddr);
