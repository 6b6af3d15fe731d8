//! W3C `tracestate`: strict parsing of one or several header fields, and the mutations a vendor
//! needs.
//!
//! ```
//! use tower_telemetry_propagation::tracestate::{KeyGrammar, TraceStateList};
//!
//! // Several fields combine in order; OWS and empty members are skipped.
//! let fields: [&[u8]; 3] = [b"congo=t61rcWkgMzE, rojo=00f067aa0ba902b7", b"", b"foo@@bar=1"];
//! let mut list = TraceStateList::parse_fields(fields, KeyGrammar::Level2)?;
//! assert_eq!(list.as_str(), "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7,foo@@bar=1");
//!
//! // A vendor updates its own entry: it moves to the left, never duplicated.
//! list.insert("rojo", "00f067aa0ba902b8")?;
//! assert_eq!(list.as_str(), "rojo=00f067aa0ba902b8,congo=t61rcWkgMzE,foo@@bar=1");
//!
//! // Any invalid member discards the whole header.
//! assert!(TraceStateList::parse("foo=1,FOO=2", KeyGrammar::Level2).is_err());
//! # Ok::<(), tower_telemetry_propagation::ParseError>(())
//! ```
//!
//! # Why a list type of our own
//!
//! OpenTelemetry's [`TraceState`] is what a `SpanContext` carries, and [`to_trace_state`]
//! converts to it. But its key check is neither Level 1 nor Level 2 (it rejects the Level 2 keys
//! `foo@@bar` and `t@vvvvvvvvvvvvvvv`, and accepts the Level 1-invalid `foo@`), its parser
//! does not trim OWS or limit members, and it can only be built through that check. So the wire
//! format is parsed and mutated here, and the propagators keep the exact list next to the
//! `SpanContext` when OpenTelemetry could not hold all of it, so a pass-through never loses a
//! valid member.
//!
//! [`to_trace_state`]: TraceStateList::to_trace_state

use std::fmt;

use opentelemetry::trace::TraceState;

use crate::error::{Header, ParseError, ParseErrorKind};
use crate::header::trim_ows;

/// The most list members a `tracestate` may hold.
pub const MAX_MEMBERS: usize = 32;

/// The most bytes read across all `tracestate` fields of one request. The longest valid list
/// is 16,447 bytes (32 members of 513 bytes and 31 commas); this leaves room for whitespace
/// and empty members and stops hostile input early.
pub const MAX_INPUT_LEN: usize = 32 * 1024;

/// The least a size cap may be set to: the W3C asks vendors to propagate at least 512
/// characters of a combined header.
pub const MIN_PROPAGATED_LEN: usize = 512;

/// Entries longer than this are removed first when truncating (W3C, "Limits").
pub const LARGE_ENTRY_LEN: usize = 128;

const fn err(kind: ParseErrorKind) -> ParseError {
    ParseError::new(Header::Tracestate, kind)
}

/// Which `tracestate` key grammar to enforce.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyGrammar {
    /// Level 2 (the default): `(lcalpha / DIGIT) 0*255(keychar)`, where keychar adds
    /// `_ - * / @`; any number of `@`. Every Level 1 key is also a Level 2 key.
    #[default]
    Level2,
    /// Level 1: a simple key (`lcalpha` first, up to 256) or exactly one `@` splitting a tenant
    /// id (up to 241) from a system id (`lcalpha` first, up to 14).
    Level1,
}

impl KeyGrammar {
    /// True if `key` is valid under this grammar.
    ///
    /// ```
    /// use tower_telemetry_propagation::tracestate::KeyGrammar;
    /// assert!(KeyGrammar::Level2.is_valid_key("foo@@bar"));
    /// assert!(!KeyGrammar::Level1.is_valid_key("foo@@bar"));
    /// assert!(!KeyGrammar::Level2.is_valid_key("Foo"));
    /// ```
    pub fn is_valid_key(self, key: impl AsRef<[u8]>) -> bool {
        let key = key.as_ref();
        match self {
            KeyGrammar::Level2 => valid_key_l2(key),
            KeyGrammar::Level1 => valid_key_l1(key),
        }
    }
}

#[inline]
fn lc_or_digit(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

#[inline]
fn keychar_l1(b: u8) -> bool {
    lc_or_digit(b) || matches!(b, b'_' | b'-' | b'*' | b'/')
}

fn valid_key_l2(key: &[u8]) -> bool {
    match key {
        [first, rest @ ..] if key.len() <= 256 => {
            lc_or_digit(*first) && rest.iter().all(|&b| keychar_l1(b) || b == b'@')
        }
        _ => false,
    }
}

fn valid_key_l1(key: &[u8]) -> bool {
    let all_keychars = |s: &[u8]| s.iter().all(|&b| keychar_l1(b));
    match key.iter().position(|&b| b == b'@') {
        None => match key {
            [first, rest @ ..] => {
                key.len() <= 256 && first.is_ascii_lowercase() && all_keychars(rest)
            }
            [] => false,
        },
        Some(at) => {
            let (tenant, system) = (&key[..at], &key[at + 1..]);
            let tenant_ok = matches!(tenant, [f, rest @ ..] if tenant.len() <= 241 && lc_or_digit(*f) && all_keychars(rest));
            let system_ok = matches!(system, [f, rest @ ..] if system.len() <= 14 && f.is_ascii_lowercase() && all_keychars(rest));
            tenant_ok && system_ok
        }
    }
}

/// True if `value` is a valid `tracestate` value: 1 to 256 printable ASCII characters other
/// than `,` and `=`, not ending in a space.
///
/// ```
/// use tower_telemetry_propagation::tracestate::is_valid_value;
/// assert!(is_valid_value(" leading space kept"));
/// assert!(!is_valid_value("trailing "));
/// assert!(!is_valid_value(""));
/// assert!(!is_valid_value("a=b"));
/// ```
pub fn is_valid_value(value: impl AsRef<[u8]>) -> bool {
    let v = value.as_ref();
    !v.is_empty()
        && v.len() <= 256
        && v.last() != Some(&b' ')
        && v.iter()
            .all(|&b| (0x20..=0x7e).contains(&b) && b != b',' && b != b'=')
}

/// A validated `tracestate` list: at most 32 `key=value` members, no duplicate keys, kept in
/// its canonical header form (`k1=v1,k2=v2`: no whitespace, no empty members).
///
/// See the [module docs](self) for why this exists next to OpenTelemetry's [`TraceState`].
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct TraceStateList {
    header: String,
    len: u8,
}

/// The validated members of one request's `tracestate` fields, borrowed from the headers:
/// validation allocates nothing, and the caller builds whichever representation it needs.
pub(crate) struct Members<'a> {
    items: [(&'a str, &'a str); MAX_MEMBERS],
    unique: usize,
    seen: usize,
    read: usize,
    grammar: KeyGrammar,
}

impl<'a> Members<'a> {
    pub(crate) fn new(grammar: KeyGrammar) -> Self {
        Members {
            items: [("", ""); MAX_MEMBERS],
            unique: 0,
            seen: 0,
            read: 0,
            grammar,
        }
    }

    /// Validates one field and adds its members.
    pub(crate) fn field(&mut self, field: &'a [u8]) -> Result<(), ParseError> {
        self.read += field.len() + 1;
        if self.read > MAX_INPUT_LEN {
            return Err(err(ParseErrorKind::TooLong));
        }
        for member in field.split(|&b| b == b',') {
            let member = trim_ows(member);
            if member.is_empty() {
                continue;
            }
            self.seen += 1;
            if self.seen > MAX_MEMBERS {
                return Err(err(ParseErrorKind::TooManyMembers));
            }
            let eq = member
                .iter()
                .position(|&b| b == b'=')
                .ok_or(err(ParseErrorKind::Member))?;
            let (key, value) = (&member[..eq], &member[eq + 1..]);
            if !self.grammar.is_valid_key(key) {
                return Err(err(ParseErrorKind::Key));
            }
            if !is_valid_value(value) {
                return Err(err(ParseErrorKind::Value));
            }
            // Validated as ASCII above, so these conversions cannot fail.
            let (Ok(key), Ok(value)) = (std::str::from_utf8(key), std::str::from_utf8(value))
            else {
                return Err(err(ParseErrorKind::Value));
            };
            // Level 2 allows discarding duplicate keys; keep the left-most (the most recent).
            if self.as_slice().iter().any(|(k, _)| *k == key) {
                continue;
            }
            self.items[self.unique] = (key, value);
            self.unique += 1;
        }
        Ok(())
    }

    /// Validates every `tracestate` field of a carrier; `Ok(None)` when there is none.
    ///
    /// The member table (1 KiB on the stack) is only set up once a field is seen, so a
    /// request without `tracestate` pays nothing for it.
    pub(crate) fn from_carrier<C: crate::header::Carrier + ?Sized>(
        carrier: &'a C,
        grammar: KeyGrammar,
    ) -> Result<Option<Self>, ParseError> {
        let mut members: Option<Members<'a>> = None;
        let mut result = Ok(());
        carrier.for_each_value(&crate::header::TRACESTATE, &mut |field| {
            result = members
                .get_or_insert_with(|| Members::new(grammar))
                .field(field);
            result.is_ok()
        });
        result.map(|()| members)
    }

    pub(crate) fn as_slice(&self) -> &[(&'a str, &'a str)] {
        &self.items[..self.unique]
    }

    /// The canonical list, in one allocation of the exact size.
    pub(crate) fn to_list(&self) -> TraceStateList {
        TraceStateList::from_members(self.as_slice())
    }
}

/// Iterates the members of a canonical list.
fn members(header: &str) -> impl Iterator<Item = (&str, &str)> {
    header.split(',').filter_map(|m| m.split_once('='))
}

/// The byte range of the member with `key` in a canonical list.
fn find(header: &str, key: &str) -> Option<std::ops::Range<usize>> {
    let mut start = 0;
    for member in header.split(',') {
        let end = start + member.len();
        if member.split_once('=').is_some_and(|(k, _)| k == key) {
            return Some(start..end);
        }
        start = end + 1;
    }
    None
}

/// Removes `range` (one member) and its separating comma from a canonical list.
fn remove_range(header: &mut String, range: std::ops::Range<usize>) {
    let (start, end) = if range.end < header.len() {
        (range.start, range.end + 1) // the comma after
    } else if range.start > 0 {
        (range.start - 1, range.end) // the comma before (last member)
    } else {
        (range.start, range.end) // the only member
    };
    header.replace_range(start..end, "");
}

impl TraceStateList {
    /// An empty list.
    pub const fn new() -> Self {
        TraceStateList {
            header: String::new(),
            len: 0,
        }
    }

    /// Parses one `tracestate` field.
    ///
    /// # Errors
    ///
    /// Any invalid member, more than 32 members or more than [`MAX_INPUT_LEN`] bytes reject
    /// the whole value, as the W3C requires.
    pub fn parse(value: impl AsRef<[u8]>, grammar: KeyGrammar) -> Result<Self, ParseError> {
        Self::parse_fields([value.as_ref()], grammar)
    }

    /// Parses several `tracestate` fields as one list, in order (RFC 9110 §5.3 combination).
    ///
    /// Empty fields and empty members are skipped; whitespace around members is trimmed and
    /// leading spaces inside a value are kept. When a key repeats, the left-most entry is kept.
    ///
    /// # Errors
    ///
    /// As [`parse`](Self::parse), counted over all fields together.
    pub fn parse_fields<'a, I>(fields: I, grammar: KeyGrammar) -> Result<Self, ParseError>
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        let mut members = Members::new(grammar);
        for field in fields {
            members.field(field)?;
        }
        Ok(members.to_list())
    }

    /// Builds the canonical list from valid, unique members (at most 32) in one allocation.
    fn from_members(members: &[(&str, &str)]) -> Self {
        let len: usize = members.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
        let mut header = String::with_capacity(len.saturating_sub(1));
        for (k, v) in members {
            if !header.is_empty() {
                header.push(',');
            }
            header.push_str(k);
            header.push('=');
            header.push_str(v);
        }
        TraceStateList {
            header,
            len: members.len() as u8,
        }
    }

    /// The list in its canonical header form; empty when the list is.
    pub fn as_str(&self) -> &str {
        &self.header
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// True when there are no members (such a list is never sent).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The members, left to right.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        members(&self.header)
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.iter().find_map(|(k, v)| (k == key).then_some(v))
    }

    /// Adds or updates `key` at the left, as the W3C mutation rules require: an existing entry
    /// for `key` is removed first (a key is never duplicated), and if the list would exceed 32
    /// members the right-most member is dropped.
    ///
    /// # Errors
    ///
    /// When `key` is not a Level 2 key or `value` is not a valid value; the list is unchanged.
    pub fn insert(&mut self, key: &str, value: &str) -> Result<(), ParseError> {
        if !KeyGrammar::Level2.is_valid_key(key) {
            return Err(err(ParseErrorKind::Key));
        }
        if !is_valid_value(value) {
            return Err(err(ParseErrorKind::Value));
        }
        self.remove(key);
        if self.len() == MAX_MEMBERS {
            self.pop_last();
        }
        let mut header = String::with_capacity(key.len() + value.len() + 2 + self.header.len());
        header.push_str(key);
        header.push('=');
        header.push_str(value);
        if !self.header.is_empty() {
            header.push(',');
            header.push_str(&self.header);
        }
        self.header = header;
        self.len += 1;
        Ok(())
    }

    /// Removes `key`; returns whether it was present.
    pub fn remove(&mut self, key: &str) -> bool {
        match find(&self.header, key) {
            Some(range) => {
                remove_range(&mut self.header, range);
                self.len -= 1;
                true
            }
            None => false,
        }
    }

    fn pop_last(&mut self) {
        if self.len > 0 {
            let range = self.header.rfind(',').map_or(0, |i| i + 1)..self.header.len();
            remove_range(&mut self.header, range);
            self.len -= 1;
        }
    }

    /// Removes whole entries until the header is at most `max_len` bytes, as the W3C says:
    /// entries longer than 128 characters first (right-most first), then from the right.
    /// Never cuts an entry in part. Returns the number of entries removed.
    ///
    /// The W3C asks vendors to propagate at least [`MIN_PROPAGATED_LEN`] characters; this
    /// method does what it is told, the propagators never go below that.
    ///
    /// ```
    /// use tower_telemetry_propagation::tracestate::{KeyGrammar, TraceStateList};
    /// let big = "v".repeat(200);
    /// let mut list = TraceStateList::parse(format!("a=1,big={big},b=2,c=3"), KeyGrammar::Level2)?;
    /// assert_eq!(list.truncate(10), 2);
    /// assert_eq!(list.as_str(), "a=1,b=2");
    /// # Ok::<(), tower_telemetry_propagation::ParseError>(())
    /// ```
    pub fn truncate(&mut self, max_len: usize) -> usize {
        let mut removed = 0;
        while self.header.len() > max_len {
            let large = self
                .iter()
                .filter(|(k, v)| k.len() + 1 + v.len() > LARGE_ENTRY_LEN)
                .map(|(k, _)| k)
                .last()
                .map(str::to_owned);
            match large {
                Some(key) => {
                    self.remove(&key);
                }
                None => self.pop_last(),
            }
            removed += 1;
        }
        removed
    }

    /// Converts to OpenTelemetry's [`TraceState`], the type a `SpanContext` carries.
    ///
    /// Lossy in one rare case: members whose key OpenTelemetry's own check rejects (Level 2
    /// keys with several `@`, or more than 14 characters after the `@`) are left out. The
    /// propagators keep the exact list alongside, so passing a trace through loses nothing.
    pub fn to_trace_state(&self) -> TraceState {
        self.to_trace_state_checked().0
    }

    /// [`to_trace_state`](Self::to_trace_state), and whether it kept every member.
    pub(crate) fn to_trace_state_checked(&self) -> (TraceState, bool) {
        if self.is_empty() {
            return (TraceState::NONE, true);
        }
        if let Ok(ts) = TraceState::from_key_value(self.iter()) {
            return (ts, true);
        }
        // Rare: OpenTelemetry rejects some member. Its error type is not exported, so find the
        // members it accepts one by one.
        let accepted = self
            .iter()
            .filter(|&member| TraceState::from_key_value([member]).is_ok());
        (
            TraceState::from_key_value(accepted).unwrap_or_default(),
            false,
        )
    }

    /// Builds a list from OpenTelemetry's [`TraceState`] (for example one a sampler changed),
    /// keeping only the members that are valid on the wire and the first 32, without
    /// duplicates. OpenTelemetry accepts values the W3C forbids (empty, control characters,
    /// trailing spaces); those members are dropped rather than sent.
    pub fn from_trace_state(trace_state: &TraceState) -> Self {
        let mut kept: [(&str, &str); MAX_MEMBERS] = [("", ""); MAX_MEMBERS];
        let mut len = 0;
        for (key, value) in trace_state {
            if len == MAX_MEMBERS {
                break;
            }
            let valid = KeyGrammar::Level2.is_valid_key(key) && is_valid_value(value);
            if valid && !kept[..len].iter().any(|(k, _)| *k == key) {
                kept[len] = (key, value);
                len += 1;
            }
        }
        TraceStateList::from_members(&kept[..len])
    }

    /// Consumes the list, returning its canonical header string.
    pub fn into_string(self) -> String {
        self.header
    }
}

impl fmt::Display for TraceStateList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.header)
    }
}

impl fmt::Debug for TraceStateList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TraceStateList").field(&self.header).finish()
    }
}

impl From<&TraceState> for TraceStateList {
    fn from(trace_state: &TraceState) -> Self {
        TraceStateList::from_trace_state(trace_state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remove_keeps_canonical_form() {
        let mut l = TraceStateList::parse("a=1,b=2,c=3", KeyGrammar::Level2).unwrap();
        assert!(l.remove("b"));
        assert_eq!(l.as_str(), "a=1,c=3");
        assert!(l.remove("c"));
        assert_eq!(l.as_str(), "a=1");
        assert!(!l.remove("zz"));
        assert!(l.remove("a"));
        assert_eq!((l.as_str(), l.len()), ("", 0));
    }

    #[test]
    fn otel_projection_reports_loss() {
        let l = TraceStateList::parse("a=1,foo@@bar=2,b=3", KeyGrammar::Level2).unwrap();
        let (ts, lossless) = l.to_trace_state_checked();
        assert!(!lossless);
        assert_eq!(ts.header(), "a=1,b=3");
        let l = TraceStateList::parse("a=1,b=3", KeyGrammar::Level2).unwrap();
        assert!(l.to_trace_state_checked().1);
    }
}
