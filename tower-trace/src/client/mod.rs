//! Client spans: [`ClientTraceLayer`] and its [`ClientObserver`].

mod layer;
mod observer;
#[cfg(feature = "reqwest")]
pub(crate) mod reqwest;

#[cfg(feature = "reqwest")]
pub use self::reqwest::TraceMiddleware;
pub use layer::ClientTraceLayer;
pub use observer::{ClientObserver, ClientRecord};
