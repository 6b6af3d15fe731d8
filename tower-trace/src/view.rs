//! Borrowed views of a request and a response head, whatever their body types: what the
//! lifecycle, the conventions and every hook read.

use std::fmt;

use http::{Extensions, HeaderMap, Method, Request, Response, StatusCode, Uri, Version};

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
