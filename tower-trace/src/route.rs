//! The lifecycle's own hooks: which requests to skip (or treat as public), and where
//! `http.route` comes from. Part of every layer's [`Conventions`](crate::lifecycle::Conventions).

use std::borrow::Cow;

use crate::view::RequestInfo;

/// A yes/no question about a request: which requests to skip ([`filter`]), which come from
/// untrusted callers ([`public endpoint`]).
///
/// Implemented for `()` (always "no"), `bool` (a constant), and closures
/// `Fn(&RequestInfo<'_>) -> bool` (the setters take closures directly, so they need no type
/// annotations).
///
/// [`filter`]: crate::TraceLayer::skip_if
/// [`public endpoint`]: crate::TraceLayer::public_endpoint_if
pub trait RequestPredicate {
    /// The answer for `request`.
    fn check(&self, request: &RequestInfo<'_>) -> bool;
}

impl RequestPredicate for () {
    #[inline]
    fn check(&self, _: &RequestInfo<'_>) -> bool {
        false
    }
}

impl RequestPredicate for bool {
    #[inline]
    fn check(&self, _: &RequestInfo<'_>) -> bool {
        *self
    }
}

impl<F: Fn(&RequestInfo<'_>) -> bool> RequestPredicate for F {
    #[inline]
    fn check(&self, request: &RequestInfo<'_>) -> bool {
        self(request)
    }
}

/// Where `http.route` comes from: a low-cardinality template such as `/users/{id}`, never the
/// raw path.
///
/// Implemented by [`DefaultRoute`] and by closures
/// `Fn(&RequestInfo<'_>) -> Option<Cow<'static, str>>`. The route may borrow from the request
/// (axum's `MatchedPath` does), so reading it allocates nothing.
pub trait MakeRoute {
    /// The route template of `request`, if known.
    fn route<'a>(&self, request: &RequestInfo<'a>) -> Option<Cow<'a, str>>;
}

/// The default route source: axum's `MatchedPath` when the `axum` feature is on, otherwise
/// no route (the span is named after the method alone).
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultRoute;

impl MakeRoute for DefaultRoute {
    #[inline]
    fn route<'a>(&self, request: &RequestInfo<'a>) -> Option<Cow<'a, str>> {
        #[cfg(feature = "axum")]
        if let Some(path) = request.extensions().get::<axum::extract::MatchedPath>() {
            return Some(Cow::Borrowed(path.as_str()));
        }
        let _ = request;
        None
    }
}

impl<F: Fn(&RequestInfo<'_>) -> Option<Cow<'static, str>>> MakeRoute for F {
    #[inline]
    fn route<'a>(&self, request: &RequestInfo<'a>) -> Option<Cow<'a, str>> {
        self(request)
    }
}
