//! The instruments, created once per layer from a `Meter`.

use opentelemetry::metrics::{Histogram, Meter, UpDownCounter};
use tower_telemetry_trace::conventions::{Role, RpcConventions};

use std::sync::Arc;

use crate::bound::Cached;
use crate::exemplars::{ExemplarFilter, Exemplars};

/// The advisory bucket boundaries of `http.server.request.duration`,
/// `http.client.request.duration` and `rpc.*.call.duration`, in seconds.
pub const DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// The same boundaries in milliseconds, for the classic `rpc.*.duration` (unit `ms`).
pub const DURATION_BUCKETS_MS: [f64; 14] = [
    5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0, 7500.0,
    10000.0,
];

/// Buckets for body sizes, in bytes (powers of 4 from 64 B to 64 MiB).
pub const SIZE_BUCKETS: [f64; 11] = [
    64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0, 16777216.0,
    67108864.0,
];

/// What to record beyond the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Options {
    /// `None`: the role's default (on for servers, off for clients).
    pub(crate) active_requests: Option<bool>,
    pub(crate) body_sizes: bool,
    pub(crate) count_filtered: bool,
    /// Which durations offer an exemplar.
    pub(crate) exemplars: ExemplarFilter,
}

/// One layer's instruments.
#[derive(Debug)]
pub(crate) struct Instruments {
    /// The side of the call these instruments record.
    pub(crate) role: Role,
    pub(crate) http_duration: Cached<Histogram<f64>>,
    pub(crate) http_active: Option<Cached<UpDownCounter<i64>>>,
    pub(crate) request_body_size: Option<Cached<Histogram<u64>>>,
    pub(crate) response_body_size: Option<Cached<Histogram<u64>>>,
    /// `rpc.{server,client}.call.duration` (seconds), unless the conventions are classic.
    pub(crate) rpc_call_duration: Option<Cached<Histogram<f64>>>,
    /// The classic `rpc.{server,client}.duration` (milliseconds), with classic conventions or
    /// both.
    pub(crate) rpc_classic_duration: Option<Cached<Histogram<f64>>>,
    /// Which durations offer an exemplar (`AlwaysOff`: the stores below are all `None`).
    pub(crate) exemplar_filter: ExemplarFilter,
    /// The exemplars of `http_duration`, `rpc_call_duration`, `rpc_classic_duration`.
    pub(crate) exemplars: [Option<Arc<Exemplars>>; 3],
}

/// Which duration an exemplar belongs to (an index into [`Instruments::exemplars`]).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Duration {
    Http = 0,
    RpcCall = 1,
    RpcClassic = 2,
}

impl Instruments {
    pub(crate) fn new(meter: &Meter, role: Role, rpc: RpcConventions, options: Options) -> Self {
        let (side, active_description) = match role {
            Role::Client => ("client", "Number of active HTTP client requests."),
            _ => ("server", "Number of active HTTP server requests."),
        };
        let http_duration = meter
            .f64_histogram(format!("http.{side}.request.duration"))
            .with_unit("s")
            .with_description(match role {
                Role::Client => "Duration of HTTP client requests.",
                _ => "Duration of HTTP server requests.",
            })
            .with_boundaries(DURATION_BUCKETS.to_vec())
            .build();
        let active = options.active_requests.unwrap_or(role == Role::Server);
        let http_active = active.then(|| {
            meter
                .i64_up_down_counter(format!("http.{side}.active_requests"))
                .with_unit("{request}")
                .with_description(active_description)
                .build()
        });
        let size = |name: &str, description: &'static str| {
            meter
                .u64_histogram(format!("http.{side}.{name}.body.size"))
                .with_unit("By")
                .with_description(description)
                .with_boundaries(SIZE_BUCKETS.to_vec())
                .build()
        };
        let request_body_size = options
            .body_sizes
            .then(|| size("request", "Size of HTTP request bodies."));
        let response_body_size = options
            .body_sizes
            .then(|| size("response", "Size of HTTP response bodies."));
        // "RPC metrics" page: semconv 1.45.0 for the current instrument, 1.37.0 for the
        // classic one; `RpcConventions::Both` records both.
        let rpc_call_duration = rpc.emits_current().then(|| {
            meter
                .f64_histogram(format!("rpc.{side}.call.duration"))
                .with_unit("s")
                .with_description(match role {
                    Role::Client => {
                        "Measures the duration of an outgoing Remote Procedure Call (RPC)."
                    }
                    _ => "Measures the duration of an incoming Remote Procedure Call (RPC).",
                })
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build()
        });
        let rpc_classic_duration = rpc.emits_classic().then(|| {
            meter
                .f64_histogram(format!("rpc.{side}.duration"))
                .with_unit("ms")
                .with_description(match role {
                    Role::Client => "Measures the duration of outbound RPC.",
                    _ => "Measures the duration of inbound RPC.",
                })
                .with_boundaries(DURATION_BUCKETS_MS.to_vec())
                .build()
        });
        let store = |present: bool, name: String, unit: &str, bounds: &'static [f64]| {
            (present && options.exemplars != ExemplarFilter::AlwaysOff)
                .then(|| Exemplars::register(&name, unit, bounds))
        };
        let exemplars = [
            store(
                true,
                format!("http.{side}.request.duration"),
                "s",
                &DURATION_BUCKETS,
            ),
            store(
                rpc_call_duration.is_some(),
                format!("rpc.{side}.call.duration"),
                "s",
                &DURATION_BUCKETS,
            ),
            store(
                rpc_classic_duration.is_some(),
                format!("rpc.{side}.duration"),
                "ms",
                &DURATION_BUCKETS_MS,
            ),
        ];
        Instruments {
            exemplar_filter: options.exemplars,
            exemplars,
            role,
            http_duration: Cached::new(http_duration),
            http_active: http_active.map(Cached::new),
            request_body_size: request_body_size.map(Cached::new),
            response_body_size: response_body_size.map(Cached::new),
            rpc_call_duration: rpc_call_duration.map(Cached::new),
            rpc_classic_duration: rpc_classic_duration.map(Cached::new),
        }
    }
}
