//! Redaction of URL parts that must not reach telemetry (`spec/SPEC.md` §4.3).

use std::borrow::Cow;

/// Query parameters whose values are replaced by `REDACTED` by default (semconv 1.29+):
/// matching is case-sensitive and the key is kept.
pub const DEFAULT_SENSITIVE_QUERY_PARAMS: &[&str] = &[
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
    "sig",
    "X-Goog-Signature",
];

/// The replacement value.
pub const REDACTED: &str = "REDACTED";

/// `query` with the values of `sensitive` keys replaced by `REDACTED`; borrowed (no
/// allocation) when there is nothing to redact.
///
/// ```
/// use tower_trace::redact::{redact_query, DEFAULT_SENSITIVE_QUERY_PARAMS};
/// assert_eq!(redact_query("sig=abc&x=1", DEFAULT_SENSITIVE_QUERY_PARAMS), "sig=REDACTED&x=1");
/// assert_eq!(redact_query("SIG=abc", DEFAULT_SENSITIVE_QUERY_PARAMS), "SIG=abc");
/// ```
pub fn redact_query<'q, S: AsRef<str>>(query: &'q str, sensitive: &[S]) -> Cow<'q, str> {
    let listed = |key: &str| sensitive.iter().any(|s| s.as_ref() == key);
    let is_sensitive = |pair: &str| listed(pair.split_once('=').map_or(pair, |(k, _)| k));
    if !query
        .split('&')
        .any(|pair| pair.contains('=') && is_sensitive(pair))
    {
        return Cow::Borrowed(query);
    }
    let mut out = String::with_capacity(query.len());
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match pair.split_once('=') {
            Some((key, _)) if listed(key) => {
                out.push_str(key);
                out.push('=');
                out.push_str(REDACTED);
            }
            _ => out.push_str(pair),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_only_listed_keys() {
        let s = DEFAULT_SENSITIVE_QUERY_PARAMS;
        assert!(matches!(redact_query("a=1&b=2", s), Cow::Borrowed(_)));
        assert_eq!(
            redact_query("color=blue&sig=abc", s),
            "color=blue&sig=REDACTED"
        );
        assert_eq!(
            redact_query("X-Amz-Signature=1&X-Amz-Credential=2&k", s),
            "X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED&k"
        );
        assert_eq!(
            redact_query("sig", s),
            "sig",
            "a key without a value has nothing to redact"
        );
        assert_eq!(redact_query("sig=", s), "sig=REDACTED");
    }
}
