//! The seam every propagator in this crate shares: a fast path on `http::HeaderMap` and the
//! OpenTelemetry `TextMapPropagator` path, both over one implementation per format.

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};

use crate::header::{Carrier, Sink};

/// A propagator that reads and writes an [`http::HeaderMap`] directly.
///
/// Implemented by every propagator of this crate (no intermediate strings, every field of a
/// header read) and, through [`TextMapAdapter`], by any OpenTelemetry [`TextMapPropagator`].
/// The `tower-trace` layers are generic over it.
///
/// ```
/// use http::HeaderMap;
/// use opentelemetry::{Context, trace::TraceContextExt};
/// use tower_telemetry_propagation::{HeaderPropagator, Propagator};
///
/// let mut headers = HeaderMap::new();
/// headers.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap());
///
/// let propagator = Propagator::w3c();
/// let cx = propagator.extract_headers(&headers, &Context::new());
/// assert!(cx.span().span_context().is_remote());
///
/// let mut outgoing = HeaderMap::new();
/// propagator.inject_headers(&cx, &mut outgoing);
/// assert_eq!(outgoing["traceparent"], headers["traceparent"]);
/// ```
pub trait HeaderPropagator {
    /// Returns `cx` extended with what the headers carry (a remote span context, baggage).
    /// Malformed or absent headers leave `cx` as it is.
    fn extract_headers(&self, headers: &HeaderMap, cx: &Context) -> Context;

    /// Writes the headers for `cx`. Writes nothing for a context with no valid span context
    /// (or no baggage, for baggage).
    fn inject_headers(&self, cx: &Context, headers: &mut HeaderMap);
}

/// The implementation side: one per format, generic over the carrier.
pub(crate) trait Codec {
    fn extract_from<C: Carrier + ?Sized>(&self, carrier: &C, cx: &Context) -> Context;
    fn inject_into<S: Sink + ?Sized>(&self, cx: &Context, sink: &mut S);
    fn field_names(&self) -> &'static [String];
}

/// Implements [`HeaderPropagator`] and [`TextMapPropagator`] for a [`Codec`].
macro_rules! propagator_impls {
    ($ty:ty) => {
        impl $crate::propagator::HeaderPropagator for $ty {
            #[inline]
            fn extract_headers(
                &self,
                headers: &::http::HeaderMap,
                cx: &::opentelemetry::Context,
            ) -> ::opentelemetry::Context {
                $crate::propagator::Codec::extract_from(self, headers, cx)
            }

            #[inline]
            fn inject_headers(
                &self,
                cx: &::opentelemetry::Context,
                headers: &mut ::http::HeaderMap,
            ) {
                $crate::propagator::Codec::inject_into(self, cx, headers)
            }
        }

        impl ::opentelemetry::propagation::TextMapPropagator for $ty {
            fn inject_context(
                &self,
                cx: &::opentelemetry::Context,
                injector: &mut dyn ::opentelemetry::propagation::Injector,
            ) {
                $crate::propagator::Codec::inject_into(
                    self,
                    cx,
                    &mut $crate::header::InjectorSink(injector),
                )
            }

            fn extract_with_context(
                &self,
                cx: &::opentelemetry::Context,
                extractor: &dyn ::opentelemetry::propagation::Extractor,
            ) -> ::opentelemetry::Context {
                $crate::propagator::Codec::extract_from(
                    self,
                    &$crate::header::ExtractorCarrier(extractor),
                    cx,
                )
            }

            fn fields(&self) -> ::opentelemetry::propagation::text_map_propagator::FieldIter<'_> {
                ::opentelemetry::propagation::text_map_propagator::FieldIter::new(
                    $crate::propagator::Codec::field_names(self),
                )
            }
        }
    };
}
pub(crate) use propagator_impls;

/// Static field-name lists for `TextMapPropagator::fields`, which wants `&[String]`.
macro_rules! static_fields {
    ($($name:expr),* $(,)?) => {{
        static FIELDS: ::std::sync::OnceLock<Vec<String>> = ::std::sync::OnceLock::new();
        FIELDS.get_or_init(|| vec![$(String::from($name)),*]).as_slice()
    }};
}
pub(crate) use static_fields;

/// Makes any OpenTelemetry [`TextMapPropagator`] a [`HeaderPropagator`], for formats this
/// crate does not implement (B3, Jaeger, …) or a composite built with
/// `TextMapCompositePropagator`.
///
/// It goes through OpenTelemetry's string-based carrier API, so it allocates per header; this
/// crate's own propagators do not.
///
/// ```
/// use http::HeaderMap;
/// use opentelemetry::Context;
/// use opentelemetry::propagation::TextMapCompositePropagator;
/// use tower_telemetry_propagation::{HeaderPropagator, TextMapAdapter, TraceContextPropagator, BaggagePropagator};
///
/// let composite = TextMapCompositePropagator::new(vec![
///     Box::new(TraceContextPropagator::new()),
///     Box::new(BaggagePropagator::new()),
/// ]);
/// let adapter = TextMapAdapter::new(composite);
/// let cx = adapter.extract_headers(&HeaderMap::new(), &Context::new());
/// # let _ = cx;
/// ```
#[derive(Debug, Clone, Default)]
pub struct TextMapAdapter<P> {
    inner: P,
}

impl<P> TextMapAdapter<P> {
    /// Wraps `propagator`.
    pub const fn new(propagator: P) -> Self {
        TextMapAdapter { inner: propagator }
    }

    /// The wrapped propagator.
    pub fn get_ref(&self) -> &P {
        &self.inner
    }

    /// Unwraps the propagator.
    pub fn into_inner(self) -> P {
        self.inner
    }
}

impl<P: TextMapPropagator> HeaderPropagator for TextMapAdapter<P> {
    fn extract_headers(&self, headers: &HeaderMap, cx: &Context) -> Context {
        self.inner
            .extract_with_context(cx, &HeaderMapExtractor(headers))
    }

    fn inject_headers(&self, cx: &Context, headers: &mut HeaderMap) {
        self.inner
            .inject_context(cx, &mut HeaderMapInjector(headers));
    }
}

struct HeaderMapExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderMapExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        let values: Vec<&str> = self
            .0
            .get_all(key)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        (!values.is_empty()).then_some(values)
    }
}

struct HeaderMapInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderMapInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        // Known names resolve without parsing; others are parsed once here.
        let name = match key {
            "traceparent" => crate::TRACEPARENT,
            "tracestate" => crate::TRACESTATE,
            "baggage" => crate::BAGGAGE,
            "x-cloud-trace-context" => crate::X_CLOUD_TRACE_CONTEXT,
            "grpc-trace-bin" => crate::GRPC_TRACE_BIN,
            other => match HeaderName::from_bytes(other.as_bytes()) {
                Ok(name) => name,
                Err(_) => return,
            },
        };
        if let Ok(value) = HeaderValue::from_maybe_shared(bytes::Bytes::from(value)) {
            self.0.insert(name, value);
        }
    }
}
