//! Redaction of URL parts that must not reach telemetry (semconv 1.29+, `url.full` and `url.query`: credentials and signature parameters).

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
pub(crate) const REDACTED: &str = "REDACTED";

/// `query` with the values of `sensitive` keys replaced by `REDACTED`; borrowed (no
/// allocation) when there is nothing to redact.
pub(crate) fn redact_query<'q, S: AsRef<str>>(query: &'q str, sensitive: &[S]) -> Cow<'q, str> {
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

/// `url.full` for a client request: `scheme://host[:port]/path[?query]`, with any
/// credentials replaced by `REDACTED:REDACTED` and sensitive query values redacted.
///
/// `default_authority` fills in a URI without one (tonic sends path-only URIs to its channel).
pub(crate) fn url_full<S: AsRef<str>>(
    uri: &http::Uri,
    default_authority: Option<&str>,
    sensitive: &[S],
) -> String {
    let scheme = uri.scheme_str().unwrap_or("http");
    let authority = uri
        .authority()
        .map(http::uri::Authority::as_str)
        .or(default_authority)
        .unwrap_or("");
    let mut out = String::with_capacity(scheme.len() + authority.len() + uri.path().len() + 32);
    out.push_str(scheme);
    out.push_str("://");
    match authority.rsplit_once('@') {
        Some((_, host)) => {
            out.push_str("REDACTED:REDACTED@");
            out.push_str(host);
        }
        None => out.push_str(authority),
    }
    out.push_str(uri.path());
    if let Some(query) = uri.query() {
        out.push('?');
        out.push_str(&redact_query(query, sensitive));
    }
    out
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

    #[test]
    fn url_full_redacts_credentials_and_query() {
        let s = DEFAULT_SENSITIVE_QUERY_PARAMS;
        let uri: http::Uri = "http://user:pw@h:1/p?sig=a&x=1".parse().unwrap();
        assert_eq!(
            url_full(&uri, None, s),
            "http://REDACTED:REDACTED@h:1/p?sig=REDACTED&x=1"
        );
        let uri: http::Uri = "http://h/p?SIG=a".parse().unwrap();
        assert_eq!(
            url_full(&uri, None, s),
            "http://h/p?SIG=a",
            "case-sensitive"
        );
        let uri: http::Uri = "/pkg.S/M".parse().unwrap();
        assert_eq!(
            url_full(&uri, Some("10.0.0.1:50051"), s),
            "http://10.0.0.1:50051/pkg.S/M"
        );
    }
}
