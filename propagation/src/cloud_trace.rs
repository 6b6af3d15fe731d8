//! Google Cloud Trace `X-Cloud-Trace-Context: TRACE_ID/SPAN_ID;o=OPTIONS`.
//!
//! ```
//! use tower_telemetry_propagation::cloud_trace;
//! use opentelemetry::trace::SpanId;
//!
//! let sc = cloud_trace::parse("105445aa7843bc8bf206b12000100000/18374686479671623803;o=1")?;
//! assert_eq!(sc.span_id(), SpanId::from_hex("ff0000000000007b").unwrap());
//! assert!(sc.is_sampled());
//!
//! let encoded = cloud_trace::encode(&sc);
//! assert_eq!(encoded.as_str(), "105445aa7843bc8bf206b12000100000/18374686479671623803;o=1");
//! # Ok::<(), tower_telemetry_propagation::ParseError>(())
//! ```
//!
//! # What is accepted
//!
//! The format is Google's (<https://cloud.google.com/trace/docs/trace-context>). Where Google's
//! own propagators (`opentelemetry-operations-{go,java,python,js}` and the Ruby contrib one)
//! disagree on an edge case, this parser takes the strict side, except for uppercase:
//!
//! - leading and trailing spaces and tabs are trimmed; a value over [`MAX_LEN`] bytes is
//!   rejected before it is read;
//! - the trace id is exactly 32 hex digits; uppercase is accepted and normalised (Google's own
//!   JavaScript and Ruby propagators accept it); all zeros is rejected;
//! - the span id is 1 to 20 decimal digits whose value fits a `u64` and is not zero;
//! - `;o=` is optional; when present it is one or more decimal digits and **bit 0** is the
//!   sampled flag (`o=1` and `o=3` are sampled, `o=0` and `o=2` are not); an empty `o=` is
//!   rejected;
//! - nothing else may follow (no other `;k=v`, no trailing junk).
//!
//! Formatting always writes `o=0` or `o=1` (the sampled bit only) and a lowercase trace id.
//!
//! Semantics differ from W3C: for Google, `o=1` *forces* tracing, while W3C `sampled` only
//! says the caller may have recorded. To keep Google's behaviour, use a parent-based sampler
//! that samples remote sampled parents.

use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

use crate::error::{Header, ParseError, ParseErrorKind};
use crate::header::trim_ows;
use crate::hex;

/// The longest value read; longer values are rejected unread. The longest valid value is 57
/// bytes (`32 + 1 + 20 + ";o=" + options`), so this leaves room for long options only.
pub const MAX_LEN: usize = 256;

/// The longest value [`encode`] writes: 32 + 1 + 20 + 4.
pub const MAX_ENCODED_LEN: usize = 57;

const fn err(kind: ParseErrorKind) -> ParseError {
    ParseError::new(Header::CloudTrace, kind)
}

/// Parses one `X-Cloud-Trace-Context` value into a remote [`SpanContext`].
///
/// Never panics and never allocates.
///
/// # Errors
///
/// A [`ParseError`] saying which part is malformed; see the [module docs](self).
pub fn parse(value: impl AsRef<[u8]>) -> Result<SpanContext, ParseError> {
    parse_bytes(value.as_ref())
}

fn parse_bytes(value: &[u8]) -> Result<SpanContext, ParseError> {
    if value.len() > MAX_LEN {
        return Err(err(ParseErrorKind::TooLong));
    }
    let v = trim_ows(value);
    if v.is_empty() {
        return Err(err(ParseErrorKind::Missing));
    }

    let (trace_id, rest) = match v.get(32) {
        Some(b'/') => (&v[..32], &v[33..]),
        _ => return Err(err(ParseErrorKind::TraceId)),
    };
    let trace_id = hex::decode::<16>(trace_id, true).ok_or(err(ParseErrorKind::TraceId))?;
    let trace_id = TraceId::from_bytes(trace_id);
    if trace_id == TraceId::INVALID {
        return Err(err(ParseErrorKind::ZeroTraceId));
    }

    let (span_id, options) = match rest.iter().position(|&b| b == b';') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let span_id = hex::parse_u64(span_id).ok_or(err(ParseErrorKind::SpanId))?;
    if span_id == 0 {
        return Err(err(ParseErrorKind::ZeroSpanId));
    }

    let sampled = match options {
        None => false,
        Some(o) => match o {
            [b'o', b'=', digits @ ..] if !digits.is_empty() => {
                let last = digits[digits.len() - 1];
                if !digits.iter().all(u8::is_ascii_digit) {
                    return Err(err(ParseErrorKind::Flags));
                }
                // Bit 0 of a decimal number is the parity of its last digit: no overflow to
                // worry about, whatever the length.
                (last - b'0') & 1 == 1
            }
            _ => return Err(err(ParseErrorKind::Flags)),
        },
    };

    let flags = if sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::NOT_SAMPLED
    };
    Ok(SpanContext::new(
        trace_id,
        SpanId::from_bytes(span_id.to_be_bytes()),
        flags,
        true,
        TraceState::NONE,
    ))
}

/// An encoded `X-Cloud-Trace-Context` value, on the stack.
#[derive(Clone, Copy)]
pub struct Encoded {
    buf: [u8; MAX_ENCODED_LEN],
    len: u8,
}

impl Encoded {
    /// The value's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }

    /// The value as a string (always ASCII).
    pub fn as_str(&self) -> &str {
        // Only ASCII digits, hex digits, '/', ';', 'o' and '=' are ever written.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

impl std::fmt::Debug for Encoded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Encoded").field(&self.as_str()).finish()
    }
}

/// Formats `span_context` as `<32 lowercase hex>/<decimal span id>;o=<0|1>`. No allocation.
///
/// The caller must not send an invalid context (zero ids); the propagators check
/// [`SpanContext::is_valid`] first.
pub fn encode(span_context: &SpanContext) -> Encoded {
    let mut buf = [0u8; MAX_ENCODED_LEN];
    hex::encode_into(&span_context.trace_id().to_bytes(), &mut buf[..32]);
    buf[32] = b'/';
    let mut digits = [0u8; 20];
    let digits = hex::format_u64(
        u64::from_be_bytes(span_context.span_id().to_bytes()),
        &mut digits,
    );
    let mut len = 33;
    buf[len..len + digits.len()].copy_from_slice(digits);
    len += digits.len();
    let options: &[u8; 4] = if span_context.is_sampled() {
        b";o=1"
    } else {
        b";o=0"
    };
    buf[len..len + 4].copy_from_slice(options);
    len += 4;
    Encoded {
        buf,
        len: len as u8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uppercase_trace_id_is_normalised() {
        let sc = parse("105445AA7843BC8BF206B12000100000/1").unwrap();
        assert_eq!(
            encode(&sc).as_str(),
            "105445aa7843bc8bf206b12000100000/1;o=0"
        );
    }
}
