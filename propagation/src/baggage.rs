//! W3C `baggage`: parsing with percent-decoding and properties, and formatting with
//! percent-encoding, within the W3C limits.
//!
//! ```
//! use tower_telemetry_propagation::baggage;
//! use opentelemetry::StringValue;
//!
//! let bag = baggage::parse("userId = alice , serverNode=DF%2028;p1;p2 = x , isProduction=false")?;
//! assert_eq!(bag.get("serverNode"), Some(&StringValue::from("DF 28")));
//! let (_, props) = bag.get_with_metadata("serverNode").unwrap();
//! assert_eq!(props.as_str(), "p1;p2=x");
//!
//! let header = baggage::encode(&bag).unwrap();
//! assert!(header.contains("serverNode=DF%2028;p1;p2=x"));
//! # Ok::<(), tower_telemetry_propagation::ParseError>(())
//! ```
//!
//! # Rules
//!
//! Section names are those of the W3C Baggage specification
//! (<https://www.w3.org/TR/baggage/>, "Header Content").
//!
//! - Members are `key = value *(; property)`, with optional whitespace around `=`, `,` and
//!   `;` ("Definition"). Keys and property keys are RFC 9110 tokens. A value may contain `=`:
//!   only the first `=` splits ("value").
//! - Values are percent-decoded; invalid UTF-8 becomes U+FFFD ("value"). A `%` that does not
//!   start a `%XX` escape is read as a literal `%`, as the W3C reference implementation
//!   (`test/baggage/baggage.py`, Python's `unquote`) reads it.
//! - Properties are kept in their wire form (without the whitespace) in OpenTelemetry's
//!   `BaggageMetadata`, except that a `%` which starts no escape in a property value is
//!   written `%25`: the W3C ("property") applies the value's percent-encoding rules to
//!   property values, and "The percent code point (`U+0025`) MUST be percent-encoded".
//! - Limits ("Limits"): every member is kept while the result has at most [`MAX_MEMBERS`]
//!   members and [`MAX_BYTES`] bytes, counted over all `baggage` fields; past that, whole
//!   members are dropped, never parts of one. The bytes counted are those of the member as
//!   [`encode`] writes it, see [Round trip](#round-trip).
//! - [`parse`] rejects the first malformed member with an error; the propagators drop just
//!   that member and keep the rest (the W3C leaves the choice to the implementation).
//! - OpenTelemetry's `Baggage` is a map: when a key repeats, the last value wins, and order is
//!   not kept.
//! - Formatting percent-encodes every byte outside the W3C `baggage-octet` set, and `%`.
//!
//! # Round trip
//!
//! For every baggage `b` that [`parse`] or [`parse_fields`] returns, `encode(&b)` holds every
//! member of `b` within [`MAX_MEMBERS`] and [`MAX_BYTES`], and parsing it gives `b` back: the
//! same keys, values and metadata. So the next hop receives everything this one accepted.
//!
//! This needs care because a member's length on the way in is not its length on the way out.
//! The W3C lets a sender leave characters encoded that need not be (`%41`, shorter once
//! decoded), but decoding can also grow a member: a literal `%` goes out as `%25`, and an
//! invalid UTF-8 byte `%FF` becomes U+FFFD, which goes out as `%EF%BF%BD`. A member of 3,000
//! `%` fits 8,192 bytes on the way in and needs 9,000 on the way out; counting the inbound
//! length kept it, and `encode` then had to drop it, so the next hop lost it.
//!
//! The rule chosen: **the limits are counted on the re-encoded length** (what [`encode`]
//! writes for the member). The W3C "Limits" section states them on "the resulting
//! `baggage-string`", that is the one this platform propagates, so this is the reading the
//! specification asks for; it keeps everything that can be forwarded whole, and makes
//! acceptance and forwarding agree exactly. The alternatives fall short:
//!
//! - rejecting values that are not validly percent-encoded at ingress would not be enough
//!   (`%FF` is valid, and still grows threefold through U+FFFD, which the W3C requires), and
//!   would drop members that the W3C reference implementation and most SDKs accept;
//! - forwarding the original encoding would need the raw member kept beside OpenTelemetry's
//!   `Baggage` in the `Context`, and would pass a non-conforming lone `%` on to peers whose
//!   decoders follow RFC 3986 strictly (JavaScript's `decodeURIComponent` throws on it).
//!   Re-encoding always sends a conforming header.

use std::borrow::Cow;

use opentelemetry::baggage::{Baggage, BaggageMetadata};

use crate::error::{Header, ParseError, ParseErrorKind};
use crate::header::trim_ows;

/// Members always propagated in full (W3C Baggage "Limits").
pub const MAX_MEMBERS: usize = 64;
/// Bytes always propagated in full (W3C Baggage "Limits").
pub const MAX_BYTES: usize = 8192;

const fn err(kind: ParseErrorKind) -> ParseError {
    ParseError::new(Header::Baggage, kind)
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// W3C `baggage-octet`: `%x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E`.
fn is_baggage_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e)
}

/// One parsed member, borrowing from the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member<'a> {
    /// The key.
    pub key: &'a str,
    /// The percent-decoded value.
    pub value: Cow<'a, str>,
    /// The properties, normalised to `k` / `k=v` joined with `;` (still percent-encoded; a
    /// `%` that starts no `%XX` escape in a property value is written `%25`).
    pub properties: Cow<'a, str>,
    /// The member's length as received, without surrounding whitespace. The limits are not
    /// counted on it but on [`encoded_len`](Self::encoded_len).
    pub wire_len: usize,
}

impl Member<'_> {
    /// The member's length as [`encode`] writes it: `key=value` with the value re-encoded,
    /// then `;properties` when there are any. This is what the limits count (see
    /// [Round trip](self#round-trip)).
    pub fn encoded_len(&self) -> usize {
        let properties = if self.properties.is_empty() {
            0
        } else {
            1 + self.properties.len()
        };
        self.key.len() + 1 + encoded_len(&self.value) + properties
    }
}

/// Parses one list member (the text between commas).
///
/// # Errors
///
/// [`ParseErrorKind::Member`] without `=`, [`ParseErrorKind::Key`] for a key that is not a
/// token, [`ParseErrorKind::Value`] for a byte outside `baggage-octet`.
pub fn parse_member(member: &[u8]) -> Result<Member<'_>, ParseError> {
    let member = trim_ows(member);
    let mut parts = member.split(|&b| b == b';');
    let kv = parts.next().unwrap_or_default();
    let eq = kv
        .iter()
        .position(|&b| b == b'=')
        .ok_or(err(ParseErrorKind::Member))?;
    let key = trim_ows(&kv[..eq]);
    let value = trim_ows(&kv[eq + 1..]);
    if !is_token(key) {
        return Err(err(ParseErrorKind::Key));
    }
    if !value.iter().all(|&b| is_baggage_octet(b)) {
        return Err(err(ParseErrorKind::Value));
    }

    let mut properties: Cow<'_, str> = Cow::Borrowed("");
    for prop in parts {
        let prop = trim_ows(prop);
        let (pk, pv) = match prop.iter().position(|&b| b == b'=') {
            Some(i) => (trim_ows(&prop[..i]), Some(trim_ows(&prop[i + 1..]))),
            None => (prop, None),
        };
        if !is_token(pk) {
            return Err(err(ParseErrorKind::Key));
        }
        if pv.is_some_and(|v| !v.iter().all(|&b| is_baggage_octet(b))) {
            return Err(err(ParseErrorKind::Value));
        }
        let props = properties.to_mut();
        if !props.is_empty() {
            props.push(';');
        }
        props.push_str(ascii(pk));
        if let Some(v) = pv {
            props.push('=');
            push_property_value(props, v);
        }
    }

    Ok(Member {
        key: ascii(key),
        value: percent_decode(value),
        properties,
        wire_len: member.len(),
    })
}

/// Appends a property value (validated `baggage-octet`s) in its wire form, writing a `%` that
/// starts no `%XX` escape as `%25`, so what is forwarded is validly percent-encoded (W3C
/// Baggage, "property": the value's percent-encoding rules apply to property values).
fn push_property_value(out: &mut String, v: &[u8]) {
    for (i, &b) in v.iter().enumerate() {
        if b == b'%' && !starts_escape(&v[i..]) {
            out.push_str("%25");
        } else {
            out.push(char::from(b));
        }
    }
}

/// True if `v` starts with `%` and two hex digits.
fn starts_escape(v: &[u8]) -> bool {
    matches!(v, [b'%', hi, lo, ..] if hex_val(*hi).is_some() && hex_val(*lo).is_some())
}

/// Validated bytes are ASCII, so this never falls back.
fn ascii(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap_or_default()
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes `v`; a `%` not followed by two hex digits is kept as is. Invalid UTF-8 in
/// the result becomes U+FFFD, as the W3C requires.
fn percent_decode(v: &[u8]) -> Cow<'_, str> {
    if !v.contains(&b'%') {
        return Cow::Borrowed(ascii(v));
    }
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while i < v.len() {
        match (
            v[i],
            v.get(i + 1).copied().and_then(hex_val),
            v.get(i + 2).copied().and_then(hex_val),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(hi << 4 | lo);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    match String::from_utf8(out) {
        Ok(s) => Cow::Owned(s),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

/// Accumulates members within the limits.
#[derive(Default)]
pub(crate) struct Collector {
    baggage: Baggage,
    members: usize,
    bytes: usize,
    full: bool,
}

impl Collector {
    /// Adds every valid member of one field; malformed members are skipped when `lenient`,
    /// otherwise the first one is returned as an error.
    pub(crate) fn field(&mut self, field: &[u8], lenient: bool) -> Result<(), ParseError> {
        for raw in field.split(|&b| b == b',') {
            if self.full {
                return Ok(());
            }
            if trim_ows(raw).is_empty() {
                continue;
            }
            let member = match parse_member(raw) {
                Ok(m) => m,
                Err(_) if lenient => continue,
                Err(e) => return Err(e),
            };
            // Counted on the length this member is forwarded with, not the one it came with
            // (see "Round trip" in the module docs): what is kept is always sent in full.
            let bytes = self.bytes + usize::from(self.members > 0) + member.encoded_len();
            if self.members == MAX_MEMBERS || bytes > MAX_BYTES {
                // Past the limits: drop this and every later member whole.
                self.full = true;
                return Ok(());
            }
            self.members += 1;
            self.bytes = bytes;
            let metadata = BaggageMetadata::from(member.properties.into_owned());
            let _ = self.baggage.insert_with_metadata(
                member.key.to_owned(),
                member.value.into_owned(),
                metadata,
            );
        }
        Ok(())
    }

    pub(crate) fn finish(self) -> Baggage {
        self.baggage
    }
}

/// Parses one `baggage` field value.
///
/// # Errors
///
/// The first malformed member; see [`parse_member`].
pub fn parse(value: impl AsRef<[u8]>) -> Result<Baggage, ParseError> {
    parse_fields([value.as_ref()])
}

/// Parses several `baggage` fields as one list; the limits apply to all of them together.
///
/// # Errors
///
/// The first malformed member; see [`parse_member`].
pub fn parse_fields<'a>(fields: impl IntoIterator<Item = &'a [u8]>) -> Result<Baggage, ParseError> {
    let mut c = Collector::default();
    for field in fields {
        c.field(field, false)?;
    }
    Ok(c.finish())
}

/// True if `b` goes out as is; every other byte is written `%XX`.
fn is_unreserved(b: u8) -> bool {
    is_baggage_octet(b) && b != b'%'
}

/// The length of `value` once percent-encoded by [`encode`].
fn encoded_len(value: &str) -> usize {
    value
        .bytes()
        .map(|b| if is_unreserved(b) { 1 } else { 3 })
        .sum()
}

fn push_encoded(out: &mut String, value: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in value.as_bytes() {
        if is_unreserved(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
}

/// True if `metadata` is a property list that can go on the wire as is: tokens, and values of
/// `baggage-octet`s in which every `%` starts a `%XX` escape.
fn valid_properties(metadata: &str) -> bool {
    metadata.split(';').all(|prop| {
        let prop = trim_ows(prop.as_bytes());
        match prop.iter().position(|&b| b == b'=') {
            Some(i) => {
                let value = trim_ows(&prop[i + 1..]);
                is_token(trim_ows(&prop[..i]))
                    && value.iter().enumerate().all(|(j, &b)| {
                        is_baggage_octet(b) && (b != b'%' || starts_escape(&value[j..]))
                    })
            }
            None => is_token(prop),
        }
    })
}

/// Formats `baggage` as one `baggage` header value; `None` when there is nothing to send.
///
/// Values are percent-encoded. Metadata that is not a valid property list is left out rather
/// than sent malformed. Members past [`MAX_MEMBERS`] or [`MAX_BYTES`] are left out whole;
/// that never happens to a baggage [`parse`] returned (see [Round trip](self#round-trip)).
pub fn encode(baggage: &Baggage) -> Option<String> {
    let mut out = String::new();
    let mut members = 0;
    for (key, (value, metadata)) in baggage {
        if members == MAX_MEMBERS {
            break;
        }
        let mark = out.len();
        if members > 0 {
            out.push(',');
        }
        out.push_str(key.as_str());
        out.push('=');
        push_encoded(&mut out, value.as_str());
        let metadata = metadata.as_str();
        if !metadata.is_empty() && valid_properties(metadata) {
            out.push(';');
            out.push_str(metadata);
        }
        if out.len() > MAX_BYTES || !is_token(key.as_str().as_bytes()) {
            out.truncate(mark);
            continue;
        }
        members += 1;
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_becomes_replacement_character() {
        let bag = parse("k=%FF%FEok").unwrap();
        assert_eq!(bag.get("k").unwrap().as_str(), "\u{FFFD}\u{FFFD}ok");
    }

    #[test]
    fn lone_percent_is_literal() {
        let bag = parse("k=100%").unwrap();
        assert_eq!(bag.get("k").unwrap().as_str(), "100%");
        assert_eq!(encode(&bag).unwrap(), "k=100%25");
    }

    #[test]
    fn encoded_len_is_what_encode_writes() {
        for value in ["", "plain", "100%", "a b,c;", "\u{2713}", "\u{FFFD}%%%"] {
            let mut out = String::new();
            push_encoded(&mut out, value);
            assert_eq!(encoded_len(value), out.len(), "{value:?}");
        }
        let member = parse_member(b" k = 100% ; p = 5% ; q ").unwrap();
        assert_eq!(member.properties, "p=5%25;q");
        assert_eq!(member.encoded_len(), "k=100%25;p=5%25;q".len());
        assert_eq!(member.wire_len, "k = 100% ; p = 5% ; q".len());
    }

    #[test]
    fn property_values_are_forwarded_validly_encoded() {
        let bag = parse("k=v;p=50%;q=%41%;r=%zz").unwrap();
        let (_, meta) = bag.get_with_metadata("k").unwrap();
        assert_eq!(meta.as_str(), "p=50%25;q=%41%25;r=%25zz");
        assert_eq!(encode(&bag).unwrap(), "k=v;p=50%25;q=%41%25;r=%25zz");
        // Metadata set by hand with a lone '%' is left out rather than sent malformed.
        let mut bag = Baggage::new();
        let _ = bag.insert_with_metadata("k", "v", "p=50%");
        assert_eq!(encode(&bag).unwrap(), "k=v");
    }
}
