//! OpenTelemetry semantic-convention names and the static values they take (`spec/SPEC.md`
//! §4). Values are `&'static str` so building attributes allocates nothing for them.

use http::{HeaderName, Method, Version};

/// `x-forwarded-proto` (parsed once, not per request).
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
/// `x-forwarded-host`.
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
/// `x-forwarded-for`.
pub(crate) const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// `http.request.method`
pub const HTTP_REQUEST_METHOD: &str = "http.request.method";
/// `http.request.method_original`
pub const HTTP_REQUEST_METHOD_ORIGINAL: &str = "http.request.method_original";
/// `http.response.status_code`
pub const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";
/// `http.route`
pub const HTTP_ROUTE: &str = "http.route";
/// `url.path`
pub const URL_PATH: &str = "url.path";
/// `url.query`
pub const URL_QUERY: &str = "url.query";
/// `url.scheme`
pub const URL_SCHEME: &str = "url.scheme";
/// `url.full`
pub const URL_FULL: &str = "url.full";
/// `server.address`
pub const SERVER_ADDRESS: &str = "server.address";
/// `server.port`
pub const SERVER_PORT: &str = "server.port";
/// `client.address`
pub const CLIENT_ADDRESS: &str = "client.address";
/// `network.peer.address`
pub const NETWORK_PEER_ADDRESS: &str = "network.peer.address";
/// `network.peer.port`
pub const NETWORK_PEER_PORT: &str = "network.peer.port";
/// `network.protocol.version`
pub const NETWORK_PROTOCOL_VERSION: &str = "network.protocol.version";
/// `user_agent.original`
pub const USER_AGENT_ORIGINAL: &str = "user_agent.original";
/// `error.type`
pub const ERROR_TYPE: &str = "error.type";

/// `rpc.system.name` (RPC conventions ≥ 1.39)
pub const RPC_SYSTEM_NAME: &str = "rpc.system.name";
/// `rpc.system` (classic RPC conventions ≤ 1.37)
pub const RPC_SYSTEM: &str = "rpc.system";
/// `rpc.method`: fully qualified (`pkg.Service/Method`) in the current conventions, the
/// method alone in the classic ones.
pub const RPC_METHOD: &str = "rpc.method";
/// `rpc.service` (classic)
pub const RPC_SERVICE: &str = "rpc.service";
/// `rpc.response.status_code` (current; a string such as `"NOT_FOUND"`)
pub const RPC_RESPONSE_STATUS_CODE: &str = "rpc.response.status_code";
/// `rpc.grpc.status_code` (classic; an integer)
pub const RPC_GRPC_STATUS_CODE: &str = "rpc.grpc.status_code";

/// `_OTHER`, for values outside the known set.
pub const OTHER: &str = "_OTHER";

/// The `http.request.method` value and whether it is a known method. Methods are
/// case-sensitive: `get` is `_OTHER`. QUERY is known (semconv 1.38).
#[inline]
pub fn method(method: &Method) -> (&'static str, bool) {
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
pub fn protocol_version(version: Version) -> Option<&'static str> {
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
pub fn status_code_str(code: u16) -> &'static str {
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
pub fn url_scheme<B>(request: &http::Request<B>, default: &'static str) -> &'static str {
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

/// `server.address` / `server.port`: `X-Forwarded-Host` > the URI's authority (HTTP/2
/// `:authority`) > `Host`.
pub fn server_address<B>(request: &http::Request<B>) -> (Option<&str>, Option<u16>) {
    let headers = request.headers();
    let from_header = |name: &HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(split_host_port)
    };
    let (host, port) = from_header(&X_FORWARDED_HOST)
        .or_else(|| request.uri().authority().map(|a| (a.host(), a.port_u16())))
        .or_else(|| from_header(&http::header::HOST))
        .unwrap_or(("", None));
    if host.is_empty() {
        return (None, None);
    }
    (
        Some(host.trim_start_matches('[').trim_end_matches(']')),
        port,
    )
}

fn split_host_port(value: &str) -> (&str, Option<u16>) {
    let value = value.split(',').next().unwrap_or_default().trim();
    if let Some(rest) = value.strip_prefix('[') {
        // [v6]:port
        return match rest.split_once(']') {
            Some((host, tail)) => (host, tail.strip_prefix(':').and_then(|p| p.parse().ok())),
            None => (value, None),
        };
    }
    match value.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host, port.parse().ok()),
        _ => (value, None),
    }
}

/// `host`, `port` of an authority (`user:pw@host:port`, `[v6]:port`); the port defaults from
/// the scheme (80, 443).
pub fn split_authority<'a>(
    authority: &'a str,
    scheme: Option<&str>,
) -> (Option<&'a str>, Option<u16>) {
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match host_port.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((h, tail)) => (h, tail.strip_prefix(':').and_then(|p| p.parse().ok())),
            None => (host_port, None),
        },
        None => match host_port.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().ok()),
            None => (host_port, None),
        },
    };
    let port = port.or(match scheme {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    });
    ((!host.is_empty()).then_some(host), port)
}

#[cfg(test)]
mod tests {
    use super::*;

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
