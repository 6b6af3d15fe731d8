//! Tower layers that give every request an OpenTelemetry span that joins the caller's trace.
//!
//! **Not yet implemented.** This crate will hold (see the project's `DESIGN.md`):
//!
//! - the request lifecycle shared by spans and metrics: layer, service, response future and
//!   response body, finishing exactly once at the true end of the response;
//! - server spans for HTTP and gRPC that extract the caller's context with
//!   [`propagation`] and follow the OpenTelemetry semantic conventions;
//! - client spans for hyper, tonic and reqwest that inject the context into outgoing requests,
//!   and propagation-only tonic interceptors.
//!
//! Until then, use [`propagation`] directly to read and write trace headers.

pub use propagation;
