use tower_layer::Layer;

use super::Observe;

/// Wraps a service in the lifecycle with an [`Observer`](super::Observer).
///
/// See the [module docs](super).
#[derive(Debug, Clone, Copy, Default)]
pub struct ObserveLayer<O> {
    observer: O,
}

impl<O> ObserveLayer<O> {
    /// A layer that drives `observer`.
    pub const fn new(observer: O) -> Self {
        ObserveLayer { observer }
    }

    /// The observer.
    pub fn observer(&self) -> &O {
        &self.observer
    }
}

impl<S, O: Clone> Layer<S> for ObserveLayer<O> {
    type Service = Observe<S, O>;

    fn layer(&self, inner: S) -> Self::Service {
        Observe::new(inner, self.observer.clone())
    }
}
