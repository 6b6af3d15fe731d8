//! The span hooks: the span's name and extra attributes from the request and the response.

use std::borrow::Cow;
use std::fmt;

use http::{HeaderMap, HeaderName};
use opentelemetry::{Array, Key, KeyValue, StringValue, Value};

use crate::lifecycle::RequestFacts;
use crate::view::{RequestInfo, ResponseInfo};

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
        push_headers(attributes, response.headers(), &self.headers);
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

/// Allow-listed headers as `http.{request,response}.header.<name>` string arrays; sensitive
/// values never.
pub(crate) fn push_headers(
    attrs: &mut Vec<KeyValue>,
    headers: &HeaderMap,
    allowed: &[(HeaderName, Key)],
) {
    for (name, key) in allowed {
        let values: Vec<StringValue> = headers
            .get_all(name)
            .iter()
            .filter(|v| !v.is_sensitive())
            .filter_map(|v| v.to_str().ok())
            .map(|v| StringValue::from(v.to_owned()))
            .collect();
        if !values.is_empty() {
            attrs.push(KeyValue::new(
                key.clone(),
                Value::Array(Array::String(values)),
            ));
        }
    }
}
