//! RED metrics (rate, errors, duration) for HTTP and gRPC, servers and clients, as Tower
//! layers on the same request lifecycle as `tower-trace`.
//!
//! DOCS_PLACEHOLDER

#![cfg_attr(docsrs, feature(doc_cfg))]

mod instruments;
mod layer;
mod observer;
#[cfg(feature = "prometheus")]
#[cfg_attr(docsrs, doc(cfg(feature = "prometheus")))]
pub mod prometheus;

pub use instruments::{DURATION_BUCKETS, DURATION_BUCKETS_MS, SIZE_BUCKETS};
pub use layer::{MetricsLayer, TraceMetricsLayer, WithMetrics};
pub use observer::{MAX_INTERNED, MetricsObserver, MetricsRecord};
pub use tower_trace;
