use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use http::{Request, Response};
use tower_service::Service;

use super::guard::Guard;
use super::scope::Scope;
use super::{
    Conventions, Facts, ObservedError, Observer, RequestFacts, ResponseBody, ResponseFuture,
};
use crate::route::{DefaultRoute, MakeRoute, RequestPredicate};
use crate::view::RequestInfo;

/// The lifecycle middleware: reads the request's [`Facts`] under the layer's
/// [`Conventions`], calls the [`Observer`], and returns a [`ResponseFuture`] that drives its
/// record to the end of the response.
///
/// See the [module docs](super).
///
/// Cloning it (axum and hyper clone a service per request) clones the inner service and one
/// `Arc` holding the conventions and the observer: one shared reference count, whatever the
/// observer (a fused pair holds two `Arc`s of its own, which a clone does not touch).
pub struct Observe<S, O, R = DefaultRoute, F = ()> {
    inner: S,
    shared: Arc<Shared<O, R, F>>,
}

/// What the clones of one [`Observe`] share.
struct Shared<O, R, F> {
    conventions: Arc<Conventions<R, F>>,
    observer: O,
}

impl<S, O, R, F> Observe<S, O, R, F> {
    /// Wraps `inner`.
    pub fn new(inner: S, conventions: Arc<Conventions<R, F>>, observer: O) -> Self {
        Observe {
            inner,
            shared: Arc::new(Shared {
                conventions,
                observer,
            }),
        }
    }

    /// The observer.
    pub fn observer(&self) -> &O {
        &self.shared.observer
    }

    /// The conventions.
    pub fn conventions(&self) -> &Conventions<R, F> {
        &self.shared.conventions
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

/// Starts observing `request`: the facts its observers need, then the observer's record, in
/// a guard that finishes it exactly once. Also drives the reqwest middleware, which is no
/// tower service.
#[inline]
pub(crate) fn start<B, O, R, F>(
    conventions: &Conventions<R, F>,
    observer: &O,
    request: &mut Request<B>,
) -> Guard<O::Record>
where
    O: Observer<B>,
    R: MakeRoute,
    F: RequestPredicate,
{
    if !observer.enabled() {
        return Guard::disarmed();
    }
    let facts = Facts::new(conventions, &RequestInfo::new(request), observer.needs());
    let record = observer.on_request(request, &RequestFacts::new(&facts, conventions));
    Guard::new(record, facts)
}

impl<S, O, R, F, ReqBody, ResBody> Service<Request<ReqBody>> for Observe<S, O, R, F>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: ObservedError,
    O: Observer<ReqBody>,
    R: MakeRoute,
    F: RequestPredicate,
    ResBody: http_body::Body,
{
    type Response = Response<ResponseBody<ResBody, O::Record>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, O::Record>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let shared = &*self.shared;
        let guard = start(&shared.conventions, &shared.observer, &mut request);
        let inner = {
            // Current while the inner service builds its future (axum runs extractors lazily,
            // but other services do work in `call`).
            let _scope = Scope::enter(guard.record());
            self.inner.call(request)
        };
        ResponseFuture::new(inner, guard)
    }
}

impl<S: Clone, O, R, F> Clone for Observe<S, O, R, F> {
    fn clone(&self) -> Self {
        Observe {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S: std::fmt::Debug, O: std::fmt::Debug, R, F> std::fmt::Debug for Observe<S, O, R, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observe")
            .field("inner", &self.inner)
            .field("observer", &self.shared.observer)
            .field("conventions", &self.shared.conventions)
            .finish()
    }
}
