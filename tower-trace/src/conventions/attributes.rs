//! OpenTelemetry semantic-convention attribute names: HTTP from the stable HTTP conventions
//! (semconv 1.26+, "HTTP spans" and "HTTP metrics" pages), RPC from the RPC conventions
//! ("RPC spans", "RPC metrics", "gRPC" pages): the current names of semconv 1.45.0, where
//! `rpc.response.status_code` became `rpc.status_code` (semantic-conventions PR #3921), and
//! the classic ones of 1.37.0 and before. Values are `&'static str` so building attributes
//! allocates nothing for them.

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
/// `rpc.method_original` (current): the method as called, when `rpc.method` is `_OTHER`
/// (spans only, never a metric label).
pub const RPC_METHOD_ORIGINAL: &str = "rpc.method_original";
/// `rpc.status_code` (current, semconv 1.45; a string such as `"NOT_FOUND"`). Named
/// `rpc.response.status_code` in semconv 1.39 to 1.44.
pub const RPC_STATUS_CODE: &str = "rpc.status_code";
/// `rpc.grpc.status_code` (classic; an integer)
pub const RPC_GRPC_STATUS_CODE: &str = "rpc.grpc.status_code";

/// `_OTHER`, for values outside the known set.
pub const OTHER: &str = "_OTHER";
