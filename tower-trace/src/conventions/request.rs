//! Request and response facts as the conventions define them: the method, the protocol
//! version, the scheme, and the one `host[:port]` parser behind `server.address` and
//! `server.port` for servers and clients alike.

use http::{HeaderName, Method, Version};

use super::attributes::OTHER;
use crate::view::RequestInfo;

/// `x-forwarded-proto` (parsed once, not per request).
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
/// `x-forwarded-host`.
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
/// `x-forwarded-for`.
pub(crate) const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The `http.request.method` value and whether it is a known method. Methods are
/// case-sensitive: `get` is `_OTHER`. QUERY is known (semconv 1.38).
#[inline]
pub(crate) fn method(method: &Method) -> (&'static str, bool) {
    let known = match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ if method.as_str() == "QUERY" => "QUERY",
        _ => return (OTHER, false),
    };
    (known, true)
}

/// `network.protocol.version`.
#[inline]
pub(crate) fn protocol_version(version: Version) -> Option<&'static str> {
    match version {
        Version::HTTP_09 => Some("0.9"),
        Version::HTTP_10 => Some("1.0"),
        Version::HTTP_11 => Some("1.1"),
        Version::HTTP_2 => Some("2"),
        Version::HTTP_3 => Some("3"),
        _ => None,
    }
}

/// A status code as a static `error.type` string, for 4xx and 5xx codes (no allocation).
pub(crate) fn status_code_str(code: u16) -> &'static str {
    const CODES: [&str; 200] = {
        // "400".."599" as static strings, built at compile time.
        let mut out = [""; 200];
        let mut i = 0;
        while i < 200 {
            let (_, rest) = STATUS_TEXT.as_bytes().split_at(i * 3);
            let (code, _) = rest.split_at(3);
            out[i] = match std::str::from_utf8(code) {
                Ok(code) => code,
                Err(_) => "",
            };
            i += 1;
        }
        out
    };
    match code {
        400..=599 => CODES[usize::from(code - 400)],
        _ => OTHER,
    }
}

const STATUS_TEXT: &str = concat!(
    "400401402403404405406407408409410411412413414415416417418419",
    "420421422423424425426427428429430431432433434435436437438439",
    "440441442443444445446447448449450451452453454455456457458459",
    "460461462463464465466467468469470471472473474475476477478479",
    "480481482483484485486487488489490491492493494495496497498499",
    "500501502503504505506507508509510511512513514515516517518519",
    "520521522523524525526527528529530531532533534535536537538539",
    "540541542543544545546547548549550551552553554555556557558559",
    "560561562563564565566567568569570571572573574575576577578579",
    "580581582583584585586587588589590591592593594595596597598599",
);

/// `url.scheme`: the URI's, else `Forwarded: proto=` / `X-Forwarded-Proto` (only `http` or
/// `https`: a header must not set an arbitrary value), else the configured default.
pub(crate) fn url_scheme(request: &RequestInfo<'_>, default: &'static str) -> &'static str {
    let known = |s: &[u8]| {
        if s.eq_ignore_ascii_case(b"https") {
            Some("https")
        } else if s.eq_ignore_ascii_case(b"http") {
            Some("http")
        } else {
            None
        }
    };
    if let Some(s) = request.uri().scheme_str().and_then(|s| known(s.as_bytes())) {
        return s;
    }
    let headers = request.headers();
    let forwarded = headers.get(http::header::FORWARDED).and_then(|v| {
        v.as_bytes()
            .split(|&b| b == b';' || b == b',')
            .filter_map(|p| p.strip_prefix(b" ").or(Some(p)))
            .find_map(|p| {
                p.strip_prefix(b"proto=")
                    .or_else(|| p.strip_prefix(b"PROTO="))
            })
            .and_then(known)
    });
    forwarded
        .or_else(|| {
            headers
                .get(X_FORWARDED_PROTO)
                .and_then(|v| known(v.as_bytes()))
        })
        .unwrap_or(default)
}

/// The authority a server was addressed by: `X-Forwarded-Host` > the URI's authority (HTTP/2
/// `:authority`) > `Host` (the HTTP server span conventions, `server.address`).
pub(crate) fn server_authority<'a>(request: &RequestInfo<'a>) -> Option<&'a str> {
    let header = |name: &HeaderName| request.headers().get(name).and_then(|v| v.to_str().ok());
    // Proxies may append: `X-Forwarded-Host: a, b` names the first host the client used.
    header(&X_FORWARDED_HOST)
        .map(|v| v.split(',').next().unwrap_or_default().trim())
        .or_else(|| request.uri().authority().map(http::uri::Authority::as_str))
        .or_else(|| header(&http::header::HOST))
}

/// The authority a client calls: the URI's, else the configured one (a tonic client below its
/// channel sends path-only URIs).
pub(crate) fn client_authority<'a>(
    request: &RequestInfo<'a>,
    configured: Option<&'a str>,
) -> Option<&'a str> {
    request
        .uri()
        .authority()
        .map(http::uri::Authority::as_str)
        .or(configured)
}

/// `host` and `port` of an authority, the one parser for servers and clients: the first entry
/// of a list (`X-Forwarded-Host: a, b`), without user info (`user:pw@`), `[v6]:port`
/// unbracketed; the port defaults from `scheme` (80, 443) when given.
///
/// Written over bytes rather than with `str::split`/`rsplit_once`/`parse`: on every request
/// (the server's `Host`, the client's URI) the `Pattern` machinery cost about 570
/// instructions under callgrind for a plain `api.example.com`; these scans cost a tenth.
pub(crate) fn host_port<'a>(
    authority: &'a str,
    scheme: Option<&str>,
) -> (Option<&'a str>, Option<u16>) {
    let bytes = authority.as_bytes();
    // The common case, `host` or `host:port` (a `Host` header, a client's URI): one scan.
    let mut colon = None;
    let mut plain = true;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b':' if colon.is_none() => colon = Some(i),
            b':' | b',' | b'@' | b'[' | b' ' | b'\t'..=b'\r' => {
                plain = false;
                break;
            }
            _ => {}
        }
    }
    if plain {
        let (host, port) = match colon {
            Some(colon) => (&authority[..colon], parse_port(&authority[colon + 1..])),
            None => (authority, None),
        };
        return finish(host, port, scheme);
    }
    let end = bytes.iter().position(|&b| b == b',').unwrap_or(bytes.len());
    let value = authority[..end].trim();
    // Splitting at ASCII bytes keeps `value` on char boundaries.
    let value = match value.bytes().rposition(|b| b == b'@') {
        Some(at) => &value[at + 1..],
        None => value,
    };
    let (host, port) = match value.strip_prefix('[') {
        Some(rest) => match rest.bytes().position(|b| b == b']') {
            Some(close) => (
                &rest[..close],
                rest[close + 1..].strip_prefix(':').and_then(parse_port),
            ),
            None => (value, None),
        },
        None => match value.bytes().rposition(|b| b == b':') {
            // One colon: `host:port`; more is an unbracketed IPv6 address, not split.
            Some(colon) if !value.as_bytes()[..colon].contains(&b':') => {
                (&value[..colon], parse_port(&value[colon + 1..]))
            }
            _ => (value, None),
        },
    };
    finish(host, port, scheme)
}

/// `host` (none when empty) and the port, defaulted from the scheme.
fn finish<'a>(
    host: &'a str,
    port: Option<u16>,
    scheme: Option<&str>,
) -> (Option<&'a str>, Option<u16>) {
    if host.is_empty() {
        return (None, None);
    }
    let port = port.or(match scheme {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    });
    (Some(host), port)
}

/// A port: ASCII digits, at most 65535 (RFC 3986 `port = *DIGIT`; no sign).
fn parse_port(digits: &str) -> Option<u16> {
    if digits.is_empty() {
        return None;
    }
    let mut port: u16 = 0;
    for b in digits.bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        port = port.checked_mul(10)?.checked_add(u16::from(b - b'0'))?;
    }
    Some(port)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conventions::attributes::OTHER;

    #[test]
    fn status_strings() {
        assert_eq!(status_code_str(400), "400");
        assert_eq!(status_code_str(404), "404");
        assert_eq!(status_code_str(503), "503");
        assert_eq!(status_code_str(599), "599");
        assert_eq!(status_code_str(200), OTHER);
        for code in 400..600u16 {
            assert_eq!(status_code_str(code), code.to_string());
        }
    }

    #[rustfmt::skip]
    #[test]
    fn host_port_table() {
        for (authority, scheme, expected, why) in [
            ("example.com", None, (Some("example.com"), None), "host alone"),
            ("example.com:8080", None, (Some("example.com"), Some(8080)), "host and port"),
            ("example.com", Some("https"), (Some("example.com"), Some(443)), "port from the scheme"),
            ("example.com:80", Some("https"), (Some("example.com"), Some(80)), "an explicit port wins"),
            ("[::1]:50051", None, (Some("::1"), Some(50051)), "IPv6, unbracketed"),
            ("[::1]", Some("http"), (Some("::1"), Some(80)), "IPv6 without port"),
            ("user:pw@h:1", None, (Some("h"), Some(1)), "user info dropped"),
            ("h:notaport", None, (Some("h"), None), "a bad port is no port"),
            ("", Some("http"), (None, None), "empty: nothing"),
            ("::1", None, (Some("::1"), None), "bare IPv6 is not split"),
            ("h:+80", None, (Some("h"), None), "a signed port is no port"),
            ("h:65536", None, (Some("h"), None), "a port past 65535 is no port"),
            ("h:065535", None, (Some("h"), Some(65535)), "leading zeros"),
            ("h:", Some("https"), (Some("h"), Some(443)), "an empty port is none"),
            (" a.example:1 , b", None, (Some("a.example"), Some(1)), "the first entry, trimmed"),
            ("[::1]x", None, (Some("::1"), None), "garbage after the bracket"),
        ] {
            assert_eq!(host_port(authority, scheme), expected, "{why}");
        }
    }

    /// The byte parser agrees with the straightforward `str` one on any input, except that
    /// it refuses signed ports, which `u16::from_str` accepts and RFC 3986 does not.
    #[test]
    fn host_port_matches_the_str_version() {
        fn reference<'a>(
            authority: &'a str,
            scheme: Option<&str>,
        ) -> (Option<&'a str>, Option<u16>) {
            let value = authority.split(',').next().unwrap_or_default().trim();
            let value = value.rsplit_once('@').map_or(value, |(_, h)| h);
            let port = |p: &str| p.parse::<u16>().ok().filter(|_| !p.starts_with('+'));
            let (host, port) = match value.strip_prefix('[') {
                Some(rest) => match rest.split_once(']') {
                    Some((h, tail)) => (h, tail.strip_prefix(':').and_then(port)),
                    None => (value, None),
                },
                None => match value.rsplit_once(':') {
                    Some((h, p)) if !h.contains(':') => (h, port(p)),
                    _ => (value, None),
                },
            };
            let port = port.or(match scheme {
                Some("https") => Some(443),
                Some("http") => Some(80),
                _ => None,
            });
            if host.is_empty() {
                (None, None)
            } else {
                (Some(host), port)
            }
        }
        proptest::proptest!(|(authority in "[a-z0-9.:@\\[\\], +é-]{0,24}", https: bool)| {
            let scheme = Some(if https { "https" } else { "http" });
            proptest::prop_assert_eq!(host_port(&authority, scheme), reference(&authority, scheme));
            proptest::prop_assert_eq!(host_port(&authority, None), reference(&authority, None));
        });
    }

    #[rustfmt::skip]
    #[test]
    fn server_authority_precedence() {
        for (uri, headers, expected, why) in [
            ("/p", &[("host", "h.example:8080")][..], Some("h.example:8080"), "Host"),
            ("http://a.example/p", &[("host", "h.example")][..], Some("a.example"), "the URI's authority (HTTP/2 :authority) before Host"),
            ("/p", &[("host", "h.example"), ("x-forwarded-host", "f.example:443, proxy.internal")][..], Some("f.example:443"), "the first X-Forwarded-Host entry wins"),
            ("/p", &[][..], None, "nothing"),
        ] {
            let mut request = http::Request::builder().uri(uri);
            for (k, v) in headers {
                request = request.header(*k, *v);
            }
            let request = request.body(()).unwrap();
            assert_eq!(server_authority(&RequestInfo::new(&request)), expected, "{why}");
        }
    }

    #[test]
    fn methods() {
        assert_eq!(method(&Method::GET), ("GET", true));
        assert_eq!(
            method(&Method::from_bytes(b"QUERY").unwrap()),
            ("QUERY", true)
        );
        assert_eq!(method(&Method::from_bytes(b"get").unwrap()), (OTHER, false));
        assert_eq!(
            method(&Method::from_bytes(b"PURGE").unwrap()),
            (OTHER, false)
        );
    }
}
