//! Server spans: [`TraceLayer`] and its [`ServerObserver`].

mod layer;
mod observer;

pub use layer::{Protocol, RpcConventions, TraceLayer};
pub use observer::{ServerObserver, ServerRecord};
