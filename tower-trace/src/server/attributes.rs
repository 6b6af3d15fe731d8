//! The attributes of a server span known when the request arrives (the semantic conventions'
//! "HTTP server span" and "gRPC" pages): given to the span builder, before sampling.

use std::sync::Arc;

use opentelemetry::{KeyValue, StringValue};

use super::observer::{Settings, push_headers};
use crate::conventions::attributes as attr;
use crate::conventions::grpc;
use crate::conventions::redact::redact_query;
use crate::conventions::request::X_FORWARDED_FOR;
use crate::hooks::RequestInfo;
use crate::lifecycle::RequestFacts;

fn shared(value: &Arc<str>) -> StringValue {
    StringValue::from(Arc::clone(value))
}

pub(crate) fn request_attributes(
    request: &RequestInfo<'_>,
    facts: &RequestFacts<'_>,
    settings: &Settings,
) -> Vec<KeyValue> {
    // Room for the end-of-request attributes too: the SDK keeps this `Vec` as the span's.
    let mut attrs = Vec::with_capacity(16);
    let (address, port) = facts.server(request);

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
            if facts.rpc_method(request).is_none() {
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
    attrs.push(KeyValue::new(attr::URL_SCHEME, facts.scheme(request)));
    if let Some(route) = facts.route(request) {
        attrs.push(KeyValue::new(attr::HTTP_ROUTE, shared(route)));
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
        attrs.push(KeyValue::new(attr::USER_AGENT_ORIGINAL, agent.to_owned()));
    }
    push_peer(&mut attrs, request, true);
    push_headers(&mut attrs, request.headers(), &settings.request_headers);
    attrs
}

/// `server.address` (interned) and `server.port`, when the request says.
fn push_server_address(attrs: &mut Vec<KeyValue>, address: Option<&Arc<str>>, port: Option<u16>) {
    if let Some(address) = address {
        attrs.push(KeyValue::new(attr::SERVER_ADDRESS, shared(address)));
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
    if http {
        let forwarded_for = request
            .headers()
            .get(X_FORWARDED_FOR)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty());
        let client = match (forwarded_for, peer) {
            (Some(client), _) => Some(client.to_owned()),
            (None, Some(peer)) => Some(peer.ip().to_string()),
            (None, None) => None,
        };
        if let Some(client) = client {
            attrs.push(KeyValue::new(attr::CLIENT_ADDRESS, client));
        }
    }
    if let Some(peer) = peer {
        attrs.push(KeyValue::new(
            attr::NETWORK_PEER_ADDRESS,
            peer.ip().to_string(),
        ));
        attrs.push(KeyValue::new(
            attr::NETWORK_PEER_PORT,
            i64::from(peer.port()),
        ));
    }
}
