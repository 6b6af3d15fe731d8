//! Server spans: [`TraceLayer`] and its [`ServerObserver`].

mod attributes;
mod config;
mod layer;
mod observer;
mod trace_response;

pub use layer::TraceLayer;
pub use observer::{ServerObserver, ServerRecord};
pub use trace_response::{TRACERESPONSE, TraceResponse};
