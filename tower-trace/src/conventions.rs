//! Which semantic conventions a layer follows.

/// Which protocol's conventions a layer follows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protocol {
    /// gRPC when `content-type` is `application/grpc…`, HTTP otherwise.
    #[default]
    Auto,
    /// Always HTTP.
    Http,
    /// Always gRPC.
    Grpc,
}

/// Which generation of the RPC semantic conventions gRPC spans follow (`spec/SPEC.md` §4.5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum RpcConventions {
    /// semconv ≥ 1.39 (Release Candidate since 1.40): `rpc.system.name`, a fully qualified
    /// `rpc.method`, `rpc.response.status_code` as a string.
    #[default]
    Current,
    /// semconv ≤ 1.37, what most dashboards still expect: `rpc.system`, `rpc.service` +
    /// `rpc.method`, `rpc.grpc.status_code` as an integer.
    Classic,
}
