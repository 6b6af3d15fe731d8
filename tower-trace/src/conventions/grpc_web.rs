//! gRPC-Web: which calls are gRPC-Web, and where their status is.
//!
//! gRPC-Web ("gRPC Web", `grpc/grpc:doc/PROTOCOL-WEB.md`) is gRPC for clients that cannot
//! read HTTP trailers (browsers, HTTP/1.1 proxies). Its content types are
//! `application/grpc-web[+proto]` and, base64 encoded, `application/grpc-web-text[+proto]`.
//! A call's status comes either in the response head (a Trailers-Only answer) or in a
//! **trailer frame inside the body**: the body is a sequence of length-prefixed frames (one
//! flag byte, a 32-bit big-endian length, the payload), and a frame whose flag has the most
//! significant bit set (`0x80`) holds the trailers as HTTP/1.1 header lines
//! (`grpc-status: 13\r\ngrpc-message: …\r\n`). In `-text` the bytes are base64 encoded, and a
//! server may encode each frame on its own, so a body can hold several padded base64 chunks.
//!
//! The lifecycle's response body reads those frames as the bytes go by: a bounded state machine that
//! skips messages without keeping them and collects only a trailer frame's payload, up to
//! [`MAX_TRAILER_FRAME`] bytes. It never changes the bytes, and any input, however chunked,
//! gives the same answer.

use http::{HeaderMap, HeaderName, HeaderValue};

/// How a gRPC-Web call's body is encoded, from its `content-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GrpcWeb {
    /// `application/grpc-web`, `application/grpc-web+proto`, …: frames as bytes.
    Binary,
    /// `application/grpc-web-text`, `application/grpc-web-text+proto`, …: frames in base64.
    Text,
}

/// The largest trailer frame payload read; a longer one is judged as a call without a
/// status (real trailers are a status, a message and a few metadata lines).
pub const MAX_TRAILER_FRAME: usize = 8 * 1024;

/// The flag bit of a trailer frame.
const TRAILER_FLAG: u8 = 0x80;
/// The flag bit of a compressed frame: compressed trailers cannot be read.
const COMPRESSED_FLAG: u8 = 0x01;

/// The gRPC-Web encoding a `content-type` names, `None` when it is not gRPC-Web (media types
/// are case-insensitive, RFC 9110 §8.3.1).
pub(crate) fn encoding_in(headers: &HeaderMap) -> Option<GrpcWeb> {
    let value = headers.get(http::header::CONTENT_TYPE)?.as_bytes();
    let starts = |prefix: &[u8]| {
        value.len() >= prefix.len() && value[..prefix.len()].eq_ignore_ascii_case(prefix)
    };
    if starts(b"application/grpc-web-text") {
        Some(GrpcWeb::Text)
    } else if starts(b"application/grpc-web") {
        Some(GrpcWeb::Binary)
    } else {
        None
    }
}

/// Reads a gRPC-Web body's frames as its bytes go by and returns the trailers of its first
/// trailer frame. See the [module docs](self).
#[derive(Debug)]
pub(crate) struct TrailerScan {
    /// `-text`: the base64 characters of a group not yet complete.
    text: Option<Base64Group>,
    state: State,
}

#[derive(Debug)]
enum State {
    /// Reading a frame's 5-byte header.
    Header { got: usize, bytes: [u8; 5] },
    /// Skipping `left` bytes of a message.
    Message { left: u32 },
    /// Collecting the trailer frame's payload.
    Trailer { left: usize, payload: Vec<u8> },
    /// The trailers were read, or the body cannot be read as gRPC-Web (a trailer frame over
    /// the bound or compressed, invalid base64): nothing more to do.
    Over,
}

impl TrailerScan {
    /// A scan of a body encoded as `encoding` says.
    pub(crate) fn new(encoding: GrpcWeb) -> Self {
        TrailerScan {
            text: (encoding == GrpcWeb::Text).then(Base64Group::default),
            state: State::Header {
                got: 0,
                bytes: [0; 5],
            },
        }
    }

    /// Whether the scan is over: the trailers were returned, or the body is not readable.
    pub(crate) fn is_over(&self) -> bool {
        matches!(self.state, State::Over)
    }

    /// Ends the scan: the body cannot be read (the call is judged without a status).
    pub(crate) fn stop(&mut self) {
        self.state = State::Over;
    }

    /// Reads the next `bytes` of the body; returns the trailers when they are complete
    /// (once).
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Option<HeaderMap> {
        let Some(group) = &mut self.text else {
            return self.state.feed(bytes);
        };
        for &c in bytes {
            if self.state.is_over() {
                return None;
            }
            match group.push(c) {
                Decoded::More => {}
                Decoded::Bytes(decoded, n) => {
                    if let Some(trailers) = self.state.feed(&decoded[..n]) {
                        return Some(trailers);
                    }
                }
                Decoded::Invalid => self.state = State::Over,
            }
        }
        None
    }
}

impl State {
    fn is_over(&self) -> bool {
        matches!(self, State::Over)
    }

    fn feed(&mut self, mut bytes: &[u8]) -> Option<HeaderMap> {
        while !bytes.is_empty() {
            match self {
                State::Header { got, bytes: header } => {
                    let n = (5 - *got).min(bytes.len());
                    header[*got..*got + n].copy_from_slice(&bytes[..n]);
                    *got += n;
                    bytes = &bytes[n..];
                    if *got == 5 {
                        let flag = header[0];
                        let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
                        *self = State::after_header(flag, len);
                        if let State::Trailer { left: 0, .. } = self {
                            *self = State::Over;
                            return Some(HeaderMap::new());
                        }
                    }
                }
                State::Message { left } => {
                    let n = bytes.len().min(*left as usize);
                    bytes = &bytes[n..];
                    *left -= n as u32;
                    if *left == 0 {
                        *self = State::header();
                    }
                }
                State::Trailer { left, payload } => {
                    let n = bytes.len().min(*left);
                    payload.extend_from_slice(&bytes[..n]);
                    bytes = &bytes[n..];
                    *left -= n;
                    if *left == 0 {
                        let trailers = parse_trailers(payload);
                        *self = State::Over;
                        return Some(trailers);
                    }
                }
                State::Over => return None,
            }
        }
        None
    }

    fn header() -> State {
        State::Header {
            got: 0,
            bytes: [0; 5],
        }
    }

    fn after_header(flag: u8, len: u32) -> State {
        if flag & TRAILER_FLAG == 0 {
            return match len {
                0 => State::header(),
                left => State::Message { left },
            };
        }
        let len = len as usize;
        if flag & COMPRESSED_FLAG != 0 || len > MAX_TRAILER_FRAME {
            return State::Over;
        }
        State::Trailer {
            left: len,
            payload: Vec::with_capacity(len),
        }
    }
}

/// A trailer frame's payload as a header map: one `name: value` per line, lines ending in
/// CRLF (a bare LF is accepted too). A line that is not a valid header (no colon, a name or
/// value with bytes HTTP does not allow) is skipped; names are lower-cased, values trimmed.
pub(crate) fn parse_trailers(payload: &[u8]) -> HeaderMap {
    let mut trailers = HeaderMap::new();
    for line in payload.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = line[..colon].trim_ascii();
        let value = line[colon + 1..].trim_ascii();
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            trailers.append(name, value);
        }
    }
    trailers
}

/// The characters of one base64 group (RFC 4648 §4) collected so far.
///
/// Hand-written rather than the `base64` crate: a `-text` body may hold several padded
/// encodings back to back and split anywhere, so it is decoded one 4-character group at a
/// time as bytes arrive, with nothing buffered beyond the group; this is a lookup and three
/// shifts.
#[derive(Debug, Default)]
struct Base64Group {
    chars: [u8; 4],
    got: usize,
}

enum Decoded {
    More,
    Bytes([u8; 3], usize),
    Invalid,
}

impl Base64Group {
    fn push(&mut self, c: u8) -> Decoded {
        if c.is_ascii_whitespace() {
            return Decoded::More;
        }
        self.chars[self.got] = c;
        self.got += 1;
        if self.got < 4 {
            return Decoded::More;
        }
        self.got = 0;
        let [a, b, c, d] = self.chars;
        let value = |c: u8| match c {
            b'A'..=b'Z' => Some(c - b'A'),
            b'a'..=b'z' => Some(c - b'a' + 26),
            b'0'..=b'9' => Some(c - b'0' + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        };
        let (Some(a), Some(b)) = (value(a), value(b)) else {
            return Decoded::Invalid;
        };
        let first = (a << 2) | (b >> 4);
        match (c, d) {
            (b'=', b'=') => Decoded::Bytes([first, 0, 0], 1),
            (c, b'=') => match value(c) {
                Some(c) => Decoded::Bytes([first, (b << 4) | (c >> 2), 0], 2),
                None => Decoded::Invalid,
            },
            (c, d) => match (value(c), value(d)) {
                (Some(c), Some(d)) => Decoded::Bytes([first, (b << 4) | (c >> 2), (c << 6) | d], 3),
                _ => Decoded::Invalid,
            },
        }
    }
}

#[cfg(test)]
mod tests;
