use std::sync::Arc;

use tower_layer::Layer;

use super::{Conventions, Observe};
use crate::route::DefaultRoute;

/// Wraps a service in the lifecycle with an [`Observer`](super::Observer), under one
/// [`Conventions`].
///
/// See the [module docs](super).
pub struct ObserveLayer<O, R = DefaultRoute, F = ()> {
    conventions: Arc<Conventions<R, F>>,
    observer: O,
}

impl<O, R, F> ObserveLayer<O, R, F> {
    /// A layer that drives `observer` under `conventions`.
    pub fn new(conventions: Conventions<R, F>, observer: O) -> Self {
        ObserveLayer {
            conventions: Arc::new(conventions),
            observer,
        }
    }

    /// The observer.
    pub fn observer(&self) -> &O {
        &self.observer
    }

    /// The conventions.
    pub fn conventions(&self) -> &Conventions<R, F> {
        &self.conventions
    }

    /// Adds `other` to this lifecycle: both observers see every request, with one future, one
    /// body wrapper, one clock, one set of facts and one verdict, under these conventions.
    pub fn and<O2>(self, other: O2) -> ObserveLayer<(O, O2), R, F> {
        ObserveLayer {
            conventions: self.conventions,
            observer: (self.observer, other),
        }
    }

    /// The shared conventions.
    #[cfg_attr(not(feature = "reqwest"), allow(dead_code))]
    pub(crate) fn conventions_owned(&self) -> Arc<Conventions<R, F>> {
        Arc::clone(&self.conventions)
    }
}

impl<S, O: Clone, R, F> Layer<S> for ObserveLayer<O, R, F> {
    type Service = Observe<S, O, R, F>;

    fn layer(&self, inner: S) -> Self::Service {
        Observe::new(inner, Arc::clone(&self.conventions), self.observer.clone())
    }
}

impl<O: Clone, R, F> Clone for ObserveLayer<O, R, F> {
    fn clone(&self) -> Self {
        ObserveLayer {
            conventions: Arc::clone(&self.conventions),
            observer: self.observer.clone(),
        }
    }
}

impl<O: std::fmt::Debug, R, F> std::fmt::Debug for ObserveLayer<O, R, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObserveLayer")
            .field("conventions", &self.conventions)
            .field("observer", &self.observer)
            .finish()
    }
}

/// A layer built on the lifecycle, turned into its [`ObserveLayer`]: its conventions and its
/// observer. The reqwest middleware drives any of them (spans, metrics, or both fused).
pub trait IntoObserveLayer {
    /// The observer.
    type Observer;
    /// The route source of its conventions.
    type Route;
    /// The filter of its conventions.
    type Filter;

    /// The lifecycle layer this is.
    fn into_observe_layer(self) -> ObserveLayer<Self::Observer, Self::Route, Self::Filter>;
}

impl<O, R, F> IntoObserveLayer for ObserveLayer<O, R, F> {
    type Observer = O;
    type Route = R;
    type Filter = F;

    fn into_observe_layer(self) -> Self {
        self
    }
}
