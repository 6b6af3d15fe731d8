//! Server spans: [`TraceLayer`] and its [`ServerObserver`].

mod layer;
mod observer;

pub use layer::TraceLayer;
pub(crate) use observer::is_noop;
pub use observer::{ServerObserver, ServerRecord};
