//! A borrowed view of a request for the per-request hooks (filter, route, public endpoint),
//! and the hook traits with their closure and default impls.

use std::borrow::Cow;
use std::fmt;

use http::{Extensions, HeaderMap, Method, Request, Uri, Version};

/// What a hook can see of a request, whatever its body type.
#[derive(Clone, Copy)]
pub struct RequestInfo<'a> {
    method: &'a Method,
    uri: &'a Uri,
    version: Version,
    headers: &'a HeaderMap,
    extensions: &'a Extensions,
}

impl<'a> RequestInfo<'a> {
    /// A view of `request`.
    pub fn new<B>(request: &'a Request<B>) -> Self {
        RequestInfo {
            method: request.method(),
            uri: request.uri(),
            version: request.version(),
            headers: request.headers(),
            extensions: request.extensions(),
        }
    }

    /// The method.
    pub fn method(&self) -> &'a Method {
        self.method
    }

    /// The URI (for a server, usually just path and query).
    pub fn uri(&self) -> &'a Uri {
        self.uri
    }

    /// The HTTP version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The headers.
    pub fn headers(&self) -> &'a HeaderMap {
        self.headers
    }

    /// The extensions (axum's `MatchedPath` and `ConnectInfo` live here).
    pub fn extensions(&self) -> &'a Extensions {
        self.extensions
    }
}

impl fmt::Debug for RequestInfo<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestInfo")
            .field("method", self.method)
            .field("uri", self.uri)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// A yes/no question about a request: which requests to trace ([`filter`]), which come from
/// untrusted callers ([`public endpoint`]).
///
/// Implemented for `()` (always "no"), `bool` (a constant), and closures
/// `Fn(&RequestInfo<'_>) -> bool`.
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
