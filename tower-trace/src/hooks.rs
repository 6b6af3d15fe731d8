//! What users plug in: borrowed views of a request and a response, and the hooks (filter,
//! route, public endpoint, span name, extra span attributes) with their closure and `()`
//! default impls.
//!
//! Setters take closures directly, so `|req| …` needs no type annotation:
//!
//! ```
//! use std::borrow::Cow;
//! use opentelemetry::KeyValue;
//! use opentelemetry::trace::noop::NoopTracer;
//! use tower_telemetry_trace::TraceLayer;
//!
//! let layer = TraceLayer::server(NoopTracer::new())
//!     .skip_if(|req| req.uri().path() == "/healthz")
//!     .with_route(|req| req.uri().path().starts_with("/users/").then_some(Cow::Borrowed("/users/{id}")))
//!     .with_span_name(|req, facts| format!("{} {}", facts.method(), req.uri().host().unwrap_or("-")).into())
//!     .with_request_attributes(|req, attrs| {
//!         if let Some(tenant) = req.headers().get("x-tenant").and_then(|v| v.to_str().ok()) {
//!             attrs.push(KeyValue::new("tenant", tenant.to_owned()));
//!         }
//!     })
//!     .with_response_attributes(|res, attrs| {
//!         attrs.push(KeyValue::new("app.cache_hit", res.headers().contains_key("x-cache-hit")));
//!     });
//! # let _ = layer;
//! ```

use std::borrow::Cow;
use std::fmt;

use http::{Extensions, HeaderMap, Method, Request, Response, StatusCode, Uri, Version};
use opentelemetry::KeyValue;

use crate::lifecycle::RequestFacts;

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
    #[inline]
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

/// What a hook can see of a response head, whatever its body type.
#[derive(Clone, Copy)]
pub struct ResponseInfo<'a> {
    status: StatusCode,
    version: Version,
    headers: &'a HeaderMap,
}

impl<'a> ResponseInfo<'a> {
    /// A view of `response`.
    #[inline]
    pub fn new<B>(response: &'a Response<B>) -> Self {
        ResponseInfo {
            status: response.status(),
            version: response.version(),
            headers: response.headers(),
        }
    }

    /// A view of a response head given by its parts (a reqwest response).
    #[inline]
    pub fn from_parts(status: StatusCode, version: Version, headers: &'a HeaderMap) -> Self {
        ResponseInfo {
            status,
            version,
            headers,
        }
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The HTTP version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The headers (a Trailers-Only gRPC response has its `grpc-status` here).
    pub fn headers(&self) -> &'a HeaderMap {
        self.headers
    }
}

impl fmt::Debug for ResponseInfo<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseInfo")
            .field("status", &self.status)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

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

/// The span name, when the default (`{method} {route}`, `{method}`, or the gRPC method) is not
/// what you want (tower-http's `MakeSpan`, Go otelhttp's `WithSpanNameFormatter`). Keep names
/// low-cardinality: never the raw path.
///
/// Implemented for `()` (the default name) and closures
/// `Fn(&RequestInfo<'_>, &RequestFacts<'_>) -> Cow<'static, str>`.
pub trait MakeSpanName {
    /// The name of `request`'s span, or `None` for the default.
    fn span_name(
        &self,
        request: &RequestInfo<'_>,
        facts: &RequestFacts<'_>,
    ) -> Option<Cow<'static, str>>;
}

impl MakeSpanName for () {
    #[inline]
    fn span_name(&self, _: &RequestInfo<'_>, _: &RequestFacts<'_>) -> Option<Cow<'static, str>> {
        None
    }
}

impl<F> MakeSpanName for F
where
    F: Fn(&RequestInfo<'_>, &RequestFacts<'_>) -> Cow<'static, str>,
{
    #[inline]
    fn span_name(
        &self,
        request: &RequestInfo<'_>,
        facts: &RequestFacts<'_>,
    ) -> Option<Cow<'static, str>> {
        Some(self(request, facts))
    }
}

/// Extra span attributes from the request, added before the sampling decision (so samplers
/// see them) and only for spans that are made.
///
/// Implemented for `()` (none) and closures `Fn(&RequestInfo<'_>, &mut Vec<KeyValue>)`.
pub trait RequestAttributes {
    /// Pushes the attributes of `request`.
    fn request_attributes(&self, request: &RequestInfo<'_>, attributes: &mut Vec<KeyValue>);
}

impl RequestAttributes for () {
    #[inline]
    fn request_attributes(&self, _: &RequestInfo<'_>, _: &mut Vec<KeyValue>) {}
}

impl<F: Fn(&RequestInfo<'_>, &mut Vec<KeyValue>)> RequestAttributes for F {
    #[inline]
    fn request_attributes(&self, request: &RequestInfo<'_>, attributes: &mut Vec<KeyValue>) {
        self(request, attributes);
    }
}

/// Extra span attributes from the response head, added only to recorded (sampled) spans.
///
/// Implemented for `()` (none) and closures `Fn(&ResponseInfo<'_>, &mut Vec<KeyValue>)`.
pub trait ResponseAttributes {
    /// Pushes the attributes of `response`.
    fn response_attributes(&self, response: &ResponseInfo<'_>, attributes: &mut Vec<KeyValue>);
}

impl ResponseAttributes for () {
    #[inline]
    fn response_attributes(&self, _: &ResponseInfo<'_>, _: &mut Vec<KeyValue>) {}
}

impl<F: Fn(&ResponseInfo<'_>, &mut Vec<KeyValue>)> ResponseAttributes for F {
    #[inline]
    fn response_attributes(&self, response: &ResponseInfo<'_>, attributes: &mut Vec<KeyValue>) {
        self(response, attributes);
    }
}

/// Response headers allow-listed as `http.response.header.<name>` and a user's
/// [`ResponseAttributes`], built once per layer and shared by the records of sampled spans.
pub(crate) struct ResponseHooks {
    pub(crate) headers: std::sync::Arc<[(http::HeaderName, opentelemetry::Key)]>,
    pub(crate) hook: Option<std::sync::Arc<dyn ResponseAttributes + Send + Sync>>,
}

impl ResponseAttributes for ResponseHooks {
    fn response_attributes(&self, response: &ResponseInfo<'_>, attributes: &mut Vec<KeyValue>) {
        crate::server::push_headers(attributes, response.headers(), &self.headers);
        if let Some(hook) = &self.hook {
            hook.response_attributes(response, attributes);
        }
    }
}

/// The span hooks of a layer that run per request: name and request attributes. Each setter
/// swaps one type parameter; `()` means the default.
#[derive(Clone, Copy, Default)]
pub struct SpanHooks<N = (), Q = ()> {
    pub(crate) name: N,
    pub(crate) request: Q,
}

impl<N, Q> fmt::Debug for SpanHooks<N, Q> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpanHooks")
            .field("name", &std::any::type_name::<N>())
            .field("request", &std::any::type_name::<Q>())
            .finish()
    }
}
