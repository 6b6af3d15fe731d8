use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::report::ExportReport;
use super::*;

/// Builds from `vars` only, no exporter that needs a collector; the diagnostics seen.
fn build(vars: &[(&str, &str)], strict: bool) -> (Result<Telemetry, SetupError>, Vec<String>) {
    let mut map: HashMap<String, String> = HashMap::from([
        ("OTEL_TRACES_EXPORTER".to_owned(), "none".to_owned()),
        ("OTEL_METRICS_EXPORTER".to_owned(), "none".to_owned()),
    ]);
    for (k, v) in vars {
        map.insert((*k).to_owned(), (*v).to_owned());
    }
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let result = Telemetry::builder("in-code")
        .with_vars(move |k| map.get(k).cloned())
        .strict(strict)
        .on_diagnostic(move |m| sink.lock().unwrap().push(m.to_owned()))
        .build();
    let seen = seen.lock().unwrap().clone();
    (result, seen)
}

#[rustfmt::skip]
const BAD: &[(&str, &str)] = &[
    ("OTEL_SDK_DISABLED", "yes"),
    ("OTEL_TRACES_EXPORTER", "zipkin"),
    ("OTEL_METRICS_EXPORTER", "statsd"),
    ("OTEL_PROPAGATORS", "b3"),
    ("OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION", "sum"),
    ("OTEL_SEMCONV_STABILITY_OPT_IN", "rpc/new"),
    ("OTEL_METRICS_EXEMPLAR_FILTER", "sometimes"),
];

#[test]
fn a_bad_value_warns_once_naming_the_variable_and_uses_the_default() {
    for (name, value) in BAD {
        let (result, seen) = build(&[(name, value)], false);
        let telemetry = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(seen.len(), 1, "{name}: one warning: {seen:?}");
        assert!(seen[0].contains(name), "{name}: named: {seen:?}");
        assert!(seen[0].contains(value), "{name}: the value shown: {seen:?}");
        // The defaults.
        assert_eq!(telemetry.rpc_conventions(), RpcConventions::Current);
        assert_eq!(telemetry.exemplar_filter(), ExemplarFilter::TraceBased);
        if *name == "OTEL_METRICS_EXEMPLAR_FILTER" {
            assert!(
                seen[0].contains("trace_based"),
                "the default named: {seen:?}"
            );
        }
        assert_eq!(
            telemetry.propagator(),
            Propagator::w3c().with_baggage(),
            "{name}"
        );
    }
}

#[test]
fn strict_mode_fails_with_the_variables_name() {
    for (name, value) in BAD {
        let (result, seen) = build(&[(name, value)], true);
        let error = result.err().unwrap_or_else(|| panic!("{name}: accepted"));
        assert_eq!(error.variable(), *name);
        assert!(seen.is_empty(), "{name}: an error, not a warning");
    }
}

#[test]
fn empty_is_unset() {
    for (name, _) in BAD {
        let (result, seen) = build(&[(name, "  ")], true);
        assert!(result.is_ok(), "{name}");
        assert!(seen.is_empty(), "{name}: {seen:?}");
    }
}

#[test]
fn known_values() {
    let (result, seen) = build(
        &[
            (
                "OTEL_PROPAGATORS",
                "tracecontext, XCloudTrace_OneWay,grpctracebin",
            ),
            ("OTEL_SEMCONV_STABILITY_OPT_IN", "http,rpc/old"),
            ("OTEL_SERVICE_NAME", "from-env"),
            ("OTEL_METRICS_EXEMPLAR_FILTER", "Always_Off"),
        ],
        true,
    );
    let telemetry = result.unwrap();
    assert!(seen.is_empty(), "{seen:?}");
    assert_eq!(telemetry.exemplar_filter(), ExemplarFilter::AlwaysOff);
    assert_eq!(
        telemetry.propagator(),
        Propagator::cloud_trace_one_way().with_grpc_trace_bin()
    );
    assert_eq!(telemetry.rpc_conventions(), RpcConventions::Classic);
    assert_eq!(telemetry.service_name(), "from-env");
}

#[test]
fn an_unknown_list_entry_is_ignored_and_the_rest_kept() {
    let (result, seen) = build(&[("OTEL_PROPAGATORS", "b3,xcloudtrace")], false);
    assert_eq!(
        result.unwrap().propagator(),
        Propagator::w3c_and_cloud_trace()
    );
    assert_eq!(seen.len(), 1, "{seen:?}");
}

#[cfg(feature = "prometheus")]
#[test]
fn prometheus_when_asked_else_a_404_service() {
    let (result, _) = build(&[("OTEL_METRICS_EXPORTER", "prometheus")], true);
    assert!(result.unwrap().metrics_service().is_enabled());
    let (result, _) = build(&[], true);
    assert!(!result.unwrap().metrics_service().is_enabled());
}

#[cfg(feature = "prometheus")]
#[test]
fn exponential_histograms_are_refused_next_to_prometheus() {
    let (result, seen) = build(
        &[
            ("OTEL_METRICS_EXPORTER", "prometheus"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION",
                "base2_exponential_bucket_histogram",
            ),
        ],
        false,
    );
    assert!(result.is_ok());
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].contains("Prometheus"), "{seen:?}");
}

/// The setup reads `OTEL_SEMCONV_STABILITY_OPT_IN` with the trace crate's parser, and the
/// layers it builds use what that gives.
#[test]
fn the_semconv_opt_in_is_read_as_the_trace_crate_reads_it() {
    #[rustfmt::skip]
    let cases = [
        ("rpc/dup,rpc", RpcConventions::Both, "rpc/dup wins over rpc"),
        ("rpc,rpc/old", RpcConventions::Current, "rpc wins over rpc/old"),
        ("RPC/DUP", RpcConventions::Both, "case-insensitive"),
        (" rpc/old ", RpcConventions::Classic, "trimmed"),
        ("http,database", RpcConventions::Current, "no rpc entry: the default"),
        ("http/dup,rpc/old", RpcConventions::Classic, "other categories ignored"),
    ];
    for (value, expected, why) in cases {
        let (result, seen) = build(&[("OTEL_SEMCONV_STABILITY_OPT_IN", value)], true);
        let telemetry = result.unwrap_or_else(|e| panic!("{value:?}: {e}"));
        assert!(seen.is_empty(), "{value:?}: {seen:?}");
        assert_eq!(telemetry.rpc_conventions(), expected, "{value:?}: {why}");
        assert_eq!(
            RpcConventions::from_opt_in(value).unwrap_or_default(),
            expected,
            "{value:?}: the trace crate agrees"
        );
    }
    // An unknown RPC entry next to known ones: one warning, the others still apply.
    let (result, seen) = build(
        &[("OTEL_SEMCONV_STABILITY_OPT_IN", "rpc/new, Rpc/Dup")],
        false,
    );
    assert_eq!(result.unwrap().rpc_conventions(), RpcConventions::Both);
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].contains("\"rpc/new\""), "{seen:?}");
}

/// Records the spans that end.
#[derive(Debug, Clone, Default)]
struct Capture(Arc<Mutex<Vec<opentelemetry_sdk::trace::SpanData>>>);

impl SpanProcessor for Capture {
    fn on_start(&self, _: &mut opentelemetry_sdk::trace::Span, _: &opentelemetry::Context) {}

    fn on_end(&self, span: opentelemetry_sdk::trace::SpanData) {
        self.0.lock().unwrap().push(span);
    }

    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }
}

/// The layers the setup builds follow the RPC conventions the opt-in selects: the server
/// and client spans of a gRPC call carry `rpc.system.name` (current), `rpc.system`
/// (classic), or both.
#[tokio::test]
async fn the_built_layers_use_the_selected_rpc_conventions() {
    use axum::body::Body;
    use tower::{Layer as _, ServiceExt as _};

    let grpc = || {
        axum::http::Response::builder()
            .header("content-type", "application/grpc")
            .header("grpc-status", "0")
            .body(Body::empty())
            .unwrap()
    };
    let call = || {
        axum::http::Request::post("http://svc.test/pkg.Greeter/SayHello")
            .header("content-type", "application/grpc")
            .body(Body::empty())
            .unwrap()
    };
    #[rustfmt::skip]
    let cases = [
        ("rpc/dup,rpc", true, true),
        ("rpc,rpc/old", true, false),
        ("RPC/OLD", false, true),
        ("http,database", true, false),
    ];
    for (value, current, classic) in cases {
        let capture = Capture::default();
        let vars: HashMap<&str, &str> = HashMap::from([
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "none"),
            ("OTEL_SEMCONV_STABILITY_OPT_IN", value),
        ]);
        let telemetry = Telemetry::builder("rpc")
            .with_vars(move |k| vars.get(k).map(|v| (*v).to_owned()))
            .with_span_processor(capture.clone())
            .strict(true)
            .build()
            .unwrap();
        let server = telemetry.server_layer().layer(tower::service_fn(|_| async {
            Ok::<_, std::convert::Infallible>(grpc())
        }));
        let client = telemetry.client_layer().layer(tower::service_fn(|_| async {
            Ok::<_, std::convert::Infallible>(grpc())
        }));
        let response = server.oneshot(call()).await.unwrap();
        axum::body::to_bytes(Body::new(response.into_body()), usize::MAX)
            .await
            .unwrap();
        let response = client.oneshot(call()).await.unwrap();
        axum::body::to_bytes(Body::new(response.into_body()), usize::MAX)
            .await
            .unwrap();
        let spans = capture.0.lock().unwrap().clone();
        assert_eq!(spans.len(), 2, "{value:?}: a server and a client span");
        for span in spans {
            let has = |key: &str| span.attributes.iter().any(|kv| kv.key.as_str() == key);
            assert_eq!(has("rpc.system.name"), current, "{value:?}: {span:?}");
            assert_eq!(has("rpc.system"), classic, "{value:?}: {span:?}");
        }
    }
}

/// The OTLP protocol variables: the signal's wins, case does not matter, `http/json` is
/// used with the `http-json` feature and otherwise warns, naming the variable and saying
/// what is used instead.
#[test]
fn otlp_protocol_selection() {
    let pick = |vars: &[(&str, &str)], strict: bool| {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let vars: Vars = Box::new(move |k| map.get(k).cloned());
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = Arc::clone(&seen);
        let diagnostics = Diagnostics::to(Arc::new(move |m: &str| {
            sink.lock().unwrap().push(m.to_owned());
        }));
        let env = Env::new(&vars, strict, &diagnostics);
        let picked = exporters::protocol_from_env(&env, "TRACES");
        let seen = seen.lock().unwrap().clone();
        (picked, seen)
    };
    const GENERAL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
    const TRACES: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
    #[rustfmt::skip]
    let cases: &[(&[(&str, &str)], OtlpProtocol)] = &[
        (&[], OtlpProtocol::HttpProtobuf),
        (&[(GENERAL, "grpc")], OtlpProtocol::Grpc),
        (&[(GENERAL, " GRPC ")], OtlpProtocol::Grpc),
        (&[(GENERAL, "grpc"), (TRACES, "http/protobuf")], OtlpProtocol::HttpProtobuf),
        (&[(GENERAL, "http/protobuf"), (TRACES, "grpc")], OtlpProtocol::Grpc),
        (&[(GENERAL, "grpc"), (TRACES, " ")], OtlpProtocol::Grpc),
    ];
    for (vars, expected) in cases {
        let (picked, seen) = pick(vars, true);
        assert_eq!(picked, Ok(*expected), "{vars:?}");
        assert!(seen.is_empty(), "{vars:?}: {seen:?}");
    }
    for name in [GENERAL, TRACES] {
        let (picked, seen) = pick(&[(name, "HTTP/JSON")], false);
        #[cfg(feature = "http-json")]
        {
            assert_eq!(picked, Ok(OtlpProtocol::HttpJson), "{name}");
            assert!(seen.is_empty(), "{name}: {seen:?}");
        }
        #[cfg(not(feature = "http-json"))]
        {
            assert_eq!(picked, Ok(OtlpProtocol::HttpProtobuf), "{name}");
            assert_eq!(seen.len(), 1, "{name}: {seen:?}");
            assert!(
                seen[0].starts_with(&format!("{name}=\"HTTP/JSON\" ignored"))
                    && seen[0].contains("`http-json` feature")
                    && seen[0].ends_with("using http/protobuf"),
                "{name}: {seen:?}"
            );
            let (picked, _) = pick(&[(name, "http/json")], true);
            assert_eq!(picked.unwrap_err().variable(), name, "strict");
        }
    }
}

/// `OTEL_TRACES_SAMPLER` is judged by what the SDK chose for it, not by a list of names.
#[test]
fn a_sampler_the_sdk_did_not_build_is_reported() {
    use opentelemetry_sdk::trace::Sampler;
    let fallback = format!("{:?}", Sampler::ParentBased(Box::new(Sampler::AlwaysOn)));
    let always_off = format!("{:?}", Sampler::AlwaysOff);
    let judge = |value: &str, chosen: &str, strict: bool| {
        let vars: Vars = Box::new(|_| None);
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = Arc::clone(&seen);
        let diagnostics = Diagnostics::to(Arc::new(move |m: &str| {
            sink.lock().unwrap().push(m.to_owned());
        }));
        let env = Env::new(&vars, strict, &diagnostics);
        let result = env::check_sampler_choice(&env, value, chosen);
        let seen = seen.lock().unwrap().clone();
        (result, seen)
    };
    // (the value, what the SDK chose, whether it is reported)
    #[rustfmt::skip]
    let cases = [
        ("always_off", &always_off, false),
        ("parentbased_always_on", &fallback, false),
        ("", &fallback, false),
        ("sometimes", &fallback, true),
        ("ALWAYS_OFF", &fallback, true),
        ("xray", &fallback, true),
    ];
    for (value, chosen, reported) in cases {
        let (result, seen) = judge(value, chosen, false);
        assert_eq!(result, Ok(()), "{value:?}");
        assert_eq!(seen.len(), usize::from(reported), "{value:?}: {seen:?}");
        if reported {
            assert!(
                seen[0].starts_with(&format!("OTEL_TRACES_SAMPLER={value:?} ignored")),
                "{seen:?}"
            );
            let (result, _) = judge(value, chosen, true);
            assert_eq!(result.unwrap_err().variable(), "OTEL_TRACES_SAMPLER");
        }
    }
    // The SDK's own reading of the variable, in a process of its own (a test cannot set
    // this one's environment).
    for (value, reported) in [
        ("sometimes", true),
        ("Always_Off", true),
        ("always_off", false),
    ] {
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "setup::tests::sampler_in_a_process", "--ignored"])
            .env("OTEL_TRACES_SAMPLER", value)
            .env("SAMPLER_REPORTED", if reported { "1" } else { "0" })
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("1 passed"),
            "OTEL_TRACES_SAMPLER={value}: {stdout}"
        );
    }
}

/// Run by `a_sampler_the_sdk_did_not_build_is_reported` with `OTEL_TRACES_SAMPLER` set.
#[test]
#[ignore = "run in a process of its own, with OTEL_TRACES_SAMPLER set"]
fn sampler_in_a_process() {
    let value = std::env::var("OTEL_TRACES_SAMPLER").unwrap();
    let reported = std::env::var("SAMPLER_REPORTED").unwrap() == "1";
    let (result, seen) = build(&[], false);
    assert!(result.is_ok());
    assert_eq!(seen.len(), usize::from(reported), "{value}: {seen:?}");
    let (result, _) = build(&[], true);
    assert_eq!(
        result.err().map(|e| e.variable().to_owned()),
        reported.then(|| "OTEL_TRACES_SAMPLER".to_owned()),
        "{value}: strict"
    );
}

#[test]
fn export_failures_are_reported_first_then_summarized() {
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = Arc::clone(&seen);
    let diagnostics = Diagnostics::to(Arc::new(move |m: &str| {
        sink.lock().unwrap().push(m.to_owned());
    }));
    let report = ExportReport::new(
        "traces",
        "trace export over OTLP".to_owned(),
        Duration::from_millis(50),
        diagnostics,
    );
    let failed = || {
        Err(opentelemetry_sdk::error::OTelSdkError::InternalFailure(
            "down".into(),
        ))
    };
    for _ in 0..5 {
        report.record(&failed());
    }
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "the first at once, then quiet"
    );
    std::thread::sleep(Duration::from_millis(60));
    report.record(&failed());
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        seen[0].contains("failed") && seen[0].contains("down"),
        "{seen:?}"
    );
    assert!(seen[1].contains("5 batches dropped"), "{seen:?}");
}

/// The certificate variables (feature `tls`; read when an OTLP exporter is built): a file
/// that cannot be read or holds no PEM, or half a client identity, gets one warning naming
/// the variable and the default; strict mode fails with the name; the per-signal variable
/// wins over the general one.
#[cfg(feature = "tls")]
#[test]
fn certificate_variables_follow_the_rules() {
    let dir = std::env::temp_dir().join(format!("tt-tls-vars-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let garbage = dir.join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let garbage = garbage.to_str().unwrap();
    // Both signals over OTLP: a general variable is read for each, and warned about once.
    let otlp = [
        ("OTEL_TRACES_EXPORTER", "otlp"),
        ("OTEL_METRICS_EXPORTER", "otlp"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://127.0.0.1:1"),
    ];
    // (the variables, the one at fault, the reason given)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: &[Case<'_>] = &[
        (
            &[("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem")],
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            "cannot read it",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_CERTIFICATE", garbage)],
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            "no PEM certificate",
        ),
        (
            &[
                // Traces only: the general variable is not read at all.
                ("OTEL_METRICS_EXPORTER", "none"),
                ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/general.pem"),
                ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", garbage),
            ],
            "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
            "no PEM certificate",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_CLIENT_KEY", garbage)],
            "OTEL_EXPORTER_OTLP_CLIENT_KEY",
            "no PEM private key",
        ),
        (
            &[("OTEL_EXPORTER_OTLP_TIMEOUT", "soon")],
            "OTEL_EXPORTER_OTLP_TIMEOUT",
            "expected milliseconds",
        ),
    ];
    for (vars, name, reason) in cases {
        let all: Vec<_> = otlp.iter().chain(vars.iter()).copied().collect();
        let (result, seen) = build(&all, false);
        assert!(result.is_ok(), "{name}: {result:?}");
        assert_eq!(seen.len(), 1, "{name}: one warning: {seen:?}");
        assert!(
            seen[0].starts_with(&format!("{name}=")) && seen[0].contains(reason),
            "{name}: {seen:?}"
        );
        let (result, _) = build(&all, true);
        assert_eq!(result.unwrap_err().variable(), *name, "strict");
    }
    // A CA file whose PEM holds no valid certificate.
    let pem = "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n";
    let bad_ca = dir.join("bad-ca.pem");
    std::fs::write(&bad_ca, pem).unwrap();
    let all: Vec<_> = otlp
        .iter()
        .copied()
        .chain([("OTEL_EXPORTER_OTLP_CERTIFICATE", bad_ca.to_str().unwrap())])
        .collect();
    let (result, seen) = build(&all, false);
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].contains("not a valid X.509 certificate"),
        "{seen:?}"
    );
    // A client certificate and a key that parse but don't make an identity.
    let key = dir.join("key.pem");
    std::fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let client = dir.join("client-cert.pem");
    std::fs::write(&client, pem).unwrap();
    let all: Vec<_> = otlp
        .iter()
        .copied()
        .chain([
            (
                "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                client.to_str().unwrap(),
            ),
            ("OTEL_EXPORTER_OTLP_CLIENT_KEY", key.to_str().unwrap()),
        ])
        .collect();
    let (result, seen) = build(&all, false);
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].starts_with("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE=")
            && seen[0].contains("unusable with its key"),
        "{seen:?}"
    );
    // A client certificate without its key.
    let half = dir.join("client.pem");
    std::fs::write(&half, pem).unwrap();
    let all: Vec<_> = otlp
        .iter()
        .copied()
        .chain([(
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
            half.to_str().unwrap(),
        )])
        .collect();
    let (result, seen) = build(&all, false);
    assert!(result.is_ok());
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].contains("needs its key"), "{seen:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

// === what exporters lose, and the shutdown's lines ===

/// Diagnostics collected in memory.
fn collecting() -> (Diagnostics, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = Arc::clone(&seen);
    let diagnostics = Diagnostics::to(Arc::new(move |m: &str| {
        sink.lock().unwrap().push(m.to_owned());
    }));
    (diagnostics, seen)
}

/// A span exporter that counts what it is handed, waits for `open` before each export (a
/// slow collector), then answers `result`.
#[derive(Debug, Clone)]
struct Collector {
    open: Arc<(Mutex<bool>, std::sync::Condvar)>,
    exported: Arc<std::sync::atomic::AtomicUsize>,
    result: Result<(), &'static str>,
}

impl Collector {
    fn new(open: bool, result: Result<(), &'static str>) -> Self {
        Collector {
            open: Arc::new((Mutex::new(open), std::sync::Condvar::new())),
            exported: Arc::default(),
            result,
        }
    }

    fn open(&self) {
        *self.open.0.lock().unwrap() = true;
        self.open.1.notify_all();
    }
}

impl opentelemetry_sdk::trace::SpanExporter for Collector {
    async fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        let (open, changed) = &*self.open;
        let mut is_open = open.lock().unwrap();
        while !*is_open {
            is_open = changed.wait(is_open).unwrap();
        }
        self.exported
            .fetch_add(batch.len(), std::sync::atomic::Ordering::SeqCst);
        self.result
            .map_err(|e| opentelemetry_sdk::error::OTelSdkError::InternalFailure(e.into()))
    }
}

/// A processor in front of `collector`, reported as `what`.
fn counted(
    collector: &Collector,
    what: &str,
    capacity: usize,
    diagnostics: &Diagnostics,
    interval: Duration,
) -> (
    queue::Counted<opentelemetry_sdk::trace::BatchSpanProcessor>,
    Arc<ExportReport>,
) {
    let report = ExportReport::new("traces", what.to_owned(), interval, diagnostics.clone());
    let exporter = report::Reported {
        inner: collector.clone(),
        report: Arc::clone(&report),
    };
    (
        queue::with_capacity(exporter, Arc::clone(&report), capacity),
        report,
    )
}

/// The counts of "N spans dropped (queue full)" in `messages`, summed.
fn dropped_in(messages: &[String]) -> usize {
    messages
        .iter()
        .filter_map(|m| {
            let before = m.split(" span").next()?;
            let count = before.rsplit(' ').next()?.replace(',', "");
            m.contains("dropped (queue full)")
                .then(|| count.parse::<usize>().ok())?
        })
        .sum()
}

/// A collector slower than the traffic: the queue fills; the first drop is reported at once,
/// then summaries with counts; every span ended is either exported or counted on the way out.
#[test]
fn every_span_is_exported_or_counted_as_dropped() {
    let (diagnostics, seen) = collecting();
    let collector = Collector::new(false, Ok(()));
    let (processor, report) = counted(
        &collector,
        "trace export over OTLP",
        16,
        &diagnostics,
        Duration::from_millis(50),
    );
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .build();
    let tracer = provider.tracer("test");
    use opentelemetry::trace::{Span as _, Tracer as _};
    for _ in 0..150 {
        tracer.start("span").end();
    }
    std::thread::sleep(Duration::from_millis(60));
    for _ in 0..150 {
        tracer.start("span").end();
    }
    {
        let seen = seen.lock().unwrap();
        assert!(
            seen[0].starts_with("trace export over OTLP: the queue of 16 spans is full"),
            "{seen:?}"
        );
        assert!(
            seen[1].starts_with("trace export over OTLP: ")
                && seen[1].contains(" spans dropped (queue full) in the last 0.1 s"),
            "{seen:?}"
        );
    }
    collector.open();
    shutdown::shutdown_within(
        provider,
        SdkMeterProvider::default(),
        Duration::from_secs(5),
        &diagnostics,
        &[report],
    );
    let seen = seen.lock().unwrap().clone();
    let exported = collector.exported.load(std::sync::atomic::Ordering::SeqCst);
    assert!(exported > 0 && exported <= 32, "{exported}");
    assert_eq!(exported + dropped_in(&seen), 300, "{seen:?}");
    let last = seen.last().unwrap();
    assert!(
        last.starts_with("trace export over OTLP: flushed; since the last report: "),
        "{seen:?}"
    );
}

/// One line per exporter at shutdown, in order: flushed, failed (why), timed out; nothing
/// after it, not even the failure of the export the timeout left running.
#[test]
fn the_shutdown_says_one_line_per_exporter_and_nothing_after() {
    let (diagnostics, seen) = collecting();
    let interval = Duration::from_secs(60);
    let fine = Collector::new(true, Ok(()));
    let down = Collector::new(true, Err("connection refused"));
    let hole = Collector::new(false, Err("dispatch task is gone"));
    let (a, fine_report) = counted(&fine, "trace export A", 64, &diagnostics, interval);
    let (b, down_report) = counted(&down, "trace export B", 64, &diagnostics, interval);
    let (c, hole_report) = counted(&hole, "trace export C", 64, &diagnostics, interval);
    let provider = SdkTracerProvider::builder()
        .with_span_processor(a)
        .with_span_processor(b)
        .with_span_processor(c)
        .build();
    use opentelemetry::trace::{Span as _, Tracer as _};
    provider.tracer("test").start("span").end();
    let budget = Duration::from_millis(300);
    let started = std::time::Instant::now();
    shutdown::shutdown_within(
        provider,
        SdkMeterProvider::default(),
        budget,
        &diagnostics,
        &[fine_report, down_report, hole_report],
    );
    assert!(started.elapsed() < budget + Duration::from_millis(200));
    // The black hole answers (fails) after the timeout.
    hole.open();
    std::thread::sleep(Duration::from_millis(200));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            "trace export A: flushed",
            "trace export B: failed: Operation failed: connection refused",
            "trace export C: timed out after 0.3 s: what it still held is lost",
        ],
    );
}
