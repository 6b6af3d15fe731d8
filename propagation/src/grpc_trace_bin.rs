//! OpenCensus binary trace context, as gRPC carries it in the `grpc-trace-bin` metadata.
//!
//! ```
//! use tower_telemetry_propagation::grpc_trace_bin;
//! use opentelemetry::trace::{SpanId, TraceId};
//!
//! // The example of the OpenCensus binary format specification, base64 as gRPC sends it.
//! let sc = grpc_trace_bin::parse("AABL+S81d7NNpqPOkp0ADkc2ATTwZ6oLqQK3AgE")?;
//! assert_eq!(sc.trace_id(), TraceId::from_hex("4bf92f3577b34da6a3ce929d000e4736").unwrap());
//! assert_eq!(sc.span_id(), SpanId::from_hex("34f067aa0ba902b7").unwrap());
//! assert!(sc.is_sampled() && sc.is_remote());
//!
//! // The binary form: 29 bytes on the stack.
//! let bytes: [u8; grpc_trace_bin::LEN] = grpc_trace_bin::encode(&sc);
//! assert_eq!(&bytes[..2], &[0, 0], "version 0, then field 0: the trace id");
//! assert_eq!(grpc_trace_bin::decode(&bytes)?, sc);
//!
//! // The metadata value: unpadded base64, 39 characters, also on the stack.
//! let text = grpc_trace_bin::encode_base64(&sc);
//! assert_eq!(&text[..], b"AABL+S81d7NNpqPOkp0ADkc2ATTwZ6oLqQK3AgE");
//! # Ok::<(), tower_telemetry_propagation::ParseError>(())
//! ```
//!
//! # The format
//!
//! From the OpenCensus binary format specification
//! (census-instrumentation/opencensus-specs, `encodings/BinaryEncoding.md`, "Trace Context"):
//! a version byte, `0`, then fields, each a field id byte and a value:
//!
//! | field id | value | |
//! |---|---|---|
//! | `0` | trace id, 16 bytes | all zeros is invalid |
//! | `1` | span id of the caller, 8 bytes | all zeros is invalid |
//! | `2` | trace options, 1 byte | bit 0: sampled; the other bits are undefined |
//!
//! so a full value is 29 bytes: `00 00 <trace id> 01 <span id> 02 <options>`. gRPC sends it
//! in the binary metadata `grpc-trace-bin` (the name gRPC's OpenCensus plugins and, for
//! migration, its OpenTelemetry plugins use: gRFC A72), base64-encoded on HTTP/2.
//!
//! # What is accepted
//!
//! Stricter than the OpenCensus decoders (Go's `propagation.FromBinary` accepts a value
//! without a span id, for instance), as for every format of this crate:
//!
//! - [`parse`] takes the metadata value: standard base64 (RFC 4648 §4), padded or not, as
//!   "gRPC over HTTP2" requires of receivers ("Implementations MUST accept padded and
//!   un-padded values"); surrounding spaces and tabs are trimmed; a value over [`MAX_LEN`]
//!   characters is rejected unread. Anything else is [`ParseErrorKind::Encoding`]. [`decode`]
//!   takes the bytes (what gRPC libraries hand over for binary metadata).
//! - The version is `0`. The specification lets a newer version be read if it starts with the
//!   known fields, but no other version has ever been defined and the census implementations
//!   reject any other, so this one does too ([`ParseErrorKind::Version`]).
//! - The trace id (field 0) comes first and the span id (field 1) second, both whole and not
//!   all zeros. The trace options (field 2) may follow; when absent the caller is not sampled
//!   (the field's default). Only bit 0 of the options is kept, as the sampled flag: the other
//!   bits are undefined in OpenCensus and must not be read as W3C flags.
//! - After these, the specification's deserialization rules stop at "the first unknown
//!   field_id": an unknown field (id 3 or more) and everything after it are ignored. A known
//!   id there (a repeated or out-of-order field) makes the value invalid
//!   ([`ParseErrorKind::TrailingData`]): no encoder writes it, and readers disagree on it.
//!
//! The propagators read every `grpc-trace-bin` field and split each on `,` (gRPC lets
//! duplicate metadata be joined with `,` and requires binary values to be split before
//! decoding); empty elements are skipped (RFC 9110 §5.6.1). One value is the trace context;
//! **two or more values are invalid**, as for `traceparent` and `X-Cloud-Trace-Context`:
//! OpenCensus Go reads the first and gRPC Java the last, so there is no agreed answer, and
//! gRFC A72 sends "only one `grpc-trace-bin` header" per call. See [`parse_fields`].
//!
//! Encoding always writes the 29-byte form with options `0` or `1`, and base64 without
//! padding ("should emit un-padded values").

use http::HeaderValue;
use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

use crate::base64;
use crate::error::{Header, ParseError, ParseErrorKind};
use crate::header::trim_ows;

/// The length of an encoded trace context: version, then three fields with their ids.
pub const LEN: usize = 29;

/// The length of [`encode_base64`]'s output: [`LEN`] bytes in unpadded base64.
pub const BASE64_LEN: usize = base64::encoded_len(LEN);

/// The longest metadata value [`parse`] reads; longer values are rejected unread. A full trace
/// context is 39 or 40 characters; the rest leaves room for unknown trailing fields.
pub const MAX_LEN: usize = 256;

// The decode buffer of a `MAX_LEN` value holds a full trace context.
const _: () = assert!(MAX_LEN / 4 * 3 >= LEN);

const VERSION: u8 = 0;
const TRACE_ID_FIELD: u8 = 0;
const SPAN_ID_FIELD: u8 = 1;
const OPTIONS_FIELD: u8 = 2;

const fn err(kind: ParseErrorKind) -> ParseError {
    ParseError::new(Header::GrpcTraceBin, kind)
}

/// Decodes the binary trace context (the bytes of a `grpc-trace-bin` value after base64)
/// into a remote [`SpanContext`].
///
/// Never panics and never allocates.
///
/// # Errors
///
/// A [`ParseError`] saying which part is malformed; see the [module docs](self).
pub fn decode(bytes: &[u8]) -> Result<SpanContext, ParseError> {
    let rest = match bytes {
        [] => return Err(err(ParseErrorKind::Missing)),
        [VERSION, rest @ ..] => rest,
        _ => return Err(err(ParseErrorKind::Version)),
    };
    let (trace_id, rest) = match rest {
        [TRACE_ID_FIELD, rest @ ..] if rest.len() >= 16 => rest.split_at(16),
        _ => return Err(err(ParseErrorKind::TraceId)),
    };
    let (span_id, rest) = match rest {
        [SPAN_ID_FIELD, rest @ ..] if rest.len() >= 8 => rest.split_at(8),
        _ => return Err(err(ParseErrorKind::SpanId)),
    };
    let (options, rest) = match rest {
        [OPTIONS_FIELD, options, rest @ ..] => (*options, rest),
        [OPTIONS_FIELD] => return Err(err(ParseErrorKind::Flags)),
        _ => (0, rest),
    };
    // Reading stops at the first unknown field id; a known one here is out of order.
    if matches!(rest.first(), Some(&(TRACE_ID_FIELD..=OPTIONS_FIELD))) {
        return Err(err(ParseErrorKind::TrailingData));
    }

    let trace_id = TraceId::from_bytes(trace_id.try_into().unwrap_or_default());
    if trace_id == TraceId::INVALID {
        return Err(err(ParseErrorKind::ZeroTraceId));
    }
    let span_id = SpanId::from_bytes(span_id.try_into().unwrap_or_default());
    if span_id == SpanId::INVALID {
        return Err(err(ParseErrorKind::ZeroSpanId));
    }
    Ok(SpanContext::new(
        trace_id,
        span_id,
        TraceFlags::new(options) & TraceFlags::SAMPLED,
        true,
        TraceState::NONE,
    ))
}

/// Encodes `span_context` in the binary format: `00 00 <trace id> 01 <span id> 02 <options>`,
/// where the options are `1` when sampled and `0` otherwise. No allocation.
///
/// The caller must not send an invalid context (zero ids); the propagators check
/// [`SpanContext::is_valid`] first, and [`to_header_value`] returns `None` for it.
pub fn encode(span_context: &SpanContext) -> [u8; LEN] {
    let mut out = [0u8; LEN];
    out[0] = VERSION;
    out[1] = TRACE_ID_FIELD;
    out[2..18].copy_from_slice(&span_context.trace_id().to_bytes());
    out[18] = SPAN_ID_FIELD;
    out[19..27].copy_from_slice(&span_context.span_id().to_bytes());
    out[27] = OPTIONS_FIELD;
    out[28] = u8::from(span_context.is_sampled());
    out
}

/// Parses one `grpc-trace-bin` metadata value: base64, padded or not, of the binary format.
///
/// Never panics and never allocates.
///
/// # Errors
///
/// [`ParseErrorKind::TooLong`] over [`MAX_LEN`] characters, [`ParseErrorKind::Encoding`] when
/// the value is not base64, otherwise what [`decode`] says.
pub fn parse(value: impl AsRef<[u8]>) -> Result<SpanContext, ParseError> {
    parse_bytes(value.as_ref())
}

fn parse_bytes(value: &[u8]) -> Result<SpanContext, ParseError> {
    if value.len() > MAX_LEN {
        return Err(err(ParseErrorKind::TooLong));
    }
    let text = trim_ows(value);
    if text.is_empty() {
        return Err(err(ParseErrorKind::Missing));
    }
    let mut buf = [0u8; MAX_LEN / 4 * 3];
    let len = base64::decode_into(text, &mut buf).ok_or(err(ParseErrorKind::Encoding))?;
    decode(&buf[..len])
}

/// Parses the `grpc-trace-bin` fields of one request by the rule in the
/// [module docs](self): each field is split on `,`, empty elements are skipped, and exactly
/// one value must remain.
///
/// # Errors
///
/// [`ParseErrorKind::Missing`] when no value remains, [`ParseErrorKind::MultipleFields`] when
/// two or more do, otherwise what [`parse`] says about the one value.
pub fn parse_fields<'a>(
    fields: impl IntoIterator<Item = &'a [u8]>,
) -> Result<SpanContext, ParseError> {
    let mut one = OneValue::default();
    for field in fields {
        if !one.field(field) {
            break;
        }
    }
    one.finish()
}

/// Finds the one value among the elements of every field (see [`parse_fields`]).
#[derive(Default)]
pub(crate) struct OneValue<'a> {
    value: Option<&'a [u8]>,
    multiple: bool,
}

impl<'a> OneValue<'a> {
    /// Takes one field; returns `false` once a second value is seen (nothing more to learn).
    pub(crate) fn field(&mut self, field: &'a [u8]) -> bool {
        for element in field.split(|&b| b == b',') {
            let element = trim_ows(element);
            if element.is_empty() {
                continue;
            }
            if self.value.is_some() {
                self.multiple = true;
                return false;
            }
            self.value = Some(element);
        }
        true
    }

    pub(crate) fn finish(self) -> Result<SpanContext, ParseError> {
        match (self.value, self.multiple) {
            (_, true) => Err(err(ParseErrorKind::MultipleFields)),
            (None, false) => Err(err(ParseErrorKind::Missing)),
            (Some(value), false) => parse(value),
        }
    }
}

/// Encodes `span_context` as a `grpc-trace-bin` metadata value: [`encode`] in unpadded
/// base64, on the stack. No allocation.
pub fn encode_base64(span_context: &SpanContext) -> [u8; BASE64_LEN] {
    let mut out = [0u8; BASE64_LEN];
    base64::encode_into(&encode(span_context), &mut out);
    out
}

/// The `grpc-trace-bin` header value of `span_context` (unpadded base64), or `None` when the
/// context is invalid (a zero trace or span id must never be sent).
///
/// The one allocation is the `HeaderValue`'s own buffer, which `http` requires.
pub fn to_header_value(span_context: &SpanContext) -> Option<HeaderValue> {
    if !span_context.is_valid() {
        return None;
    }
    HeaderValue::from_bytes(&encode_base64(span_context)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_lengths() {
        assert_eq!(BASE64_LEN, 39);
    }

    #[test]
    fn options_keep_only_the_sampled_bit() {
        let sc = SpanContext::new(
            TraceId::from(1),
            SpanId::from(2),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        );
        let mut bytes = encode(&sc);
        bytes[28] = 0xff;
        let sc = decode(&bytes).unwrap();
        assert_eq!(sc.trace_flags(), TraceFlags::SAMPLED);
        assert_eq!(encode(&sc)[28], 1);
        bytes[28] = 0xfe;
        assert_eq!(
            decode(&bytes).unwrap().trace_flags(),
            TraceFlags::NOT_SAMPLED
        );
    }
}
