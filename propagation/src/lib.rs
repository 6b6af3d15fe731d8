//! Strict, allocation-free codecs for trace context on the wire: W3C Trace Context
//! (`traceparent`, `tracestate`), W3C Baggage, Google Cloud Trace (`X-Cloud-Trace-Context`)
//! and OpenCensus binary (gRPC `grpc-trace-bin`), with OpenTelemetry's own types and
//! propagator trait.
//!
//! # Example
//!
//! Extract the caller's context from an incoming request and inject it into an outgoing one,
//! for both W3C and Cloud Trace:
//!
//! ```
//! use http::HeaderMap;
//! use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceState};
//! use tower_telemetry_propagation::{Propagator, Source};
//!
//! // Incoming: a Google front end sent X-Cloud-Trace-Context only.
//! let mut incoming = HeaderMap::new();
//! incoming.insert(
//!     "x-cloud-trace-context",
//!     "105445aa7843bc8bf206b12000100000/18374686479671623803;o=1".parse().unwrap(),
//! );
//!
//! // Accept W3C and Cloud Trace, send both downstream.
//! let propagator = Propagator::w3c_and_cloud_trace();
//! let (parent, source) = propagator.extract_with_source(&incoming).expect("valid context");
//! assert_eq!(source, Source::CloudTrace);
//! assert!(parent.is_remote() && parent.is_sampled());
//!
//! // Outgoing: a child span of ours (in practice, the client span's context).
//! let child = SpanContext::new(
//!     parent.trace_id(),
//!     SpanId::from_hex("00f067aa0ba902b7").unwrap(),
//!     TraceFlags::SAMPLED,
//!     false,
//!     TraceState::NONE,
//! );
//! let mut outgoing = HeaderMap::new();
//! propagator.inject(&child, &mut outgoing);
//! assert_eq!(outgoing["traceparent"], "00-105445aa7843bc8bf206b12000100000-00f067aa0ba902b7-01");
//! assert_eq!(outgoing["x-cloud-trace-context"], "105445aa7843bc8bf206b12000100000/67667974448284343;o=1");
//! ```
//!
//! Or install a propagator globally, like any OpenTelemetry propagator:
//!
//! ```
//! use opentelemetry::global;
//! use tower_telemetry_propagation::Propagator;
//!
//! global::set_text_map_propagator(Propagator::cloud_trace_one_way().with_baggage());
//! ```
//!
//! # Formats
//!
//! | header | codec module | propagator | notes |
//! |---|---|---|---|
//! | `traceparent` | [`traceparent`] | [`TraceContextPropagator`] | Level 2: exact lengths, lowercase only, the `random` flag kept, two fields invalid |
//! | `tracestate` | [`tracestate`] | [`TraceContextPropagator`] | Level 2 keys (Level 1 optional), fields combined, OWS, 32 members, whole-header discard |
//! | `baggage` | [`baggage`] | [`BaggagePropagator`] | percent-encoding, properties, 64 members / 8192 bytes |
//! | `X-Cloud-Trace-Context` | [`cloud_trace`] | [`CloudTracePropagator`] | decimal span id, `o=` bit 0, one-way mode |
//! | `grpc-trace-bin` | [`grpc_trace_bin`] | [`GrpcTraceBinPropagator`] | OpenCensus binary format, base64 padded or not, extract-only unless asked |
//! | all of the above | — | [`Propagator`] | a valid `traceparent` wins, then Cloud Trace, then `grpc-trace-bin`, whatever the order |
//!
//! Each propagator implements OpenTelemetry's
//! [`TextMapPropagator`](opentelemetry::propagation::TextMapPropagator) and this crate's
//! [`HeaderPropagator`], a fast path on [`http::HeaderMap`] that reads every field of a header
//! and builds no intermediate strings.
//!
//! # Why not the SDK's `TraceContextPropagator`
//!
//! `opentelemetry_sdk::propagation::TraceContextPropagator` (0.33) accepts versions and ids of
//! the wrong length (`0-…`, 31-digit trace ids, a leading `+`) and a trailing `-`, clears the
//! Level 2 `random` flag, reads only the first `traceparent` and `tracestate` field, accepts
//! empty and control-character `tracestate` values, and keeps 32 members of a 33-member list
//! that the W3C says to discard. `tests/sdk_divergences.rs` runs these vectors against both.
//!
//! # Errors
//!
//! The codec functions return a [`ParseError`] saying what was wrong. The propagators swallow
//! it, as the OpenTelemetry contract and the W3C processing model require: a malformed header
//! is treated as absent, so a fresh trace starts. Nothing here panics on any input (the parsers
//! are property-tested and fuzzed).
//!
//! # Cost
//!
//! Parsing and formatting `traceparent`, `X-Cloud-Trace-Context` and `grpc-trace-bin` never
//! allocate; building the outgoing `HeaderValue` is one allocation, which `http` requires.
//! `tracestate` and `baggage` allocate only for the content they carry. Figures are in the
//! crate README.

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod baggage;
mod base64;
pub mod cloud_trace;
mod composite;
mod error;
mod google;
pub mod grpc_trace_bin;
mod header;
mod hex;
mod opencensus;
mod propagator;
pub mod traceparent;
pub mod tracestate;
mod w3c;

pub use composite::{Propagator, Source};
pub use error::{Header, ParseError, ParseErrorKind};
pub use google::CloudTracePropagator;
pub use header::{BAGGAGE, GRPC_TRACE_BIN, TRACEPARENT, TRACESTATE, X_CLOUD_TRACE_CONTEXT};
pub use opencensus::GrpcTraceBinPropagator;
pub use propagator::{HeaderPropagator, TextMapAdapter};
pub use tracestate::{KeyGrammar, TraceStateList};
pub use w3c::{BaggagePropagator, TraceContextPropagator};
