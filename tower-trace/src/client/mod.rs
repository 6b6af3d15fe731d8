//! Client spans: [`ClientTraceLayer`] and its [`ClientObserver`].

mod layer;
mod observer;

pub use layer::ClientTraceLayer;
pub use observer::{ClientObserver, ClientRecord};
