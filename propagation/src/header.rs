//! Header names and the two carriers every propagator reads and writes: `http::HeaderMap` (the
//! fast path) and OpenTelemetry's `Extractor`/`Injector` (the generic path).

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::{Extractor, Injector};

/// `traceparent` (W3C Trace Context).
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
/// `tracestate` (W3C Trace Context).
pub const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
/// `baggage` (W3C Baggage).
pub const BAGGAGE: HeaderName = HeaderName::from_static("baggage");
/// `x-cloud-trace-context` (Google Cloud Trace).
pub const X_CLOUD_TRACE_CONTEXT: HeaderName = HeaderName::from_static("x-cloud-trace-context");
/// `grpc-trace-bin` (OpenCensus binary trace context in gRPC binary metadata, base64 on the
/// wire).
pub const GRPC_TRACE_BIN: HeaderName = HeaderName::from_static("grpc-trace-bin");

/// Something header values can be read from, every field of a name in order.
pub(crate) trait Carrier {
    /// Calls `f` with each field of `name`, in order, until it returns `false`.
    fn for_each_value<'s>(&'s self, name: &HeaderName, f: &mut dyn FnMut(&'s [u8]) -> bool);

    /// The only field of `name`: `Ok(None)` when absent, `Err(())` when there are several.
    fn single_value(&self, name: &HeaderName) -> Result<Option<&[u8]>, ()>;
}

impl Carrier for HeaderMap {
    #[inline]
    fn for_each_value<'s>(&'s self, name: &HeaderName, f: &mut dyn FnMut(&'s [u8]) -> bool) {
        for value in self.get_all(name) {
            if !f(value.as_bytes()) {
                break;
            }
        }
    }

    #[inline]
    fn single_value(&self, name: &HeaderName) -> Result<Option<&[u8]>, ()> {
        let mut values = self.get_all(name).iter();
        match (values.next(), values.next()) {
            (None, _) => Ok(None),
            (Some(v), None) => Ok(Some(v.as_bytes())),
            (Some(_), Some(_)) => Err(()),
        }
    }
}

/// The generic path: any OpenTelemetry [`Extractor`]. `get_all` is used so a carrier that keeps
/// every field (such as `opentelemetry-http`'s `HeaderExtractor`) lets us see duplicates.
pub(crate) struct ExtractorCarrier<'a>(pub(crate) &'a dyn Extractor);

impl Carrier for ExtractorCarrier<'_> {
    fn for_each_value<'s>(&'s self, name: &HeaderName, f: &mut dyn FnMut(&'s [u8]) -> bool) {
        let extractor: &'s dyn Extractor = self.0;
        if let Some(values) = extractor.get_all(name.as_str()) {
            for value in values {
                if !f(value.as_bytes()) {
                    break;
                }
            }
        }
    }

    fn single_value(&self, name: &HeaderName) -> Result<Option<&[u8]>, ()> {
        match self.0.get_all(name.as_str()) {
            None => Ok(None),
            Some(values) => match values.as_slice() {
                [] => Ok(None),
                [one] => Ok(Some(one.as_bytes())),
                _ => Err(()),
            },
        }
    }
}

/// Something header values can be written to.
pub(crate) trait Sink {
    /// Sets `name` to `value` (visible ASCII by construction), replacing earlier fields.
    fn set_bytes(&mut self, name: &HeaderName, value: &[u8]);
    /// Sets `name` to an owned value, without copying it where the sink allows.
    fn set_string(&mut self, name: &HeaderName, value: String);
    /// Removes `name` where the sink allows (a stale `tracestate` must not ride along with a
    /// new `traceparent`).
    fn remove(&mut self, name: &HeaderName);
}

impl Sink for HeaderMap {
    #[inline]
    fn set_bytes(&mut self, name: &HeaderName, value: &[u8]) {
        // One allocation: `HeaderValue` owns its bytes, so this is the floor for a dynamic value.
        if let Ok(value) = HeaderValue::from_bytes(value) {
            self.insert(name.clone(), value);
        }
    }

    #[inline]
    fn set_string(&mut self, name: &HeaderName, value: String) {
        // `Bytes::from(String)` takes the buffer over; no copy.
        if let Ok(value) = HeaderValue::from_maybe_shared(Bytes::from(value)) {
            self.insert(name.clone(), value);
        }
    }

    #[inline]
    fn remove(&mut self, name: &HeaderName) {
        self.remove(name);
    }
}

/// The generic path: any OpenTelemetry [`Injector`].
pub(crate) struct InjectorSink<'a>(pub(crate) &'a mut dyn Injector);

impl Sink for InjectorSink<'_> {
    fn set_bytes(&mut self, name: &HeaderName, value: &[u8]) {
        // Every codec writes visible ASCII only.
        if let Ok(value) = std::str::from_utf8(value) {
            self.0.set(name.as_str(), value.to_owned());
        }
    }

    fn set_string(&mut self, name: &HeaderName, value: String) {
        self.0.set(name.as_str(), value);
    }

    fn remove(&mut self, _name: &HeaderName) {
        // `Injector` has no removal; the caller's carrier starts empty in practice.
    }
}

/// Trims optional whitespace (SP and HTAB) from both ends, as RFC 9110 field values allow.
#[inline]
pub(crate) fn trim_ows(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}
