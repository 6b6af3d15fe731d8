//! W3C `traceparent`: strict parsing (Trace Context Level 2) and an allocation-free formatter.
//!
//! ```
//! use tower_telemetry_propagation::traceparent;
//! use opentelemetry::trace::{TraceFlags, TraceId};
//!
//! let sc = traceparent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03")?;
//! assert_eq!(sc.trace_id(), TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap());
//! assert!(sc.is_sampled() && sc.is_remote());
//! assert_eq!(sc.trace_flags() & traceparent::RANDOM_TRACE_ID, traceparent::RANDOM_TRACE_ID);
//!
//! // Formatting writes into a fixed 55-byte buffer: no allocation.
//! let bytes: [u8; 55] = traceparent::encode(&sc);
//! assert_eq!(&bytes[..], b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03");
//! # Ok::<(), tower_telemetry_propagation::ParseError>(())
//! ```
//!
//! # What is accepted
//!
//! The grammar and versioning rules of W3C Trace Context Level 2 ("traceparent Header",
//! "Versioning of traceparent", and the "Processing Model" for what an invalid value means):
//!
//! - leading and trailing spaces and tabs are trimmed (they are optional whitespace in HTTP);
//! - the version is exactly two **lowercase** hex digits and not `ff`;
//! - version `00` is exactly 55 characters: nothing may follow the flags;
//! - a higher version is read as version `00` for its first 55 characters, which must be
//!   followed by nothing or by `-` (its unknown fields are never interpreted);
//! - trace-id, parent-id and flags are lowercase hex of exactly 32, 16 and 2 digits;
//!   all-zero ids are invalid;
//! - the `sampled` (`0x01`) and `random` (`0x02`) flags are kept; other bits are reserved and
//!   are cleared both when parsing and when formatting;
//! - two `traceparent` fields make the header invalid (the propagators check this).
//!
//! Anything else is a [`ParseError`]; the propagators treat it as no header, so a fresh trace
//! starts, as the W3C processing model requires.

use http::HeaderValue;
use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

use crate::error::{Header, ParseError, ParseErrorKind};
use crate::header::trim_ows;
use crate::hex;

/// The length of a version-`00` `traceparent`.
pub const LEN: usize = 55;

/// The Level 2 `random` trace flag (`0x02`): the right-most 7 bytes of the trace id are random.
///
/// OpenTelemetry 0.33 has no constant for it; use it with the flag operators:
/// `flags & RANDOM_TRACE_ID == RANDOM_TRACE_ID`.
pub const RANDOM_TRACE_ID: TraceFlags = TraceFlags::new(0x02);

/// The flag bits this implementation knows (`sampled | random`); the rest are reserved.
pub const KNOWN_FLAGS: TraceFlags = TraceFlags::new(0x03);

const fn err(kind: ParseErrorKind) -> ParseError {
    ParseError::new(Header::Traceparent, kind)
}

/// Parses one `traceparent` field value.
///
/// Returns a remote [`SpanContext`] with an empty trace state and the flags limited to
/// [`KNOWN_FLAGS`]. It never panics and never allocates.
///
/// # Errors
///
/// A [`ParseError`] saying which part is malformed; see the [module docs](self).
pub fn parse(value: impl AsRef<[u8]>) -> Result<SpanContext, ParseError> {
    parse_bytes(value.as_ref())
}

fn parse_bytes(value: &[u8]) -> Result<SpanContext, ParseError> {
    let v = trim_ows(value);
    if v.is_empty() {
        return Err(err(ParseErrorKind::Missing));
    }

    // version "-"
    let version = match v {
        [a, b, b'-', ..] => {
            hex::decode::<1>(&[*a, *b], false).ok_or(err(ParseErrorKind::Version))?[0]
        }
        _ => return Err(err(ParseErrorKind::Version)),
    };
    if version == 0xff {
        return Err(err(ParseErrorKind::ForbiddenVersion));
    }

    // trace-id "-" parent-id "-" trace-flags: fixed positions for every version.
    let field = |range: std::ops::Range<usize>, sep: usize, kind| match (v.get(range), v.get(sep)) {
        (Some(f), Some(b'-')) => Ok(f),
        _ => Err(err(kind)),
    };
    let trace_id = field(3..35, 35, ParseErrorKind::TraceId)?;
    let trace_id = hex::decode::<16>(trace_id, false).ok_or(err(ParseErrorKind::TraceId))?;
    let span_id = field(36..52, 52, ParseErrorKind::SpanId)?;
    let span_id = hex::decode::<8>(span_id, false).ok_or(err(ParseErrorKind::SpanId))?;
    let flags = v.get(53..55).ok_or(err(ParseErrorKind::Flags))?;
    let flags = hex::decode::<1>(flags, false).ok_or(err(ParseErrorKind::Flags))?[0];

    // Version 00 ends after the flags; a future version may append fields, introduced by '-'.
    match (version, v.get(LEN)) {
        (_, None) | (1.., Some(b'-')) => {}
        _ => return Err(err(ParseErrorKind::TrailingData)),
    }

    let trace_id = TraceId::from_bytes(trace_id);
    if trace_id == TraceId::INVALID {
        return Err(err(ParseErrorKind::ZeroTraceId));
    }
    let span_id = SpanId::from_bytes(span_id);
    if span_id == SpanId::INVALID {
        return Err(err(ParseErrorKind::ZeroSpanId));
    }

    Ok(SpanContext::new(
        trace_id,
        span_id,
        TraceFlags::new(flags) & KNOWN_FLAGS,
        true,
        TraceState::NONE,
    ))
}

/// Formats the `traceparent` of `span_context` (version `00`, lowercase, 55 bytes) into a
/// stack buffer. Reserved flag bits are cleared. No allocation.
///
/// The caller decides what an invalid context means; [`to_header_value`] returns `None` for it.
pub fn encode(span_context: &SpanContext) -> [u8; LEN] {
    encode_parts(
        span_context.trace_id(),
        span_context.span_id(),
        span_context.trace_flags(),
    )
}

/// [`encode`] from the three fields.
pub fn encode_parts(trace_id: TraceId, span_id: SpanId, flags: TraceFlags) -> [u8; LEN] {
    let mut out = *b"00-00000000000000000000000000000000-0000000000000000-00";
    hex::encode_into(&trace_id.to_bytes(), &mut out[3..35]);
    hex::encode_into(&span_id.to_bytes(), &mut out[36..52]);
    hex::encode_into(&[(flags & KNOWN_FLAGS).to_u8()], &mut out[53..55]);
    out
}

/// The `traceparent` header value of `span_context`, or `None` when the context is invalid
/// (a zero trace or span id must never be sent).
///
/// The one allocation is the `HeaderValue`'s own buffer, which `http` requires.
pub fn to_header_value(span_context: &SpanContext) -> Option<HeaderValue> {
    if !span_context.is_valid() {
        return None;
    }
    HeaderValue::from_bytes(&encode(span_context)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn higher_version_is_downgraded_on_output() {
        let sc = parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-extra").unwrap();
        assert_eq!(
            &encode(&sc)[..],
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        );
    }

    #[test]
    fn invalid_context_has_no_header_value() {
        assert!(to_header_value(&SpanContext::empty_context()).is_none());
    }
}
