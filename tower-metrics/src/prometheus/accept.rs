//! Content negotiation for `/metrics`: OpenMetrics 1.0 text when the `Accept` header prefers
//! it (as Prometheus asks first), the classic text format otherwise.
//!
//! Media ranges and `q` weights as RFC 9110 §12.5.1 defines them. Written by hand: the
//! decision is between two fixed formats, which no general negotiation crate makes simpler.

use http::HeaderMap;

/// Whether `headers` prefer OpenMetrics 1.0.0 (`application/openmetrics-text`, with
/// `version=1.0.0` or no version) to the classic text format (`text/plain` with
/// `version=0.0.4` or no version, `text/*`, `*/*`). A tie, a header that is not text, or one
/// whose ranges are all malformed gets the classic format, which every scraper reads.
pub(crate) fn prefers_openmetrics(headers: &HeaderMap) -> bool {
    let (mut openmetrics, mut classic) = (0.0f32, 0.0f32);
    for value in headers.get_all(http::header::ACCEPT) {
        let Ok(value) = value.to_str() else {
            continue;
        };
        for range in value.split(',') {
            let Some((kind, q)) = parse_range(range) else {
                continue;
            };
            match kind {
                Kind::OpenMetrics => openmetrics = openmetrics.max(q),
                Kind::Classic => classic = classic.max(q),
                Kind::Other => {}
            }
        }
    }
    openmetrics > 0.0 && openmetrics > classic
}

#[derive(Debug, PartialEq)]
enum Kind {
    OpenMetrics,
    Classic,
    Other,
}

/// One media range: what it names and its weight; `None` when malformed.
fn parse_range(range: &str) -> Option<(Kind, f32)> {
    let mut parts = range.split(';');
    let media = parts.next()?.trim();
    let (kind, sub) = media.split_once('/')?;
    if !is_token(kind) || !is_token(sub) {
        return None;
    }
    let (mut q, mut version) = (1.0f32, None);
    for param in parts {
        let (name, value) = param.split_once('=')?;
        let (name, value) = (name.trim(), value.trim().trim_matches('"'));
        if !is_token(name) {
            return None;
        }
        if name.eq_ignore_ascii_case("q") {
            q = parse_q(value)?;
        } else if name.eq_ignore_ascii_case("version") {
            version = Some(value);
        }
    }
    let is = |a: &str, b: &str| kind.eq_ignore_ascii_case(a) && sub.eq_ignore_ascii_case(b);
    let kind = if is("application", "openmetrics-text") {
        if version.is_none_or(|v| v == "1.0.0") {
            Kind::OpenMetrics
        } else {
            Kind::Other
        }
    } else if is("text", "plain") {
        if version.is_none_or(|v| v == "0.0.4") {
            Kind::Classic
        } else {
            Kind::Other
        }
    } else if is("text", "*") || is("*", "*") {
        Kind::Classic
    } else {
        Kind::Other
    };
    Some((kind, q))
}

/// A `qvalue`: `0`, `1`, or up to three decimals (RFC 9110 §12.4.2).
fn parse_q(value: &str) -> Option<f32> {
    let valid = value.len() <= 5
        && value.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && (value.starts_with('0') || value.starts_with('1'));
    let q: f32 = value.parse().ok().filter(|_| valid)?;
    (0.0..=1.0).contains(&q).then_some(q)
}

/// An RFC 9110 token (`*` included).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn accept(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(http::header::ACCEPT, v.parse().unwrap());
        }
        headers
    }

    #[rustfmt::skip]
    const CASES: &[(&str, bool, &str)] = &[
        ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
            true, "what Prometheus 2.x asks"),
        ("application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
            true, "what Prometheus 3.x asks: unknown parameters are ignored"),
        ("application/openmetrics-text", true, "no version: the current one"),
        ("Application/OpenMetrics-Text; Version=1.0.0", true, "case-insensitive names"),
        ("text/plain, application/openmetrics-text; q=0.9", false, "classic preferred"),
        ("text/plain;q=0.5, application/openmetrics-text;q=0.5", false, "a tie: classic"),
        ("*/*", false, "anything: classic"),
        ("", false, "empty"),
        ("application/openmetrics-text;version=2.0.0", false, "a version we don't serve"),
        ("application/openmetrics-text;q=0", false, "q=0: not acceptable"),
        ("application/openmetrics-text;q=1.5", false, "q out of range: malformed"),
        ("application/openmetrics-text;q=abc", false, "q not a number: malformed"),
        ("application/openmetrics-text;version", false, "a parameter without a value"),
        ("openmetrics", false, "no subtype"),
        ("application/json", false, "nothing we serve"),
        ("application/openmetrics text", false, "not a token"),
        (";;;,,,//", false, "garbage"),
    ];

    #[test]
    fn negotiation_table() {
        for (header, expected, why) in CASES {
            assert_eq!(
                prefers_openmetrics(&accept(&[header])),
                *expected,
                "{why}: {header:?}"
            );
        }
        assert!(
            !prefers_openmetrics(&HeaderMap::new()),
            "no Accept: classic"
        );
        assert!(
            prefers_openmetrics(&accept(&[
                "text/plain;q=0.1",
                "application/openmetrics-text"
            ])),
            "every Accept value is read"
        );
    }

    proptest! {
        #[test]
        fn any_header_gets_an_answer_without_panicking(s in "\\PC*") {
            if let Ok(value) = s.parse::<http::HeaderValue>() {
                let mut headers = HeaderMap::new();
                headers.insert(http::header::ACCEPT, value);
                let _ = prefers_openmetrics(&headers);
            }
        }
    }
}
