//! The attributes of a server span known when the request arrives (the semantic conventions'
//! "HTTP server span" and "gRPC" pages): given to the span builder, before sampling.

use std::sync::Arc;

use opentelemetry::{KeyValue, StringValue};

use super::config::Settings;
use crate::conventions::attributes as attr;
use crate::conventions::grpc;
use crate::conventions::redact::redact_query;
use crate::conventions::request::X_FORWARDED_FOR;
use crate::lifecycle::RequestFacts;
use crate::span::hooks::push_headers;
use crate::view::RequestInfo;

pub(crate) fn request_attributes(
    request: &RequestInfo<'_>,
    facts: &RequestFacts<'_>,
    settings: &Settings,
) -> Vec<KeyValue> {
    // Room for the end-of-request attributes too: the SDK keeps this `Vec` as the span's.
    let mut attrs = Vec::with_capacity(16);
    let (address, port) = facts.server();

    if let Some(rpc) = facts.rpc() {
        let path = request.uri().path();
        if rpc.emits_classic() {
            attrs.push(KeyValue::new(attr::RPC_SYSTEM, "grpc"));
            if let Some((_, service, method)) = grpc::split_path(path) {
                attrs.push(KeyValue::new(attr::RPC_SERVICE, service.to_owned()));
                // With both generations, `rpc.method` holds the current value.
                if !rpc.emits_current() {
                    attrs.push(KeyValue::new(attr::RPC_METHOD, method.to_owned()));
                }
            }
        }
        if rpc.emits_current() {
            attrs.push(KeyValue::new(attr::RPC_SYSTEM_NAME, "grpc"));
            // Whether the server implements a well-formed method is known only from its
            // answer (`UNIMPLEMENTED`), so `rpc.method` is recorded at the end (an attribute
            // cannot be replaced: OpenTelemetry keeps both values); the span's name carries
            // the method for samplers now. A method that can't be named is `_OTHER` already.
            if facts.rpc_method().is_none() {
                attrs.push(KeyValue::new(attr::RPC_METHOD, attr::OTHER));
                attrs.push(KeyValue::new(
                    attr::RPC_METHOD_ORIGINAL,
                    grpc::method_as_called(path).to_owned(),
                ));
            }
        }
        push_server_address(&mut attrs, address, port);
        push_peer(&mut attrs, request, false);
        return attrs;
    }

    attrs.push(KeyValue::new(attr::HTTP_REQUEST_METHOD, facts.method()));
    if !facts.is_known_method() {
        attrs.push(KeyValue::new(
            attr::HTTP_REQUEST_METHOD_ORIGINAL,
            request.method().as_str().to_owned(),
        ));
    }
    let uri = request.uri();
    attrs.push(KeyValue::new(attr::URL_PATH, uri.path().to_owned()));
    if let Some(query) = uri.query() {
        let redacted = redact_query(query, &settings.sensitive_query);
        attrs.push(KeyValue::new(attr::URL_QUERY, redacted.into_owned()));
    }
    if let Some(scheme) = facts.scheme() {
        attrs.push(KeyValue::new(attr::URL_SCHEME, scheme));
    }
    if let Some(route) = facts.route() {
        attrs.push(KeyValue::new(attr::HTTP_ROUTE, route));
    }
    if let Some(version) = facts.protocol_version() {
        attrs.push(KeyValue::new(attr::NETWORK_PROTOCOL_VERSION, version));
    }
    push_server_address(&mut attrs, address, port);
    if let Some(agent) = request
        .headers()
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
    {
        attrs.push(KeyValue::new(
            attr::USER_AGENT_ORIGINAL,
            facts.user_agent(agent),
        ));
    }
    push_peer(&mut attrs, request, true);
    push_headers(&mut attrs, request.headers(), &settings.request_headers);
    attrs
}

/// `server.address` (interned) and `server.port`, when the request says.
fn push_server_address(
    attrs: &mut Vec<KeyValue>,
    address: Option<&'static str>,
    port: Option<u16>,
) {
    if let Some(address) = address {
        attrs.push(KeyValue::new(attr::SERVER_ADDRESS, address));
        if let Some(port) = port {
            attrs.push(KeyValue::new(attr::SERVER_PORT, i64::from(port)));
        }
    }
}

/// `client.address` (HTTP only) and `network.peer.*`, from the connection's address when the
/// server recorded it (axum `ConnectInfo<SocketAddr>`, or [`crate::PeerAddr`]).
fn push_peer(attrs: &mut Vec<KeyValue>, request: &RequestInfo<'_>, http: bool) {
    let ext = request.extensions();
    let peer = ext.get::<crate::PeerAddr>().map(|p| p.0);
    #[cfg(feature = "axum")]
    let peer = peer.or_else(|| {
        ext.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0)
    });
    // The peer's address, formatted once: shared by `client.address` and
    // `network.peer.address` when no proxy named the client.
    let peer_ip: Option<Arc<str>> = peer.map(|p| ip_text(p.ip()));
    if http {
        let forwarded_for = request
            .headers()
            .get(X_FORWARDED_FOR)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty());
        let client = match (forwarded_for, &peer_ip) {
            (Some(client), _) => Some(StringValue::from(client.to_owned())),
            (None, Some(ip)) => Some(StringValue::from(Arc::clone(ip))),
            (None, None) => None,
        };
        if let Some(client) = client {
            attrs.push(KeyValue::new(attr::CLIENT_ADDRESS, client));
        }
    }
    if let (Some(peer), Some(ip)) = (peer, peer_ip) {
        attrs.push(KeyValue::new(attr::NETWORK_PEER_ADDRESS, ip));
        attrs.push(KeyValue::new(
            attr::NETWORK_PEER_PORT,
            i64::from(peer.port()),
        ));
    }
}

/// The text of `ip` in one allocation (`to_string` then `Arc::from` would take two): formatted
/// on the stack first; 45 bytes hold any IPv6 text, IPv4-mapped included.
fn ip_text(ip: std::net::IpAddr) -> Arc<str> {
    use std::fmt::Write as _;
    struct Stack {
        bytes: [u8; 48],
        len: usize,
    }
    impl std::fmt::Write for Stack {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            let end = self.len + s.len();
            self.bytes
                .get_mut(self.len..end)
                .ok_or(std::fmt::Error)?
                .copy_from_slice(s.as_bytes());
            self.len = end;
            Ok(())
        }
    }
    let mut stack = Stack {
        bytes: [0; 48],
        len: 0,
    };
    match write!(stack, "{ip}") {
        // Only whole `&str`s were copied in: valid UTF-8.
        Ok(()) => Arc::from(std::str::from_utf8(&stack.bytes[..stack.len]).unwrap_or_default()),
        Err(_) => Arc::from(ip.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    #[test]
    fn ip_text_is_the_display_text() {
        for ip in [
            "127.0.0.1",
            "255.255.255.255",
            "::1",
            "::ffff:255.255.255.255",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "fe80::1:2:3:4",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(&*super::ip_text(ip), ip.to_string());
        }
    }
}
