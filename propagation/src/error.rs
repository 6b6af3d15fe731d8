//! The error returned by the codecs when a header value is rejected.

use std::fmt;

/// Why a header value was rejected by one of the codecs.
///
/// The propagators ([`crate::TraceContextPropagator`] and friends) never surface this error:
/// per the OpenTelemetry contract and the W3C processing model they ignore a bad header and a
/// fresh trace starts. Call the codecs directly ([`crate::traceparent::parse`],
/// [`crate::tracestate::TraceStateList::parse`], [`crate::cloud_trace::parse`],
/// [`crate::baggage::parse`], [`crate::grpc_trace_bin::parse`]) to learn what was wrong, e.g.
/// for logging or a debug endpoint.
///
/// ```
/// use tower_telemetry_propagation::{traceparent, Header, ParseErrorKind};
///
/// let err = traceparent::parse(b"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01")
///     .unwrap_err();
/// assert_eq!(err.header(), Header::Traceparent);
/// assert_eq!(err.kind(), ParseErrorKind::TraceId);
/// assert_eq!(err.to_string(), "invalid traceparent: trace-id is not 32 lowercase hex digits");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseError {
    header: Header,
    kind: ParseErrorKind,
}

/// The header a [`ParseError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Header {
    /// W3C `traceparent`.
    Traceparent,
    /// W3C `tracestate`.
    Tracestate,
    /// W3C `baggage`.
    Baggage,
    /// Google Cloud Trace `X-Cloud-Trace-Context`.
    CloudTrace,
    /// OpenCensus binary trace context in gRPC's `grpc-trace-bin` metadata.
    GrpcTraceBin,
}

impl Header {
    /// The header's name, lowercase, as sent on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Header::Traceparent => "traceparent",
            Header::Tracestate => "tracestate",
            Header::Baggage => "baggage",
            Header::CloudTrace => "x-cloud-trace-context",
            Header::GrpcTraceBin => "grpc-trace-bin",
        }
    }
}

impl fmt::Display for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What was wrong with a header value. See [`ParseError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The header is absent.
    Missing,
    /// The header appears in more than one field where only one is allowed
    /// (two `traceparent` fields make the trace context invalid; for `grpc-trace-bin`, two
    /// values, whether in two fields or joined with `,` in one).
    MultipleFields,
    /// The value is longer than the codec accepts.
    TooLong,
    /// The version is not two lowercase hex digits followed by `-` (for `grpc-trace-bin`: the
    /// version byte is not 0).
    Version,
    /// The version is `ff`, which the W3C forbids.
    ForbiddenVersion,
    /// The trace id is not 32 hex digits (lowercase for W3C); for `grpc-trace-bin`, the trace
    /// id field (id 0, 16 bytes) is not the first field or is truncated.
    TraceId,
    /// The trace id is all zeros.
    ZeroTraceId,
    /// The span (parent) id is malformed: not 16 lowercase hex digits for W3C, not a decimal
    /// `u64` for Cloud Trace, for `grpc-trace-bin` a span id field (id 1, 8 bytes) that does
    /// not follow the trace id or is truncated.
    SpanId,
    /// The span (parent) id is zero.
    ZeroSpanId,
    /// The trace flags are not two lowercase hex digits, the Cloud Trace options are not
    /// `;o=` followed by decimal digits, or the `grpc-trace-bin` trace options field (id 2)
    /// has no value byte.
    Flags,
    /// Unexpected characters follow the last field (for `grpc-trace-bin`: a known field id
    /// where only an unknown one may follow).
    TrailingData,
    /// A list member is not `key=value`.
    Member,
    /// A key breaks the key grammar.
    Key,
    /// A value breaks the value grammar (empty, too long, or a forbidden character).
    Value,
    /// More list members than the format allows (32 for `tracestate`).
    TooManyMembers,
    /// The value is not validly encoded for its header: for `grpc-trace-bin`, not standard
    /// base64 (RFC 4648 §4), padded or not, as gRPC binary metadata requires.
    Encoding,
}

impl ParseErrorKind {
    fn describe(self, header: Header) -> &'static str {
        use ParseErrorKind::*;
        match (self, header) {
            (Missing, _) => "header is missing",
            (MultipleFields, _) => "header appears in more than one field",
            (TooLong, _) => "value is too long",
            (Version, Header::GrpcTraceBin) => "version is not 0",
            (Version, _) => "version is not 2 lowercase hex digits followed by '-'",
            (ForbiddenVersion, _) => "version ff is forbidden",
            (TraceId, Header::CloudTrace) => "trace id is not 32 hex digits",
            (TraceId, Header::GrpcTraceBin) => {
                "trace id field (id 0, 16 bytes) is not first or is truncated"
            }
            (TraceId, _) => "trace-id is not 32 lowercase hex digits",
            (ZeroTraceId, _) => "trace id is all zeros",
            (SpanId, Header::CloudTrace) => "span id is not a decimal 64-bit unsigned integer",
            (SpanId, Header::GrpcTraceBin) => {
                "span id field (id 1, 8 bytes) does not follow the trace id or is truncated"
            }
            (SpanId, _) => "parent-id is not 16 lowercase hex digits",
            (ZeroSpanId, _) => "span id is zero",
            (Flags, Header::CloudTrace) => "options are not ';o=' followed by decimal digits",
            (Flags, Header::GrpcTraceBin) => "trace options field (id 2) is truncated",
            (Flags, _) => "trace-flags are not 2 lowercase hex digits",
            (TrailingData, Header::GrpcTraceBin) => "a known field id is repeated or out of order",
            (TrailingData, _) => "unexpected data after the last field",
            (Member, _) => "list member is not key=value",
            (Key, _) => "key breaks the key grammar",
            (Value, _) => "value is empty, too long or has a forbidden character",
            (TooManyMembers, _) => "too many list members",
            (Encoding, _) => "value is not valid base64",
        }
    }
}

impl ParseError {
    pub(crate) const fn new(header: Header, kind: ParseErrorKind) -> Self {
        ParseError { header, kind }
    }

    /// The header the value was read from.
    pub const fn header(&self) -> Header {
        self.header
    }

    /// What was wrong.
    pub const fn kind(&self) -> ParseErrorKind {
        self.kind
    }

    /// True when the header was simply absent (not malformed).
    pub const fn is_missing(&self) -> bool {
        matches!(self.kind, ParseErrorKind::Missing)
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid {}: {}",
            self.header,
            self.kind.describe(self.header)
        )
    }
}

impl std::error::Error for ParseError {}
