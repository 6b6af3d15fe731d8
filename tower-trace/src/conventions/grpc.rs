//! gRPC status codes, where to find them, and how the conventions classify them.

use std::time::Duration;

use http::{HeaderMap, HeaderName};

/// `grpc-status`
pub(crate) const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
/// `grpc-timeout`
pub(crate) const GRPC_TIMEOUT: HeaderName = HeaderName::from_static("grpc-timeout");

/// A gRPC status code (`grpc/grpc:doc/statuscodes.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum Code {
    Ok = 0,
    Cancelled = 1,
    Unknown = 2,
    InvalidArgument = 3,
    DeadlineExceeded = 4,
    NotFound = 5,
    AlreadyExists = 6,
    PermissionDenied = 7,
    ResourceExhausted = 8,
    FailedPrecondition = 9,
    Aborted = 10,
    OutOfRange = 11,
    Unimplemented = 12,
    Internal = 13,
    Unavailable = 14,
    DataLoss = 15,
    Unauthenticated = 16,
}

const CODES: [Code; 17] = [
    Code::Ok,
    Code::Cancelled,
    Code::Unknown,
    Code::InvalidArgument,
    Code::DeadlineExceeded,
    Code::NotFound,
    Code::AlreadyExists,
    Code::PermissionDenied,
    Code::ResourceExhausted,
    Code::FailedPrecondition,
    Code::Aborted,
    Code::OutOfRange,
    Code::Unimplemented,
    Code::Internal,
    Code::Unavailable,
    Code::DataLoss,
    Code::Unauthenticated,
];

impl Code {
    /// The code for `value`; unknown values are `Unknown`, as gRPC says.
    pub fn from_i32(value: i32) -> Code {
        usize::try_from(value)
            .ok()
            .and_then(|i| CODES.get(i))
            .copied()
            .unwrap_or(Code::Unknown)
    }

    /// Parses a `grpc-status` value (decimal digits).
    pub fn from_header(value: &[u8]) -> Option<Code> {
        if value.is_empty() || value.len() > 3 || !value.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let n = value.iter().fold(0i32, |n, d| n * 10 + i32::from(d - b'0'));
        Some(Code::from_i32(n))
    }

    /// The numeric value (`rpc.grpc.status_code`).
    pub fn as_i32(self) -> i32 {
        self as i32
    }

    /// The name used by `rpc.status_code` and `error.type`, e.g. `"NOT_FOUND"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Ok => "OK",
            Code::Cancelled => "CANCELLED",
            Code::Unknown => "UNKNOWN",
            Code::InvalidArgument => "INVALID_ARGUMENT",
            Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Code::NotFound => "NOT_FOUND",
            Code::AlreadyExists => "ALREADY_EXISTS",
            Code::PermissionDenied => "PERMISSION_DENIED",
            Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Code::FailedPrecondition => "FAILED_PRECONDITION",
            Code::Aborted => "ABORTED",
            Code::OutOfRange => "OUT_OF_RANGE",
            Code::Unimplemented => "UNIMPLEMENTED",
            Code::Internal => "INTERNAL",
            Code::Unavailable => "UNAVAILABLE",
            Code::DataLoss => "DATA_LOSS",
            Code::Unauthenticated => "UNAUTHENTICATED",
        }
    }

    /// Whether a server span with this code is an error: only `UNKNOWN`, `DEADLINE_EXCEEDED`,
    /// `UNIMPLEMENTED`, `INTERNAL`, `UNAVAILABLE` and `DATA_LOSS` (the caller's mistakes are
    /// not the server's errors).
    pub fn is_server_error(self) -> bool {
        matches!(
            self,
            Code::Unknown
                | Code::DeadlineExceeded
                | Code::Unimplemented
                | Code::Internal
                | Code::Unavailable
                | Code::DataLoss
        )
    }

    /// Whether a client span with this code is an error: every code but `OK`.
    pub fn is_client_error(self) -> bool {
        self != Code::Ok
    }

    /// The code a client infers from the HTTP status when `grpc-status` is missing
    /// (`grpc/grpc:doc/http-grpc-status-mapping.md`; for clients only).
    pub fn from_http_status(status: u16) -> Code {
        match status {
            400 | 431 => Code::Internal,
            401 => Code::Unauthenticated,
            403 => Code::PermissionDenied,
            404 => Code::Unimplemented,
            429 | 502 | 503 | 504 => Code::Unavailable,
            _ => Code::Unknown,
        }
    }
}

/// The `grpc-status` in a header map (the response head of a Trailers-Only response, or the
/// trailers).
pub(crate) fn status_in(headers: &HeaderMap) -> Option<Code> {
    headers
        .get(GRPC_STATUS)
        .and_then(|v| Code::from_header(v.as_bytes()))
}

/// The call's `grpc-timeout`, if it has a valid one: at most 8 ASCII digits and a unit, `H`,
/// `M`, `S`, `m`, `u` or `n` ("gRPC over HTTP2", `grpc/grpc:doc/PROTOCOL-HTTP2.md`,
/// Requests: `Timeout → "grpc-timeout" TimeoutValue TimeoutUnit`). Anything else is no
/// timeout: a malformed value gives the call no deadline.
///
/// ```
/// use std::time::Duration;
/// use tower_telemetry_trace::conventions::grpc::timeout_in;
///
/// let mut headers = http::HeaderMap::new();
/// headers.insert("grpc-timeout", "250m".parse().unwrap());
/// assert_eq!(timeout_in(&headers), Some(Duration::from_millis(250)));
/// ```
pub fn timeout_in(headers: &HeaderMap) -> Option<Duration> {
    parse_timeout(headers.get(GRPC_TIMEOUT)?.as_bytes())
}

fn parse_timeout(value: &[u8]) -> Option<Duration> {
    let (&unit, digits) = value.split_last()?;
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = digits
        .iter()
        .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
    Some(match unit {
        b'H' => Duration::from_secs(n * 3600),
        b'M' => Duration::from_secs(n * 60),
        b'S' => Duration::from_secs(n),
        b'm' => Duration::from_millis(n),
        b'u' => Duration::from_micros(n),
        b'n' => Duration::from_nanos(n),
        _ => return None,
    })
}

/// True if `content-type` says gRPC (`application/grpc`, `application/grpc+proto`, …).
pub(crate) fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}

/// Splits a gRPC path `/pkg.Service/Method` into (`pkg.Service/Method`, `pkg.Service`,
/// `Method`); `None` if it is not of that shape.
pub(crate) fn split_path(path: &str) -> Option<(&str, &str, &str)> {
    let full = path.strip_prefix('/')?;
    let (service, method) = full.split_once('/')?;
    if service.is_empty() || method.is_empty() || method.contains('/') {
        return None;
    }
    Some((full, service, method))
}

/// The method as called, for `rpc.method_original`: the path without its leading `/`.
pub(crate) fn method_as_called(path: &str) -> &str {
    path.strip_prefix('/').unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_names() {
        assert_eq!(Code::from_header(b"0"), Some(Code::Ok));
        assert_eq!(Code::from_header(b"5"), Some(Code::NotFound));
        assert_eq!(Code::from_header(b"16"), Some(Code::Unauthenticated));
        assert_eq!(Code::from_header(b"99"), Some(Code::Unknown));
        assert_eq!(Code::from_header(b""), None);
        assert_eq!(Code::from_header(b"x"), None);
        assert_eq!(Code::DeadlineExceeded.as_str(), "DEADLINE_EXCEEDED");
        for (i, code) in CODES.iter().enumerate() {
            assert_eq!(code.as_i32(), i as i32);
        }
    }

    #[test]
    fn http_fallback_table() {
        for (status, code) in [
            (400, Code::Internal),
            (401, Code::Unauthenticated),
            (403, Code::PermissionDenied),
            (404, Code::Unimplemented),
            (429, Code::Unavailable),
            (431, Code::Internal),
            (502, Code::Unavailable),
            (503, Code::Unavailable),
            (504, Code::Unavailable),
            (200, Code::Unknown),
            (500, Code::Unknown),
        ] {
            assert_eq!(Code::from_http_status(status), code, "{status}");
        }
    }

    #[rustfmt::skip]
    #[test]
    fn timeouts() {
        for (value, expected, why) in [
            ("1H", Some(Duration::from_secs(3600)), "hours"),
            ("2M", Some(Duration::from_secs(120)), "minutes"),
            ("3S", Some(Duration::from_secs(3)), "seconds"),
            ("250m", Some(Duration::from_millis(250)), "milliseconds"),
            ("99999999u", Some(Duration::from_micros(99_999_999)), "8 digits, microseconds"),
            ("7n", Some(Duration::from_nanos(7)), "nanoseconds"),
            ("0m", Some(Duration::ZERO), "zero: already past"),
            ("100000000m", None, "9 digits"),
            ("100", None, "no unit"),
            ("m", None, "no value"),
            ("", None, "empty"),
            ("10s", None, "units are case-sensitive"),
            ("1.5S", None, "not an integer"),
            ("-1S", None, "not positive"),
            (" 1S", None, "no spaces"),
        ] {
            assert_eq!(parse_timeout(value.as_bytes()), expected, "{value:?}: {why}");
        }
    }

    #[test]
    fn paths() {
        assert_eq!(
            split_path("/grpc.test.Echo/Say"),
            Some(("grpc.test.Echo/Say", "grpc.test.Echo", "Say"))
        );
        assert_eq!(split_path("grpc.test.Echo/Say"), None);
        assert_eq!(split_path("/a/b/c"), None);
        assert_eq!(split_path("/a/"), None);
    }
}
