//! Conformance of the codecs and propagators to the specifications they implement, each
//! requirement a test (or a table of vectors with the reason each is valid or not) whose doc
//! comment names the section it comes from:
//!
//! - W3C Trace Context Level 2 (<https://www.w3.org/TR/trace-context-2/>): §3.2 "Traceparent
//!   Header", §3.3 "Tracestate Header", §3.4 "Mutating the traceparent Field", §3.5
//!   "Mutating the tracestate Field" and §4 "Processing Model"; Level 1
//!   (<https://www.w3.org/TR/trace-context/>) for its narrower `tracestate` key grammar;
//! - W3C Baggage (<https://www.w3.org/TR/baggage/>): "Header Content" and "Limits";
//! - Google Cloud Trace's `X-Cloud-Trace-Context` header
//!   (<https://cloud.google.com/trace/docs/trace-context>): `TRACE_ID/SPAN_ID;o=OPTIONS`;
//! - the OpenCensus binary format (census-instrumentation/opencensus-specs,
//!   `encodings/BinaryEncoding.md`, "Trace Context") as gRPC carries it in `grpc-trace-bin`
//!   (grpc/grpc `doc/PROTOCOL-HTTP2.md`, binary `-bin` metadata in base64; gRFC A72
//!   "OpenTelemetry Tracing").
//!
//! Each goes through the codecs, the `HeaderMap` path, the `TextMapPropagator` path and, where
//! the requirement is about continuing a trace, a real SDK span in between. Where the W3C
//! test suite (w3c/trace-context `test/test.py`) has a matching case, the vectors include it.

use std::collections::HashMap;

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer, TracerProvider,
};
use opentelemetry::{Context, StringValue};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tower_telemetry_propagation::{
    BaggagePropagator, CloudTracePropagator, GrpcTraceBinPropagator, Header, HeaderPropagator,
    KeyGrammar, ParseErrorKind, Propagator, Source, TraceContextPropagator, TraceStateList,
    baggage, cloud_trace, grpc_trace_bin, traceparent,
};

const TRACE_ID: &str = "12345678901234567890123456789012";
const VALID: &str = "00-12345678901234567890123456789012-1234567890123456-01";

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

fn extract(pairs: &[(&str, &str)]) -> Option<SpanContext> {
    TraceContextPropagator::new().extract(&headers(pairs))
}

/// Continues the extracted context through a real SDK span, as a service would, and returns
/// the headers it sends downstream.
fn continue_through_sdk(incoming: &HeaderMap, propagator: &impl HeaderPropagator) -> HeaderMap {
    let provider = SdkTracerProvider::builder().build();
    let tracer = provider.tracer("conformance");
    let parent = propagator.extract_headers(incoming, &Context::new());
    let span = tracer.start_with_context("server", &parent);
    let cx = parent.with_span(span);
    let mut outgoing = HeaderMap::new();
    propagator.inject_headers(&cx, &mut outgoing);
    outgoing
}

fn outgoing_traceparent(out: &HeaderMap) -> SpanContext {
    let values: Vec<_> = out.get_all("traceparent").iter().collect();
    assert_eq!(values.len(), 1, "exactly one traceparent is sent");
    traceparent::parse(values[0]).expect("we only send valid traceparents")
}

// ---------------------------------------------------------------------------------------------
// traceparent parsing: W3C Trace Context Level 2, §3.2 "Traceparent Header" and §3.3

/// W3C Trace Context Level 2, §3.2.3 "Examples of HTTP traceparent Headers": the sampled
/// example parses to its trace-id, parent-id and sampled flag, as a remote context.
#[test]
fn traceparent_specification_example_parses() {
    let sc = traceparent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
    assert_eq!(
        sc.trace_id(),
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap()
    );
    assert_eq!(sc.span_id(), SpanId::from_hex("00f067aa0ba902b7").unwrap());
    assert!(sc.is_sampled());
    assert!(sc.is_remote());
}

/// W3C Trace Context Level 2, §3.2.1 "Header Name": the name is ASCII case-insensitive and a
/// single word, without delimiters (W3C test suite: `test_traceparent_header_name`,
/// `test_traceparent_header_name_valid_casing`).
#[test]
fn traceparent_header_name_is_case_insensitive_and_one_word() {
    #[rustfmt::skip]
    let cases: &[(&str, bool, &str)] = &[
        ("traceparent", true,  "canonical name"),
        ("TraceParent", true,  "names are ASCII case-insensitive"),
        ("TRACEPARENT", true,  "names are ASCII case-insensitive"),
        ("TrAcEpArEnT", true,  "names are ASCII case-insensitive"),
        ("trace-parent", false, "a different header: the name is one word"),
        ("trace.parent", false, "a different header: the name is one word"),
    ];
    for (name, valid, why) in cases {
        // HeaderMap path.
        assert_eq!(
            extract(&[(name, VALID)]).is_some(),
            *valid,
            "HeaderMap {name}: {why}"
        );
        // TextMapPropagator path with a case-folding carrier.
        let carrier: HashMap<String, String> =
            HashMap::from([(name.to_lowercase(), VALID.to_owned())]);
        let cx = TextMapPropagator::extract(&TraceContextPropagator::new(), &carrier);
        assert_eq!(
            cx.span().span_context().is_valid(),
            *valid,
            "Extractor {name}: {why}"
        );
    }
}

/// W3C Trace Context Level 2, §3.2.2 "traceparent Header Field Values" (§3.2.2.1 version,
/// §3.2.2.2 version-format, §3.2.2.3 trace-id, §3.2.2.4 parent-id, §3.2.2.5 trace-flags and
/// §3.2.2.5.3 "Other Flags") and §3.2.4 "Versioning of traceparent", with optional whitespace
/// around the field value (RFC 9110 §5.5): each vector accepted or rejected for its reason, and
/// what is accepted re-encoded as version 00 with the known flags only.
#[test]
fn traceparent_field_value_vectors() {
    #[rustfmt::skip]
    let cases: &[(&str, Result<&str, ParseErrorKind>, &str)] = &[
        // OWS around the value (RFC 9110 §5.5; W3C test suite: test_traceparent_ows_handling)
        ("\t 00-12345678901234567890123456789012-1234567890123456-01 \t", Ok("01"), "OWS: SP/HTAB around the value"),
        (" 00-12345678901234567890123456789012-1234567890123456-01",      Ok("01"), "OWS: leading space"),
        // §3.2.2.1 version: ff is forbidden
        ("ff-12345678901234567890123456789012-1234567890123456-01", Err(ParseErrorKind::ForbiddenVersion), "version: ff is forbidden"),
        // §3.2.2.1 version: two lowercase hex digits (2HEXDIGLC)
        ("0-12345678901234567890123456789012-1234567890123456-01",    Err(ParseErrorKind::Version), "version: too short"),
        ("000-12345678901234567890123456789012-1234567890123456-01",  Err(ParseErrorKind::Version), "version: too long"),
        ("0000-12345678901234567890123456789012-1234567890123456-01", Err(ParseErrorKind::Version), "version: too long"),
        (".0-12345678901234567890123456789012-1234567890123456-01",   Err(ParseErrorKind::Version), "version: not hex"),
        ("0.-12345678901234567890123456789012-1234567890123456-01",   Err(ParseErrorKind::Version), "version: not hex"),
        ("A0-12345678901234567890123456789012-1234567890123456-01",   Err(ParseErrorKind::Version), "version: uppercase"),
        // §3.2.2.2 version-format: version 00 ends with trace-flags (no data after them)
        ("00-12345678901234567890123456789012-1234567890123456-01.",  Err(ParseErrorKind::TrailingData), "version-format: version 00 is exactly 55 chars"),
        ("00-12345678901234567890123456789012-1234567890123456-01-x", Err(ParseErrorKind::TrailingData), "version-format: no future fields in version 00"),
        ("00-12345678901234567890123456789012-1234567890123456-01-",  Err(ParseErrorKind::TrailingData), "version-format: trailing dash (the SDK accepts it)"),
        ("00-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like", Err(ParseErrorKind::TrailingData), "version-format: W3C test suite vector"),
        // §3.2.4 Versioning of traceparent: a higher version, parsed as 00, may have more fields
        ("cc-12345678901234567890123456789012-1234567890123456-01",   Ok("01"), "versioning: future version, 4 fields"),
        ("cc-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like", Ok("01"), "versioning: future fields after '-'"),
        ("01-12345678901234567890123456789012-1234567890123456-00-",  Ok("00"), "versioning: future version, empty future field"),
        // §3.2.4: in a higher version, trace-flags end the value or are followed by '-'
        ("cc-12345678901234567890123456789012-1234567890123456-01.what-the-future-will-be-like", Err(ParseErrorKind::TrailingData), "versioning: flags must end the value or be followed by '-'"),
        // §3.2.4: a higher version shorter than 55 characters restarts the trace
        ("cc-12345678901234567890123456789012-1234567890123456-0",    Err(ParseErrorKind::Flags), "versioning: shorter than 55"),
        ("cc-1234567890123456789012345678901-1234567890123456-01",    Err(ParseErrorKind::TraceId), "versioning: short trace-id in a future version"),
        // §3.2.2.3 trace-id: 32 lowercase hex digits
        ("00-1234567890123456789012345678901-1234567890123456-01",    Err(ParseErrorKind::TraceId), "trace-id: 31 hex digits"),
        ("00-123456789012345678901234567890123-1234567890123456-01",  Err(ParseErrorKind::TraceId), "trace-id: 33 hex digits"),
        ("00-.2345678901234567890123456789012-1234567890123456-01",   Err(ParseErrorKind::TraceId), "trace-id: not hex"),
        ("00-1234567890123456789012345678901.-1234567890123456-01",   Err(ParseErrorKind::TraceId), "trace-id: not hex"),
        ("00-4BF92F3577B34DA6A3CE929D0E0E4736-1234567890123456-01",   Err(ParseErrorKind::TraceId), "trace-id: uppercase"),
        ("00-+2345678901234567890123456789012-1234567890123456-01",   Err(ParseErrorKind::TraceId), "trace-id: leading + (from_str_radix accepts it)"),
        // §3.2.2.3 trace-id: all zeros is invalid
        ("00-00000000000000000000000000000000-1234567890123456-01",   Err(ParseErrorKind::ZeroTraceId), "trace-id: all zeros"),
        // §3.2.2.4 parent-id: 16 lowercase hex digits, not all zeros
        ("00-12345678901234567890123456789012-123456789012345-01",    Err(ParseErrorKind::SpanId), "parent-id: 15 hex digits"),
        ("00-12345678901234567890123456789012-12345678901234567-01",  Err(ParseErrorKind::SpanId), "parent-id: 17 hex digits"),
        ("00-12345678901234567890123456789012-.234567890123456-01",   Err(ParseErrorKind::SpanId), "parent-id: not hex"),
        ("00-12345678901234567890123456789012-123456789012345.-01",   Err(ParseErrorKind::SpanId), "parent-id: not hex"),
        ("00-12345678901234567890123456789012-ABCDEF7890123456-01",   Err(ParseErrorKind::SpanId), "parent-id: uppercase"),
        ("00-12345678901234567890123456789012-0000000000000000-01",   Err(ParseErrorKind::ZeroSpanId), "parent-id: all zeros"),
        // §3.2.2.5 trace-flags: two lowercase hex digits
        ("00-12345678901234567890123456789012-1234567890123456-0",    Err(ParseErrorKind::Flags), "trace-flags: one digit"),
        ("00-12345678901234567890123456789012-1234567890123456-011",  Err(ParseErrorKind::TrailingData), "trace-flags: three digits"),
        ("00-12345678901234567890123456789012-1234567890123456-.0",   Err(ParseErrorKind::Flags), "trace-flags: not hex"),
        ("00-12345678901234567890123456789012-1234567890123456-0.",   Err(ParseErrorKind::Flags), "trace-flags: not hex"),
        ("00-12345678901234567890123456789012-1234567890123456-0A",   Err(ParseErrorKind::Flags), "trace-flags: uppercase"),
        // §3.2.2.5.3 Other Flags: unknown bits are set to zero; §3.2.2.5.2 random is known
        ("00-12345678901234567890123456789012-1234567890123456-09",   Ok("01"), "other flags: 0x08 is reserved and cleared; sampled kept"),
        ("00-12345678901234567890123456789012-1234567890123456-ff",   Ok("03"), "other flags: sampled and random kept, the rest cleared"),
        ("00-12345678901234567890123456789012-1234567890123456-02",   Ok("02"), "random flag: random, not sampled"),
        // Also from the grammar: an empty value, a version alone.
        ("",                                                          Err(ParseErrorKind::Missing), "empty value"),
        ("00",                                                        Err(ParseErrorKind::Version), "version only"),
    ];
    for (input, expected, why) in cases {
        let got = traceparent::parse(input);
        match (expected, &got) {
            (Ok(flags), Ok(sc)) => {
                assert_eq!(
                    sc.trace_id(),
                    TraceId::from_hex(TRACE_ID).unwrap(),
                    "{input:?}: {why}"
                );
                let out = traceparent::encode(sc);
                assert_eq!(
                    std::str::from_utf8(&out).unwrap(),
                    format!("00-{TRACE_ID}-1234567890123456-{flags}"),
                    "{input:?}: {why}: re-encoded as version 00 with known flags only"
                );
            }
            (Err(kind), Err(e)) => assert_eq!(e.kind(), *kind, "{input:?}: {why}"),
            _ => panic!("{input:?}: {why}: expected {expected:?}, got {got:?}"),
        }
        // Whatever the codec says, the propagator agrees.
        assert_eq!(
            extract(&[("traceparent", input)]).is_some(),
            expected.is_ok(),
            "{input:?}"
        );
    }
}

/// W3C Trace Context Level 2, §3.2.2.3 "trace-id" (all zeros is invalid, the `traceparent` is
/// ignored) and §4.1.2 "A traceparent is Received" (an invalid one makes a new trace): the
/// all-zero trace-id is never sent downstream.
#[test]
fn zero_trace_id_is_never_sent_downstream() {
    let incoming = headers(&[(
        "traceparent",
        "00-00000000000000000000000000000000-1234567890123456-01",
    )]);
    let out = continue_through_sdk(&incoming, &Propagator::w3c());
    assert_ne!(outgoing_traceparent(&out).trace_id(), TraceId::INVALID);
}

/// W3C Trace Context Level 2, §3.2.2 "traceparent Header Field Values": a `traceparent` is one
/// value, not a list, so two fields (RFC 9110 §5.3 "Field Order" allows several only for a
/// list) are invalid and the trace restarts (§3.4 "Restart trace"; W3C test suite:
/// `test_traceparent_duplicated`), through both extraction paths.
#[test]
fn two_traceparent_fields_restart_the_trace() {
    let incoming = headers(&[
        (
            "traceparent",
            "00-12345678901234567890123456789011-1234567890123456-01",
        ),
        (
            "traceparent",
            "00-12345678901234567890123456789012-1234567890123456-01",
        ),
    ]);
    assert_eq!(TraceContextPropagator::new().extract(&incoming), None);
    let sent = outgoing_traceparent(&continue_through_sdk(&incoming, &Propagator::w3c()));
    for old in [
        "12345678901234567890123456789011",
        "12345678901234567890123456789012",
    ] {
        assert_ne!(sent.trace_id(), TraceId::from_hex(old).unwrap());
    }
    // The same through the TextMapPropagator path with a carrier that keeps every field.
    let extractor = opentelemetry_http::HeaderExtractor(&incoming);
    let cx = TextMapPropagator::extract(&TraceContextPropagator::new(), &extractor);
    assert!(!cx.span().span_context().is_valid());
}

/// W3C Trace Context Level 2, §3.3 "Tracestate Header": if `traceparent` failed to parse,
/// `tracestate` MUST NOT be parsed; §4.1.2 "A traceparent is Received": the vendor creates a
/// new `traceparent` and deletes `tracestate`.
#[test]
fn invalid_traceparent_drops_tracestate() {
    let incoming = headers(&[
        (
            "traceparent",
            "00-12345678901234567890123456789012-1234567890123456-0.",
        ),
        ("tracestate", "foo=1"),
    ]);
    let out = continue_through_sdk(&incoming, &Propagator::w3c());
    let sent = outgoing_traceparent(&out);
    assert_ne!(
        sent.trace_id(),
        TraceId::from_hex(TRACE_ID).unwrap(),
        "a new trace starts"
    );
    assert!(
        out.get("tracestate").is_none(),
        "tracestate is not parsed nor forwarded"
    );
}

/// W3C Trace Context Level 2, §3.3 "Tracestate Header": failure to parse `tracestate` MUST NOT
/// affect the parsing of `traceparent`.
#[test]
fn invalid_tracestate_does_not_affect_traceparent() {
    let sc = extract(&[("traceparent", VALID), ("tracestate", "FOO=1")]).expect("trace continues");
    assert_eq!(sc.trace_id(), TraceId::from_hex(TRACE_ID).unwrap());
    assert_eq!(sc.trace_state(), &TraceState::NONE);
}

// ---------------------------------------------------------------------------------------------
// traceparent generation and propagation: W3C Trace Context Level 2, §3.2.2.5.2 and §3.4

/// W3C Trace Context Level 2, §3.2.4 "Versioning of traceparent" (the header is built to the
/// highest version known, 00) and §3.2.2 "traceparent Header Field Values": what goes out is
/// one `traceparent`, 55 characters of version 00 in lowercase hex.
#[test]
fn outbound_traceparent_is_version_00_lowercase_hex() {
    let out = continue_through_sdk(&HeaderMap::new(), &Propagator::w3c());
    let names: Vec<_> = out.keys().map(HeaderName::as_str).collect();
    assert_eq!(names, ["traceparent"]);
    let value = out["traceparent"].to_str().unwrap();
    assert_eq!(value.len(), 55);
    assert!(value.starts_with("00-"));
    assert!(
        value
            .bytes()
            .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{value}"
    );
}

/// W3C Trace Context Level 2, §3.4 "Mutating the traceparent Field" ("Update parent-id") and
/// §4.1.2 "A traceparent is Received" (step 4, for each outgoing request): the trace-id is
/// kept and every outgoing request carries a new parent-id of its own.
#[test]
fn continuing_a_trace_sends_a_new_parent_id_per_outgoing_request() {
    let provider = SdkTracerProvider::builder().build();
    let tracer = provider.tracer("conformance");
    let propagator = Propagator::w3c();
    let parent = propagator.extract_headers(&headers(&[("traceparent", VALID)]), &Context::new());
    let server = parent.with_span(tracer.start_with_context("server", &parent));
    let mut parent_ids = std::collections::HashSet::new();
    for _ in 0..5 {
        // One client span per outbound call.
        let client = server.with_span(tracer.start_with_context("client", &server));
        let mut out = HeaderMap::new();
        propagator.inject_headers(&client, &mut out);
        let sent = outgoing_traceparent(&out);
        assert_eq!(
            sent.trace_id(),
            TraceId::from_hex(TRACE_ID).unwrap(),
            "same trace-id"
        );
        assert_ne!(
            sent.span_id(),
            SpanId::from_hex("1234567890123456").unwrap(),
            "new parent-id"
        );
        parent_ids.insert(sent.span_id());
    }
    assert_eq!(parent_ids.len(), 5, "N calls, N distinct parent-ids");
}

/// W3C Trace Context Level 2, §3.2.2.5.2 "Random Trace ID Flag", when continuing a trace: set
/// on the incoming `traceparent`, it MUST be set on every outgoing one with the same trace-id;
/// unset, it MUST stay unset.
#[test]
fn random_trace_id_flag_follows_the_trace_id() {
    // Set: the incoming random flag is kept by the codec, the propagator and the SDK's
    // recorded children. (A child the SDK *drops* gets default flags from the SDK itself; the
    // tower-trace server layer restores the bit for that case, as it owns span creation.)
    let sc = extract(&[(
        "traceparent",
        "00-12345678901234567890123456789012-1234567890123456-03",
    )])
    .unwrap();
    assert_eq!(
        sc.trace_flags() & traceparent::RANDOM_TRACE_ID,
        traceparent::RANDOM_TRACE_ID
    );
    let incoming = headers(&[(
        "traceparent",
        "00-12345678901234567890123456789012-1234567890123456-03",
    )]);
    let sent = outgoing_traceparent(&continue_through_sdk(&incoming, &Propagator::w3c()));
    assert_eq!(
        sent.trace_flags().to_u8(),
        0x03,
        "sampled child keeps the random flag"
    );

    // Pass-through of an unsampled random context (no span made): the bit is kept.
    let incoming = headers(&[(
        "traceparent",
        "00-12345678901234567890123456789012-1234567890123456-02",
    )]);
    let cx = Propagator::w3c().extract_headers(&incoming, &Context::new());
    let mut out = HeaderMap::new();
    Propagator::w3c().inject_headers(&cx, &mut out);
    assert!(out["traceparent"].to_str().unwrap().ends_with("-02"));

    // Unset: without the flag on input, never on output.
    let sent = outgoing_traceparent(&continue_through_sdk(
        &headers(&[("traceparent", VALID)]),
        &Propagator::w3c(),
    ));
    assert_eq!(
        sent.trace_flags() & traceparent::RANDOM_TRACE_ID,
        TraceFlags::NOT_SAMPLED
    );
}

/// W3C Trace Context Level 2, §3.4 "Mutating the traceparent Field": without an incoming
/// `traceparent`, one is generated for outbound requests even when not sampling; §3.2.2.3
/// "trace-id" and §3.2.2.5.2 "Random Trace ID Flag": the flag is set when the trace-id is
/// random.
#[test]
fn new_trace_is_always_propagated() {
    // No incoming traceparent, not sampled: a valid traceparent still goes out.
    let provider = SdkTracerProvider::builder()
        .with_sampler(opentelemetry_sdk::trace::Sampler::AlwaysOff)
        .build();
    let tracer = provider.tracer("conformance");
    let span = tracer.start_with_context("server", &Context::new());
    let cx = Context::new().with_span(span);
    let mut out = HeaderMap::new();
    Propagator::w3c().inject_headers(&cx, &mut out);
    let sent = outgoing_traceparent(&out);
    assert!(!sent.is_sampled());
    assert_ne!(sent.trace_id(), TraceId::INVALID);
    // The formatter writes the random flag whenever the context carries it.
    let root = SpanContext::new(
        sent.trace_id(),
        sent.span_id(),
        traceparent::RANDOM_TRACE_ID,
        false,
        TraceState::NONE,
    );
    assert!(
        std::str::from_utf8(&traceparent::encode(&root))
            .unwrap()
            .ends_with("-02")
    );
}

// ---------------------------------------------------------------------------------------------
// tracestate: W3C Trace Context Level 2, §3.3 "Tracestate Header" and §3.5

fn tracestate_of(fields: &[&str]) -> Option<String> {
    let mut pairs = vec![("traceparent", VALID)];
    pairs.extend(fields.iter().map(|f| ("tracestate", *f)));
    let incoming = headers(&pairs);
    // Pass-through (no span): what goes downstream.
    let cx = Propagator::w3c().extract_headers(&incoming, &Context::new());
    let mut out = HeaderMap::new();
    Propagator::w3c().inject_headers(&cx, &mut out);
    assert!(
        out.get_all("tracestate").iter().count() <= 1,
        "one field at most"
    );
    out.get("tracestate")
        .map(|v| v.to_str().unwrap().to_owned())
}

/// W3C Trace Context Level 2, §4.1.1 "No traceparent Received": a `tracestate` received without
/// a `traceparent` is invalid and MUST be discarded (W3C test suite:
/// `test_tracestate_included_traceparent_missing`).
#[test]
fn tracestate_without_traceparent_is_discarded() {
    let incoming = headers(&[("tracestate", "foo=1")]);
    let out = continue_through_sdk(&incoming, &Propagator::w3c());
    assert!(out.get("tracestate").is_none());
}

/// W3C Trace Context Level 2, §3.3.2 "tracestate Header Field Values" (several fields combine
/// as RFC 9110 §5.3 "Field Order" says; empty and whitespace-only members are allowed; at
/// most 32 members), §3.3.2.1 "list", §3.3.2.2.1 "Key", §3.3.2.2.2 "Value", §3.3.3 "Combined
/// Header Value" (one entry per key) and §3.5 "Mutating the tracestate Field" (what is received
/// is sent on): each vector with the `tracestate` sent downstream, or none.
#[test]
fn tracestate_field_value_vectors() {
    let key_l2 = "abcdefghijklmnopqrstuvwxyz0123456789_-*/";
    let all_value_chars: String = (0x20u8..=0x7e)
        .filter(|b| *b != b',' && *b != b'=')
        .map(char::from)
        .collect();
    let key_256 = "z".repeat(256);
    let key_257 = "z".repeat(257);
    let tenant_242 = format!("{}@v", "t".repeat(242));
    let tenant_241 = format!("{}@{}", "t".repeat(241), "v".repeat(14));
    let vendor_15 = format!("t@{}", "v".repeat(15));
    let thirty_two: Vec<String> = (1..=32).map(|i| format!("bar{i:02}={i:02}")).collect();
    let thirty_three: Vec<String> = (1..=33).map(|i| format!("bar{i:02}={i:02}")).collect();
    let chunks32: Vec<String> = thirty_two.chunks(10).map(|c| c.join(",")).collect();
    let chunks33: Vec<String> = thirty_three.chunks(10).map(|c| c.join(",")).collect();
    let c32: Vec<&str> = chunks32.iter().map(String::as_str).collect();
    let c33: Vec<&str> = chunks33.iter().map(String::as_str).collect();
    let with_value = |k: &str, v: &str| format!("{k}={v}");
    let all_chars = with_value(key_l2, &all_value_chars);
    let all_chars_vendor = with_value(&format!("{key_l2}@a-z0-9_-*/"), &all_value_chars);
    let k256 = with_value(&key_256, "1");
    let k257 = with_value(&key_257, "1");
    let t241 = with_value(&tenant_241, "1");
    let t242 = with_value(&tenant_242, "1");
    let v15 = with_value(&vendor_15, "1");
    let (e256, e241, e242, e15) = (
        format!("foo=1,{k256}"),
        format!("foo=1,{t241}"),
        format!("foo=1,{t242}"),
        format!("foo=1,{v15}"),
    );
    let e32 = thirty_two.join(",");

    #[rustfmt::skip]
    let cases: Vec<(Vec<&str>, Option<&str>, &str)> = vec![
        (vec!["foo=1,bar=2", "rojo=1,congo=2", "baz=3"], Some("foo=1,bar=2,rojo=1,congo=2,baz=3"), "field values: fields combine in order"),
        (vec!["foo=1", ""],                Some("foo=1"), "field values: an empty field is accepted"),
        (vec!["", "foo=1"],                Some("foo=1"), "field values: an empty field is accepted"),
        (vec![""],                         None,          "field values: an empty tracestate is never sent"),
        (vec!["foo=1 \t , \t bar=2, \t baz=3"], Some("foo=1,bar=2,baz=3"), "list: OWS around members"),
        (vec!["foo=1\t \t,\t \tbar=2,\t \tbaz=3"], Some("foo=1,bar=2,baz=3"), "list: OWS around members"),
        (vec![" foo=1", "\tfoo2=1", "foo3=1 ", "foo4=1\t", "\t foo5=1 \t"], Some("foo=1,foo2=1,foo3=1,foo4=1,foo5=1"), "list: leading/trailing OWS"),
        (vec!["foo=1,,bar=2", ",", " , "], Some("foo=1,bar=2"), "list: empty members skipped (the SDK fails these)"),
        (vec!["k= v"],                     Some("k= v"),  "value: a leading space is part of the value"),
        (vec!["k=v "],                     Some("k=v"),   "value: a trailing space is OWS"),
        (vec![&all_chars],                 Some(&all_chars), "key and value: every allowed character round-trips"),
        (vec![&all_chars_vendor],          Some(&all_chars_vendor), "key and value: every allowed key character with a vendor"),
        (vec!["foo=,bar=3"],               None,          "value: empty value discards the whole header"),
        (vec!["foo=bar=baz"],              None,          "value: '=' in a value"),
        (vec!["foo=1", "bar=a\tb"],        None,          "value: HTAB inside a value"),
        (vec!["@foo=1,bar=2"],             None,          "key: key starts with '@'"),
        (vec!["FOO=1"],                    None,          "key: uppercase key"),
        (vec!["foo.bar=1"],                None,          "key: '.' in a key"),
        (vec!["foo =1"],                   None,          "key: space in a key"),
        (vec!["foo=1", &k257],             None,          "key: 257-character key"),
        (vec!["foo=1,bar"],                None,          "key: member without '='"),
        (vec!["foo=1", &k256],             Some(&e256), "key: 256-character key"),
        (vec!["foo@=1,bar=2"],             Some("foo@=1,bar=2"), "key: L2 'foo@'"),
        (vec!["foo@@bar=1,bar=2"],         Some("foo@@bar=1,bar=2"), "key: L2 'foo@@bar' (OpenTelemetry's TraceState cannot hold it)"),
        (vec!["foo@bar@baz=1,bar=2"],      Some("foo@bar@baz=1,bar=2"), "key: L2 'foo@bar@baz'"),
        (vec!["foo=1", &t241],             Some(&e241), "key: 241-char tenant, 14-char vendor"),
        (vec!["foo=1", &t242],             Some(&e242), "key: L2 242-char tenant"),
        (vec!["foo=1", &v15],              Some(&e15), "key: L2 15-char vendor"),
        (c32.clone(),                      Some(&e32), "field values: 32 members over 4 fields"),
        (c33.clone(),                      None,          "field values: 33 members discard the whole header"),
        (vec!["foo=1,foo=2"],              Some("foo=1"), "combined value: duplicates: the trace continues with one foo"),
        (vec!["foo=1", "foo=1"],           Some("foo=1"), "combined value: duplicates across fields"),
        (vec!["congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"], Some("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"), "mutating: unchanged pass-through"),
    ];
    for (fields, expected, why) in &cases {
        let got = tracestate_of(fields);
        assert_eq!(got.as_deref(), *expected, "{why}: {fields:?}");
        // The trace always continues: a bad tracestate never affects traceparent (§3.3).
        let mut pairs = vec![("traceparent", VALID)];
        pairs.extend(fields.iter().map(|f| ("tracestate", *f)));
        assert!(extract(&pairs).is_some(), "{why}");
    }
}

/// W3C Trace Context Level 1, "tracestate Header Field Values", "Key": the narrower Level 1 key
/// grammar (a simple key starts with a letter; a multi-tenant key is a tenant of up to 241
/// characters, '@' and a system id of up to 14), on request with `KeyGrammar::Level1`.
#[test]
fn tracestate_level1_key_grammar_on_request() {
    let l1 = TraceContextPropagator::new().with_key_grammar(KeyGrammar::Level1);
    #[rustfmt::skip]
    let cases: &[(&str, bool, &str)] = &[
        ("foo=1",                 true,  "simple key"),
        ("tenant@system=1",       true,  "multi-tenant key"),
        ("0tenant@system=1",      true,  "tenant may start with a digit"),
        ("0foo=1",                false, "L1 simple keys start with a letter"),
        ("foo@=1",                false, "empty system id"),
        ("foo@@bar=1",            false, "two '@'"),
        ("foo@bar@baz=1",         false, "two '@'"),
        ("t@vvvvvvvvvvvvvvv=1",   false, "15-char system id"),
    ];
    for (ts, valid, why) in cases {
        let sc = l1
            .extract(&headers(&[("traceparent", VALID), ("tracestate", ts)]))
            .unwrap();
        assert_eq!(sc.trace_state() != &TraceState::NONE, *valid, "{ts}: {why}");
    }
    let long_tenant = format!("{}@v=1", "t".repeat(242));
    assert!(
        TraceStateList::parse(&long_tenant, KeyGrammar::Level1).is_err(),
        "242-char tenant"
    );
    let max = format!("{}@{}=1", "t".repeat(241), "v".repeat(14));
    assert!(
        TraceStateList::parse(&max, KeyGrammar::Level1).is_ok(),
        "241 + 14 is the L1 maximum"
    );
}

/// W3C Trace Context Level 2, §3.5 "Mutating the tracestate Field": a received `tracestate` MUST
/// be sent to outgoing requests, also once a span continues the trace, members OpenTelemetry's
/// `TraceState` cannot hold included.
#[test]
fn tracestate_is_forwarded_after_a_span() {
    let incoming = headers(&[
        ("traceparent", VALID),
        ("tracestate", "congo=t61rcWkgMzE"),
        ("tracestate", "foo@@bar=1"),
    ]);
    let out = continue_through_sdk(&incoming, &Propagator::w3c());
    assert_eq!(
        out["tracestate"], "congo=t61rcWkgMzE,foo@@bar=1",
        "even the member OpenTelemetry cannot hold"
    );
}

/// W3C Trace Context Level 2, §3.5 "Mutating the tracestate Field": a new or updated entry goes
/// to the left, never duplicating its key; §3.3.2 "tracestate Header Field Values": over 32
/// members, the right-most is removed.
#[test]
fn tracestate_insert_at_left_without_duplicates() {
    let fields: Vec<String> = (1..=32).map(|i| format!("k{i}=v{i}")).collect();
    let mut list = TraceStateList::parse(fields.join(","), KeyGrammar::Level2).unwrap();
    assert_eq!(list.len(), 32);
    list.insert("ours", "1").unwrap();
    assert_eq!(list.len(), 32, "right-most dropped to stay at 32");
    assert_eq!(list.iter().next(), Some(("ours", "1")));
    assert_eq!(list.get("k32"), None);
    assert_eq!(list.get("k31"), Some("v31"));
    list.insert("k10", "new").unwrap();
    assert_eq!(
        list.iter().next(),
        Some(("k10", "new")),
        "update moves to the left"
    );
    assert_eq!(
        list.iter().filter(|(k, _)| *k == "k10").count(),
        1,
        "never duplicated"
    );
    assert_eq!(list.len(), 32);
    let before = list.clone();
    assert_eq!(
        list.insert("Bad", "1").unwrap_err().kind(),
        ParseErrorKind::Key
    );
    assert_eq!(
        list.insert("ok", "a,b").unwrap_err().kind(),
        ParseErrorKind::Value
    );
    assert_eq!(list, before, "a rejected insert changes nothing");
}

/// W3C Trace Context Level 2, §3.3.3.1 "tracestate Limits": at least 512 characters are
/// propagated; truncation removes whole entries, those over 128 characters first, then from
/// the right.
#[test]
fn tracestate_truncation_removes_whole_entries() {
    let big = format!("big={}", "x".repeat(200));
    let members: Vec<String> = (0..40)
        .map(|i| format!("k{i:02}={}", "v".repeat(20)))
        .take(30)
        .collect();
    let header = format!(
        "{},{big},{}",
        members[..15].join(","),
        members[15..].join(",")
    );
    let mut list = TraceStateList::parse(&header, KeyGrammar::Level2).unwrap();
    let removed = list.truncate(512);
    assert!(list.as_str().len() <= 512);
    assert!(
        list.get("big").is_none(),
        "entries over 128 characters go first"
    );
    assert_eq!(
        list.get("k00"),
        Some("v".repeat(20).as_str()),
        "then from the right: the left survives"
    );
    for (k, v) in list.iter() {
        assert!(header.contains(&format!("{k}={v}")), "no entry is cut: {k}");
    }
    assert_eq!(removed, 31 - list.len());

    // The propagator's cap never goes below 512.
    let capped = Propagator::w3c().with_max_tracestate_len(10);
    let incoming = headers(&[("traceparent", VALID), ("tracestate", &header)]);
    let cx = capped.extract_headers(&incoming, &Context::new());
    let mut out = HeaderMap::new();
    capped.inject_headers(&cx, &mut out);
    let sent = out["tracestate"].to_str().unwrap();
    assert!(
        sent.len() <= 512 && sent.len() > 400,
        "capped at 512, not 10: {}",
        sent.len()
    );
}

// ---------------------------------------------------------------------------------------------
// Baggage: W3C Baggage, "Header Content" and "Limits"

/// W3C Baggage, "Header Content": OWS around '=', ',' and ';' (`baggage-string`, `key`,
/// `value`), percent-decoded values with invalid UTF-8 replaced by U+FFFD (`value`), '=' inside
/// a value, properties kept (`property`), `token` keys and `baggage-octet` values; a malformed
/// member is dropped alone by the propagator.
#[test]
fn baggage_header_content_vectors() {
    #[rustfmt::skip]
    type Expected<'a> = &'a [(&'a str, &'a str, &'a str)];
    let cases: &[(&str, Expected<'_>, &str)] = &[
        (
            "k1=v1,k2=v2",
            &[("k1", "v1", ""), ("k2", "v2", "")],
            "plain",
        ),
        (
            "k1 = v1 , k2\t=\tv2",
            &[("k1", "v1", ""), ("k2", "v2", "")],
            "OWS around '=' and ','",
        ),
        (
            "k=v ; p1 ; p2 = x",
            &[("k", "v", "p1;p2=x")],
            "OWS around ';', properties kept",
        ),
        ("k=a%20b%2Cc%3B", &[("k", "a b,c;", "")], "percent-decoded"),
        ("k=%E2%9C%93", &[("k", "\u{2713}", "")], "UTF-8 decoded"),
        (
            "k=%FFx",
            &[("k", "\u{FFFD}x", "")],
            "invalid UTF-8 becomes U+FFFD",
        ),
        ("k=a=b", &[("k", "a=b", "")], "only the first '=' splits"),
        (
            "k=;p1;p2=v",
            &[("k", "", "p1;p2=v")],
            "empty value with properties",
        ),
    ];
    for (input, expected, why) in cases {
        let bag = baggage::parse(input).unwrap_or_else(|e| panic!("{input}: {why}: {e}"));
        assert_eq!(bag.len(), expected.len(), "{input}: {why}");
        for (k, v, props) in *expected {
            let (value, meta) = bag
                .get_with_metadata(*k)
                .unwrap_or_else(|| panic!("{input}: {k}"));
            assert_eq!(value, &StringValue::from(v.to_string()), "{input}: {why}");
            assert_eq!(meta.as_str(), *props, "{input}: {why}");
        }
    }
    #[rustfmt::skip]
    let invalid: &[(&str, ParseErrorKind, &str)] = &[
        ("k",          ParseErrorKind::Member, "no '='"),
        ("k(=v",       ParseErrorKind::Key,    "'(' is not a token character"),
        ("=v",         ParseErrorKind::Key,    "empty key"),
        ("k=v v",      ParseErrorKind::Value,  "space inside a value"),
        ("k=\"v\"",    ParseErrorKind::Value,  "'\"' is not a baggage-octet"),
        ("k=v;(p)",    ParseErrorKind::Key,    "bad property key"),
    ];
    for (input, kind, why) in invalid {
        assert_eq!(
            baggage::parse(input).unwrap_err().kind(),
            *kind,
            "{input}: {why}"
        );
    }
    // The propagator drops a malformed member alone.
    let bag = BaggagePropagator::new().extract(&headers(&[("baggage", "a=1,k(=v,b=2")]));
    assert_eq!(
        (bag.len(), bag.get("a").is_some(), bag.get("b").is_some()),
        (2, true, true)
    );
}

/// W3C Baggage, "Header Content", `value` and `property`: a value with '=' and a member with
/// properties, received over two fields, are sent on unchanged.
#[test]
fn baggage_round_trips_through_the_propagator() {
    let incoming = headers(&[
        ("baggage", "userId=alice%20b;p1;p2=x"),
        ("baggage", "eq=a=b"),
    ]);
    let propagator = Propagator::w3c().with_baggage();
    let cx = propagator.extract_headers(&incoming, &Context::new());
    assert_eq!(cx.baggage().get("eq").unwrap().as_str(), "a=b");
    let mut out = HeaderMap::new();
    propagator.inject_headers(&cx, &mut out);
    let mut sent: Vec<&str> = out["baggage"].to_str().unwrap().split(',').collect();
    sent.sort_unstable();
    assert_eq!(sent, ["eq=a=b", "userId=alice%20b;p1;p2=x"]);
}

/// W3C Baggage, "Limits": 64 members and 8192 bytes, over all `baggage` fields together, are
/// propagated; beyond them members are dropped whole, never a partial member, on extraction
/// and on injection.
#[test]
fn baggage_limits_keep_whole_members() {
    // 64 members in 4 fields: all kept.
    let members: Vec<String> = (0..64).map(|i| format!("k{i}=v{i}")).collect();
    let fields: Vec<String> = members.chunks(16).map(|c| c.join(",")).collect();
    let pairs: Vec<(&str, &str)> = fields.iter().map(|f| ("baggage", f.as_str())).collect();
    assert_eq!(BaggagePropagator::new().extract(&headers(&pairs)).len(), 64);
    // A 65th is dropped whole.
    let mut pairs = pairs.clone();
    pairs.push(("baggage", "extra=1"));
    let bag = BaggagePropagator::new().extract(&headers(&pairs));
    assert_eq!(bag.len(), 64);
    assert!(bag.get("extra").is_none());

    // 8192 bytes: two 3999-byte members fit (7999 bytes with the comma), a third does not,
    // and it is dropped whole, never cut.
    let big = |k: &str| format!("{k}={}", "x".repeat(3998 - k.len()));
    let value = format!("{},{},{}", big("a"), big("b"), big("c"));
    let bag = BaggagePropagator::new().extract(&headers(&[("baggage", &value)]));
    assert_eq!(bag.len(), 2);
    assert!(bag.get("c").is_none());
    assert_eq!(bag.get("a").unwrap().as_str().len(), 3997, "kept in full");

    // Exactly 8192 bytes are kept.
    let exact = format!("a={},b={}", "x".repeat(4094), "y".repeat(4093));
    assert_eq!(exact.len(), 8192);
    assert_eq!(
        BaggagePropagator::new()
            .extract(&headers(&[("baggage", &exact)]))
            .len(),
        2
    );

    // Injection never exceeds the limits either.
    let mut bag = opentelemetry::baggage::Baggage::new();
    for i in 0..64 {
        let _ = bag.insert(format!("k{i}"), "v");
    }
    let encoded = baggage::encode(&bag).unwrap();
    assert_eq!(encoded.split(',').count(), 64);
}

/// A baggage's members as sorted `(key, value, metadata)` triples (`Baggage` has no `PartialEq`).
fn baggage_members(bag: &opentelemetry::baggage::Baggage) -> Vec<(String, String, String)> {
    let mut members: Vec<_> = bag
        .iter()
        .map(|(k, (v, m))| (k.to_string(), v.to_string(), m.as_str().to_owned()))
        .collect();
    members.sort();
    members
}

/// W3C Baggage, "Limits", counted on what is forwarded: `value` says a literal '%' MUST be
/// percent-encoded and invalid UTF-8 decodes to U+FFFD, so a member can grow when re-encoded;
/// whatever is accepted is forwarded whole, within 8192 bytes, and reads back the same at the
/// next hop.
#[test]
fn baggage_limits_count_the_length_forwarded() {
    // Counting the received length instead would keep a member that grows when re-encoded (a
    // literal '%' goes out as "%25", an invalid "%FF" as U+FFFD = "%EF%BF%BD") and then drop it
    // in `encode`, so the next hop would lose it.
    let pct = |n: usize| "%".repeat(n);
    let ff = |n: usize| "%FF".repeat(n);
    let a41 = |n: usize| "%41".repeat(n);
    #[rustfmt::skip]
    let cases: &[(String, &[&str], &str)] = &[
        (format!("a=1,k={}", pct(3000)), &["a"],      "3,000 lone '%' need 9,002 bytes as %25: k is dropped whole at ingress"),
        (format!("a=1,k={}", pct(2728)), &["a", "k"], "4 + 2 + 3 x 2,728 = 8,190 bytes forwarded: both fit"),
        (format!("a=1,k={}", pct(2729)), &["a"],      "8,193 bytes forwarded: one too many"),
        (format!("a=1,k={}", ff(2700)),  &["a"],      "8,106 bytes received, but U+FFFD goes out as 9 bytes each"),
        (format!("k={}", a41(2730)),     &["k"],      "8,192 bytes received, needless escapes: 2,732 forwarded"),
        (format!("k={}", a41(2731)),     &["k"],      "over 8,192 received, but 2,733 forwarded: kept"),
        (format!("a = 1 , k = {}", pct(2728)), &["a", "k"], "OWS is not forwarded, so it is not counted"),
    ];
    for (input, kept, why) in cases {
        let bag = baggage::parse(input).unwrap_or_else(|e| panic!("{why}: {e}"));
        let mut keys: Vec<String> = bag.iter().map(|(k, _)| k.to_string()).collect();
        keys.sort();
        assert_eq!(keys, *kept, "{why}");
        // What was kept is forwarded whole and reads back the same at the next hop.
        let header = baggage::encode(&bag).unwrap();
        assert!(
            header.len() <= baggage::MAX_BYTES,
            "{why}: {} bytes",
            header.len()
        );
        let next_hop = baggage::parse(&header).unwrap();
        assert_eq!(baggage_members(&next_hop), baggage_members(&bag), "{why}");
        // And through the propagator, which is what a service runs.
        let propagator = BaggagePropagator::new();
        let extracted = propagator.extract(&headers(&[("baggage", input)]));
        assert_eq!(baggage_members(&extracted), baggage_members(&bag), "{why}");
        let mut out = HeaderMap::new();
        propagator.inject(&extracted, &mut out);
        assert_eq!(
            baggage_members(&propagator.extract(&out)),
            baggage_members(&bag),
            "{why}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// X-Cloud-Trace-Context: Google Cloud Trace, `TRACE_ID/SPAN_ID;o=OPTIONS`

/// Google Cloud Trace, "X-Cloud-Trace-Context"
/// (<https://cloud.google.com/trace/docs/trace-context>): `TRACE_ID/SPAN_ID;o=OPTIONS`, a 32-hex-digit trace id, a decimal unsigned 64-bit span id and
/// an optional `o=` (`o=1`: sampled; other values are read by their bit 0); each vector
/// accepted or rejected for its reason.
#[test]
fn cloud_trace_context_vectors() {
    const T: &str = "105445aa7843bc8bf206b12000100000";
    #[rustfmt::skip]
    type Expected = Result<(u64, bool), ParseErrorKind>;
    let cases: &[(&str, Expected, &str)] = &[
        (
            "105445aa7843bc8bf206b12000100000/18374686479671623803;o=1",
            Ok((0xff00_0000_0000_007b, true)),
            "the documented example",
        ),
        (
            "105445aa7843bc8bf206b12000100000/123",
            Ok((123, false)),
            "options: no ';o=': not sampled",
        ),
        (
            "105445aa7843bc8bf206b12000100000/123;o=0",
            Ok((123, false)),
            "options: o=0",
        ),
        (
            "105445aa7843bc8bf206b12000100000/123;o=1",
            Ok((123, true)),
            "options: o=1",
        ),
        (
            "105445aa7843bc8bf206b12000100000/123;o=3",
            Ok((123, true)),
            "options: bit 0 of 3",
        ),
        (
            "105445aa7843bc8bf206b12000100000/123;o=2",
            Ok((123, false)),
            "options: bit 0 of 2",
        ),
        (
            "105445aa7843bc8bf206b12000100000/123;o=10",
            Ok((123, false)),
            "options: bit 0 of 10",
        ),
        (
            "105445AA7843BC8BF206B12000100000/123;o=1",
            Ok((123, true)),
            "uppercase trace id normalised",
        ),
        (
            " 105445aa7843bc8bf206b12000100000/123;o=1\t",
            Ok((123, true)),
            "OWS trimmed",
        ),
        (
            "105445aa7843bc8bf206b12000100000/18446744073709551615",
            Ok((u64::MAX, false)),
            "largest span id",
        ),
        (
            "105445aa7843bc8bf206b12000100000/0;o=1",
            Err(ParseErrorKind::ZeroSpanId),
            "invalid: span id 0",
        ),
        (
            "105445aa7843bc8bf206b12000100000/00;o=1",
            Err(ParseErrorKind::ZeroSpanId),
            "invalid: span id 00 is still 0",
        ),
        (
            "105445aa7843bc8bf206b12000100000/18446744073709551616",
            Err(ParseErrorKind::SpanId),
            "invalid: span id > u64::MAX",
        ),
        (
            "105445aa7843bc8bf206b12000100000/;o=1",
            Err(ParseErrorKind::SpanId),
            "invalid: empty span id",
        ),
        (
            "105445aa7843bc8bf206b12000100000/-1",
            Err(ParseErrorKind::SpanId),
            "invalid: sign",
        ),
        (
            "00000000000000000000000000000000/123;o=1",
            Err(ParseErrorKind::ZeroTraceId),
            "invalid: zero trace id",
        ),
        (
            "105445aa7843bc8bf206b1200010000/123;o=1",
            Err(ParseErrorKind::TraceId),
            "invalid: 31 hex digits",
        ),
        (
            "105445aa7843bc8bf206b120001000000/123;o=1",
            Err(ParseErrorKind::TraceId),
            "invalid: 33 hex digits",
        ),
        (
            "105445aa7843bc8bf206b1200010000g/123;o=1",
            Err(ParseErrorKind::TraceId),
            "invalid: not hex",
        ),
        (
            "105445aa7843bc8bf206b12000100000/123;o=",
            Err(ParseErrorKind::Flags),
            "invalid: empty o=",
        ),
        (
            "105445aa7843bc8bf206b12000100000/123;o=1x",
            Err(ParseErrorKind::Flags),
            "invalid: trailing junk",
        ),
        (
            "105445aa7843bc8bf206b12000100000/123;x=1",
            Err(ParseErrorKind::Flags),
            "invalid: other option",
        ),
        (
            "105445aa7843bc8bf206b12000100000/123;o=1;",
            Err(ParseErrorKind::Flags),
            "invalid: trailing ';'",
        ),
        (
            "105445aa7843bc8bf206b12000100000/123x",
            Err(ParseErrorKind::SpanId),
            "invalid: junk after span id",
        ),
        (
            "105445aa7843bc8bf206b12000100000",
            Err(ParseErrorKind::TraceId),
            "invalid: no span id",
        ),
        ("", Err(ParseErrorKind::Missing), "empty"),
    ];
    for (input, expected, why) in cases {
        match (expected, cloud_trace::parse(input)) {
            (Ok((span, sampled)), Ok(sc)) => {
                assert_eq!(
                    sc.trace_id(),
                    TraceId::from_hex(T).unwrap(),
                    "{input}: {why}"
                );
                assert_eq!(
                    sc.span_id(),
                    SpanId::from_bytes(span.to_be_bytes()),
                    "{input}: {why}"
                );
                assert_eq!(sc.is_sampled(), *sampled, "{input}: {why}");
            }
            (Err(kind), Err(e)) => assert_eq!(e.kind(), *kind, "{input}: {why}"),
            (_, got) => panic!("{input}: {why}: expected {expected:?}, got {got:?}"),
        }
    }
    let long = format!("105445aa7843bc8bf206b12000100000/1;o={}", "1".repeat(300));
    assert_eq!(
        cloud_trace::parse(long).unwrap_err().kind(),
        ParseErrorKind::TooLong,
        "length cap"
    );
}

/// Google Cloud Trace, "X-Cloud-Trace-Context": what is sent is `TRACE_ID/SPAN_ID;o=OPTIONS`
/// with the span id in decimal and `o=1` exactly when sampled; never an invalid context.
#[test]
fn cloud_trace_context_injection() {
    let trace_id = TraceId::from_hex("105445aa7843bc8bf206b12000100000").unwrap();
    #[rustfmt::skip]
    let cases: &[(u64, TraceFlags, &str)] = &[
        (0xff00_0000_0000_007b, TraceFlags::SAMPLED, "105445aa7843bc8bf206b12000100000/18374686479671623803;o=1"),
        (1,                     TraceFlags::NOT_SAMPLED, "105445aa7843bc8bf206b12000100000/1;o=0"),
        (u64::MAX,              TraceFlags::new(0x03), "105445aa7843bc8bf206b12000100000/18446744073709551615;o=1"),
        (74,                    TraceFlags::new(0x02), "105445aa7843bc8bf206b12000100000/74;o=0"),
    ];
    for (span, flags, expected) in cases {
        let sc = SpanContext::new(
            trace_id,
            SpanId::from_bytes(span.to_be_bytes()),
            *flags,
            false,
            TraceState::NONE,
        );
        let mut out = HeaderMap::new();
        CloudTracePropagator::new().inject(&sc, &mut out);
        assert_eq!(out["x-cloud-trace-context"], *expected);
    }
    // Never a zero id.
    let mut out = HeaderMap::new();
    CloudTracePropagator::new().inject(&SpanContext::empty_context(), &mut out);
    Propagator::w3c_and_cloud_trace().inject(&SpanContext::empty_context(), &mut out);
    assert!(out.is_empty());
}

/// `X-Cloud-Trace-Context` next to W3C Trace Context: a valid `traceparent` wins whatever the
/// header order, `X-Cloud-Trace-Context` is the fallback when it is invalid or absent, the
/// one-way preset reads it but never writes it, and two fields are as invalid as two
/// `traceparent` fields (W3C Trace Context Level 2, §3.2.2; RFC 9110 §5.3).
#[test]
fn cloud_trace_context_one_way_and_order_independent_precedence() {
    let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let xctc = "105445aa7843bc8bf206b12000100000/1;o=1";
    let w3c_id = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
    let gcp_id = TraceId::from_hex("105445aa7843bc8bf206b12000100000").unwrap();
    for propagator in [
        Propagator::w3c_and_cloud_trace(),
        Propagator::cloud_trace_one_way(),
    ] {
        // Header order in the request does not matter either.
        for pairs in [
            [("traceparent", tp), ("x-cloud-trace-context", xctc)],
            [("x-cloud-trace-context", xctc), ("traceparent", tp)],
        ] {
            let (sc, source) = propagator.extract_with_source(&headers(&pairs)).unwrap();
            assert_eq!((sc.trace_id(), source), (w3c_id, Source::TraceContext));
        }
        // Fallback when traceparent is invalid or absent.
        let bad = headers(&[("traceparent", "00-zz"), ("x-cloud-trace-context", xctc)]);
        assert_eq!(
            propagator.extract_with_source(&bad).unwrap(),
            (propagator.extract(&bad).unwrap(), Source::CloudTrace)
        );
        assert_eq!(propagator.extract(&bad).unwrap().trace_id(), gcp_id);
        // Through the TextMapPropagator path too.
        let carrier: HashMap<String, String> = HashMap::from([
            ("traceparent".into(), tp.into()),
            ("x-cloud-trace-context".into(), xctc.into()),
        ]);
        assert_eq!(
            TextMapPropagator::extract(&propagator, &carrier)
                .span()
                .span_context()
                .trace_id(),
            w3c_id
        );
    }
    // The W3C-only preset ignores Cloud Trace.
    assert!(
        Propagator::w3c()
            .extract(&headers(&[("x-cloud-trace-context", xctc)]))
            .is_none()
    );

    // One-way never writes X-Cloud-Trace-Context; both-ways does.
    let sc = cloud_trace::parse(xctc).unwrap();
    let cx = Context::new().with_remote_span_context(sc);
    let mut out = HeaderMap::new();
    Propagator::cloud_trace_one_way().inject_headers(&cx, &mut out);
    assert!(out.contains_key("traceparent") && !out.contains_key("x-cloud-trace-context"));
    let one_way = Propagator::cloud_trace_one_way();
    let fields: Vec<&str> = TextMapPropagator::fields(&one_way).collect();
    assert_eq!(fields, ["traceparent", "tracestate"]);
    let mut out = HashMap::new();
    TextMapPropagator::inject_context(&Propagator::w3c_and_cloud_trace(), &cx, &mut out);
    assert_eq!(out["x-cloud-trace-context"], xctc);
    assert_eq!(
        out["traceparent"],
        "00-105445aa7843bc8bf206b12000100000-0000000000000001-01"
    );
    // A duplicated X-Cloud-Trace-Context is as invalid as a duplicated traceparent.
    assert!(
        CloudTracePropagator::new()
            .extract(&headers(&[
                ("x-cloud-trace-context", xctc),
                ("x-cloud-trace-context", xctc)
            ]))
            .is_none()
    );
}

// ---------------------------------------------------------------------------------------------
// OpenCensus binary `grpc-trace-bin`: opencensus-specs `encodings/BinaryEncoding.md`, gRPC
// `doc/PROTOCOL-HTTP2.md` (binary metadata), gRFC A72

const OC_TRACE_ID: &str = "4bf92f3577b34da6a3ce929d000e4736";
const OC_SPAN_ID: &str = "34f067aa0ba902b7";
/// The example of the OpenCensus binary format specification, in unpadded base64.
const GRPC_TRACE_BIN: &str = "AABL+S81d7NNpqPOkp0ADkc2ATTwZ6oLqQK3AgE";

/// A test-local base64 encoder (RFC 4648 §4), independent of the crate's.
fn base64(bytes: &[u8], padded: bool) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(A[(n >> (18 - 6 * i) & 0x3f) as usize]));
        }
        if padded {
            out.push_str(&"=".repeat(3 - chunk.len()));
        }
    }
    out
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// OpenCensus binary format, `encodings/BinaryEncoding.md`: "General Format" (version 0),
/// "Trace Context" (field 0 trace id, 16 bytes; 1 span id, 8 bytes; 2 trace options, 1 byte,
/// bit 0 sampled; all-zero ids invalid; the spec's "Valid example") and "Deserialization
/// Rules" (reading stops at the first unknown field id); each vector decoded, re-encoded in
/// the canonical 29-byte form, and read as metadata padded and unpadded.
#[test]
fn grpc_trace_bin_binary_format_vectors() {
    let t = OC_TRACE_ID;
    let s = OC_SPAN_ID;
    let zeros = |n: usize| "00".repeat(n);
    #[rustfmt::skip]
    let cases: Vec<(String, Result<bool, ParseErrorKind>, &str)> = vec![
        (format!("0000{t}01{s}0201"),       Ok(true),  "the OpenCensus specification's example (29 bytes)"),
        (format!("0000{t}01{s}0200"),       Ok(false), "options 0: not sampled"),
        (format!("0000{t}01{s}"),           Ok(false), "no options field (27 bytes): its default, not sampled"),
        (format!("0000{t}01{s}0203"),       Ok(true),  "options 3: bit 0 is sampled, the undefined bits are dropped"),
        (format!("0000{t}01{s}0202"),       Ok(false), "options 2: bit 0 clear, not sampled"),
        (format!("0000{t}01{s}020103ff"),   Ok(true),  "unknown field 3 after the known ones: ignored"),
        (format!("0000{t}01{s}7f000102"),   Ok(false), "an unknown field right after the span id: reading stops there"),
        (format!("0000{t}01{s}0201ff{}", zeros(40)), Ok(true), "unknown field 255 with a long value: ignored"),
        (String::new(),                     Err(ParseErrorKind::Missing),      "empty"),
        (format!("0100{t}01{s}0201"),       Err(ParseErrorKind::Version),      "version 1: only version 0 is defined"),
        (format!("ff00{t}01{s}0201"),       Err(ParseErrorKind::Version),      "version 255"),
        ("00".to_owned(),                   Err(ParseErrorKind::TraceId),      "version only"),
        (format!("0000{}", &t[..30]),       Err(ParseErrorKind::TraceId),      "truncated trace id (15 bytes)"),
        (format!("0001{s}00{t}0201"),       Err(ParseErrorKind::TraceId),      "span id first: wrong field order"),
        (format!("0002010000{t}01{s}"),     Err(ParseErrorKind::TraceId),      "options first: wrong field order"),
        (format!("0000{t}"),                Err(ParseErrorKind::SpanId),       "missing span id (18 bytes)"),
        (format!("0000{t}0201"),            Err(ParseErrorKind::SpanId),       "options where the span id belongs: missing span id"),
        (format!("0000{t}020101{s}"), Err(ParseErrorKind::SpanId), "options before span id: wrong field order"),
        (format!("0000{t}01{}", &s[..14]),  Err(ParseErrorKind::SpanId),       "truncated span id (7 bytes)"),
        (format!("0000{t}01{s}02"),         Err(ParseErrorKind::Flags),        "28 bytes: the options field lacks its byte"),
        (format!("0000{t}01{}0201", &s[..14]), Err(ParseErrorKind::TrailingData), "28 bytes, a span id byte missing: a stray known field id follows"),
        (format!("0000{t}01{s}020101{s}"),  Err(ParseErrorKind::TrailingData), "span id repeated after the options"),
        (format!("0000{t}01{s}00{t}"),      Err(ParseErrorKind::TrailingData), "trace id again after the span id"),
        (format!("0000{t}01{s}02010200"),   Err(ParseErrorKind::TrailingData), "options repeated"),
        (format!("0000{}01{s}0201", zeros(16)), Err(ParseErrorKind::ZeroTraceId), "all-zero trace id"),
        (format!("0000{t}01{}0201", zeros(8)),  Err(ParseErrorKind::ZeroSpanId),  "all-zero span id"),
    ];
    let trace_id = TraceId::from_hex(t).unwrap();
    let span_id = SpanId::from_hex(s).unwrap();
    for (hex, expected, why) in &cases {
        let bytes = hex_bytes(hex);
        let got = grpc_trace_bin::decode(&bytes);
        match (expected, &got) {
            (Ok(sampled), Ok(sc)) => {
                assert_eq!(
                    (sc.trace_id(), sc.span_id(), sc.is_sampled(), sc.is_remote()),
                    (trace_id, span_id, *sampled, true),
                    "{hex}: {why}"
                );
                // Re-encoded in the canonical 29-byte form, which decodes to the same.
                let canonical = format!("0000{t}01{s}020{}", u8::from(*sampled));
                assert_eq!(
                    grpc_trace_bin::encode(sc).to_vec(),
                    hex_bytes(&canonical),
                    "{hex}: {why}"
                );
            }
            (Err(kind), Err(e)) => {
                assert_eq!(e.kind(), *kind, "{hex}: {why}");
                assert_eq!(e.header(), Header::GrpcTraceBin);
            }
            _ => panic!("{hex}: {why}: expected {expected:?}, got {got:?}"),
        }
        // The metadata value, padded and unpadded: the same answer, and the propagators agree.
        for padded in [false, true] {
            let text = base64(&bytes, padded);
            let parsed = grpc_trace_bin::parse(&text);
            match (expected, &parsed) {
                (Ok(_), Ok(sc)) => assert_eq!(Ok(sc), got.as_ref(), "{text}: {why}"),
                (Err(ParseErrorKind::Missing), Err(e)) => assert!(e.is_missing(), "{why}"),
                (Err(kind), Err(e)) => assert_eq!(e.kind(), *kind, "{text}: {why}"),
                _ => panic!("{text}: {why}: expected {expected:?}, got {parsed:?}"),
            }
            let headers = headers(&[("grpc-trace-bin", &text)]);
            assert_eq!(
                GrpcTraceBinPropagator::new().extract(&headers),
                parsed.clone().ok(),
                "{text}: {why}"
            );
            assert_eq!(
                Propagator::w3c().with_grpc_trace_bin().extract(&headers),
                parsed.ok(),
                "{text}: {why}"
            );
        }
    }
}

/// gRPC, `doc/PROTOCOL-HTTP2.md`, "Requests" (`Custom-Metadata`, `Binary-Header`): a `-bin`
/// value is base64 (RFC 4648 §4, the standard alphabet), emitted unpadded and accepted padded
/// or unpadded; what is not base64 is rejected.
#[test]
fn grpc_trace_bin_metadata_values() {
    #[rustfmt::skip]
    let cases: &[(&str, Result<bool, ParseErrorKind>, &str)] = &[
        ("AABL+S81d7NNpqPOkp0ADkc2ATTwZ6oLqQK3AgE",      Ok(true), "unpadded, as gRPC sends it"),
        ("AABL+S81d7NNpqPOkp0ADkc2ATTwZ6oLqQK3AgE=",     Ok(true), "padded: receivers MUST accept it too"),
        (" AABL+S81d7NNpqPOkp0ADkc2ATTwZ6oLqQK3AgE\t",   Ok(true), "OWS around the value"),
        ("AABL+S81d7NNpqPOkp0ADkc2ATTwZ6oLqQK3AgED/w==", Ok(true), "an unknown trailing field, padded"),
        ("AABL+S81d7NNpqPOkp0ADkc2ATTwZ6oLqQK3AgED/w",   Ok(true), "an unknown trailing field, unpadded"),
        ("AABL+S81d7NNpqPOkp0ADkc2ATTwZ6oLqQK3Ag==",     Err(ParseErrorKind::Flags),   "28 bytes: truncated"),
        ("AABL+S81d7NNpqPOkp0ADkc2ATTwZ6oLqQK3Ag",       Err(ParseErrorKind::Flags),   "28 bytes, unpadded"),
        ("AQBL+S81d7NNpqPOkp0ADkc2ATTwZ6oLqQK3AgE=",     Err(ParseErrorKind::Version), "version 1"),
        ("AAAAAAAAAAAAAAAAAAAAAAAAATTwZ6oLqQK3AgE=",     Err(ParseErrorKind::ZeroTraceId), "all-zero trace id"),
        ("AABL+S81d7NNpqPOkp0ADkc2AQAAAAAAAAAAAgE=",     Err(ParseErrorKind::ZeroSpanId),  "all-zero span id"),
        ("AABL-S81d7NNpqPOkp0ADkc2ATTwZ6oLqQK3AgE",      Err(ParseErrorKind::Encoding), "URL-safe alphabet: gRPC uses the standard one"),
        ("AABL+S81d7NNpqPOkp0ADkc2ATTwZ6oLqQK3AgE==",    Err(ParseErrorKind::Encoding), "too much padding"),
        ("AABL+S81d7NNpqPOkp0ADkc2ATTwZ6oLqQK3AgF",      Err(ParseErrorKind::Encoding), "unused bits set in the last character"),
        ("AABL+S81 d7NNpqPOkp0ADkc2ATTwZ6oLqQK3AgE",     Err(ParseErrorKind::Encoding), "space inside"),
        ("AABL+S81d7NNpqPOkp0ADkc2ATTwZ6oLqQK3AgEA=",    Err(ParseErrorKind::Encoding), "padding that does not complete a group"),
        ("AABL+S81d7NNpqPOkp0ADkc2ATTwZ6oLqQK3AgEAA",    Err(ParseErrorKind::Encoding), "4n+1 characters"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", Err(ParseErrorKind::Encoding), "a traceparent is not base64"),
        ("!!!!",                                         Err(ParseErrorKind::Encoding), "not base64"),
        ("",                                             Err(ParseErrorKind::Missing),  "empty"),
        (" \t",                                          Err(ParseErrorKind::Missing),  "only OWS"),
    ];
    for (input, expected, why) in cases {
        match (expected, grpc_trace_bin::parse(input)) {
            (Ok(sampled), Ok(sc)) => {
                assert_eq!(
                    (sc.trace_id(), sc.span_id(), sc.is_sampled()),
                    (
                        TraceId::from_hex(OC_TRACE_ID).unwrap(),
                        SpanId::from_hex(OC_SPAN_ID).unwrap(),
                        *sampled
                    ),
                    "{input}: {why}"
                );
                assert_eq!(
                    grpc_trace_bin::to_header_value(&sc).unwrap(),
                    GRPC_TRACE_BIN,
                    "{input}: {why}: re-encoded unpadded, 29 bytes"
                );
            }
            (Err(kind), Err(e)) => assert_eq!(e.kind(), *kind, "{input:?}: {why}"),
            (_, got) => panic!("{input}: {why}: expected {expected:?}, got {got:?}"),
        }
    }
    let long = format!("{GRPC_TRACE_BIN}{}", "A".repeat(grpc_trace_bin::MAX_LEN));
    assert_eq!(
        grpc_trace_bin::parse(long).unwrap_err().kind(),
        ParseErrorKind::TooLong,
        "length cap"
    );
}

/// gRFC A72 "OpenTelemetry Tracing": only one `grpc-trace-bin` is sent for an RPC. Empty list
/// elements are skipped (RFC 9110 §5.6.1); a second value, in another field or joined with ','
/// as gRPC may join duplicate metadata, makes it invalid.
#[test]
fn grpc_trace_bin_one_value_per_request() {
    let v = GRPC_TRACE_BIN;
    let joined = format!("{v},{v}");
    let trailing_comma = format!("{v},");
    let leading_empty = format!(" , {v}");
    #[rustfmt::skip]
    let cases: &[(&[&str], Result<(), ParseErrorKind>, &str)] = &[
        (&[v],                    Ok(()), "one field"),
        (&[&trailing_comma],      Ok(()), "an empty list element is skipped (RFC 9110 §5.6.1)"),
        (&[&leading_empty],       Ok(()), "an empty list element is skipped"),
        (&["", v],                Ok(()), "an empty field is skipped"),
        (&[v, v],                 Err(ParseErrorKind::MultipleFields), "two fields, even identical: OpenCensus Go reads the first, gRPC Java the last"),
        (&[&joined],              Err(ParseErrorKind::MultipleFields), "two values joined with ',' (gRPC lets duplicates be joined)"),
        (&[v, "AAAA"],            Err(ParseErrorKind::MultipleFields), "a second, invalid value"),
        (&[],                     Err(ParseErrorKind::Missing), "no field"),
        (&[","],                  Err(ParseErrorKind::Missing), "only empty elements"),
    ];
    for (fields, expected, why) in cases {
        let got = grpc_trace_bin::parse_fields(fields.iter().map(|f| f.as_bytes()));
        match (expected, &got) {
            (Ok(()), Ok(sc)) => assert_eq!(sc.span_id(), SpanId::from_hex(OC_SPAN_ID).unwrap()),
            (Err(kind), Err(e)) => assert_eq!(e.kind(), *kind, "{fields:?}: {why}"),
            _ => panic!("{fields:?}: {why}: expected {expected:?}, got {got:?}"),
        }
        let pairs: Vec<(&str, &str)> = fields.iter().map(|f| ("grpc-trace-bin", *f)).collect();
        assert_eq!(
            GrpcTraceBinPropagator::new().extract(&headers(&pairs)),
            got.ok(),
            "{fields:?}: {why}"
        );
    }
}

/// gRFC A72 "OpenTelemetry Tracing" ("Background", "Propagator Wire format"): a server takes
/// the span id received in `grpc-trace-bin` as its parent, and with injection on sends its own
/// span downstream in it; invalid metadata starts a new trace, never with a zero id.
#[test]
fn grpc_trace_bin_continues_the_trace_through_the_sdk() {
    let incoming_span = SpanId::from_hex(OC_SPAN_ID).unwrap();
    let trace_id = TraceId::from_hex(OC_TRACE_ID).unwrap();

    // HeaderMap path, composite with injection opted in.
    let incoming = headers(&[("grpc-trace-bin", GRPC_TRACE_BIN)]);
    let out = continue_through_sdk(
        &incoming,
        &Propagator::w3c().with_grpc_trace_bin_injection(),
    );
    let tp = outgoing_traceparent(&out);
    let bin = grpc_trace_bin::parse(out["grpc-trace-bin"].as_bytes()).unwrap();
    assert_eq!((tp.trace_id(), bin.trace_id()), (trace_id, trace_id));
    assert_eq!(bin.span_id(), tp.span_id(), "both carry our span");
    assert_ne!(bin.span_id(), incoming_span, "a new parent id downstream");
    assert!(
        bin.is_sampled(),
        "the caller sampled; the SDK's parent-based sampler follows"
    );
    assert_eq!(
        out["grpc-trace-bin"].len(),
        grpc_trace_bin::BASE64_LEN,
        "unpadded"
    );

    // TextMapPropagator path with a string carrier, the propagator alone.
    let provider = SdkTracerProvider::builder().build();
    let tracer = provider.tracer("conformance");
    let propagator = GrpcTraceBinPropagator::new().with_injection();
    let carrier: HashMap<String, String> =
        HashMap::from([("grpc-trace-bin".to_owned(), format!("{GRPC_TRACE_BIN}="))]);
    let parent = TextMapPropagator::extract(&propagator, &carrier);
    assert_eq!(parent.span().span_context().trace_id(), trace_id);
    let cx = parent.with_span(tracer.start_with_context("server", &parent));
    let mut sent = HashMap::new();
    TextMapPropagator::inject_context(&propagator, &cx, &mut sent);
    let bin = grpc_trace_bin::parse(&sent["grpc-trace-bin"]).unwrap();
    assert_eq!(bin.trace_id(), trace_id);
    assert_eq!(bin.span_id(), cx.span().span_context().span_id());
    let fields: Vec<&str> = TextMapPropagator::fields(&propagator).collect();
    assert_eq!(fields, ["grpc-trace-bin"]);

    // Invalid metadata: the request continues as a new trace, never with a zero id.
    for bad in [
        "AABL+S81d7NNpqPOkp0ADkc2ATTwZ6oLqQK3Ag",
        "AQBL+S81d7NNpqPOkp0ADkc2ATTwZ6oLqQK3AgE=",
        "%%%",
    ] {
        let out = continue_through_sdk(
            &headers(&[("grpc-trace-bin", bad)]),
            &Propagator::w3c().with_grpc_trace_bin_injection(),
        );
        let tp = outgoing_traceparent(&out);
        assert!(
            tp.is_valid() && tp.trace_id() != trace_id,
            "{bad}: a new trace"
        );
        let bin = grpc_trace_bin::parse(out["grpc-trace-bin"].as_bytes()).unwrap();
        assert_eq!(bin.trace_id(), tp.trace_id(), "{bad}");
    }
}

/// `grpc-trace-bin` next to the other formats: a valid `traceparent` wins, then
/// `X-Cloud-Trace-Context`, then `grpc-trace-bin`; it is read only when configured and sent only
/// when injection is on (gRFC A72, "Propagator Wire format": the application configures its
/// propagators, W3C being preferred in the long term), and the propagator's fields say so.
#[test]
fn grpc_trace_bin_precedence_and_injection() {
    let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let xctc = "105445aa7843bc8bf206b12000100000/1;o=1";
    let w3c_id = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
    let gcp_id = TraceId::from_hex("105445aa7843bc8bf206b12000100000").unwrap();
    let oc_id = TraceId::from_hex(OC_TRACE_ID).unwrap();
    let bin = GRPC_TRACE_BIN;
    let all = Propagator::w3c_and_cloud_trace().with_grpc_trace_bin();
    type Case<'a> = (&'a [(&'a str, &'a str)], Option<(TraceId, Source)>, &'a str);
    #[rustfmt::skip]
    let cases: &[Case<'_>] = &[
        (&[("grpc-trace-bin", bin), ("traceparent", tp)],          Some((w3c_id, Source::TraceContext)), "a valid traceparent wins, whatever the order"),
        (&[("traceparent", tp), ("grpc-trace-bin", bin)],          Some((w3c_id, Source::TraceContext)), "a valid traceparent wins, whatever the order"),
        (&[("traceparent", "00-zz"), ("grpc-trace-bin", bin)],     Some((oc_id, Source::GrpcTraceBin)),  "invalid traceparent: grpc-trace-bin is the fallback"),
        (&[("grpc-trace-bin", bin)],                               Some((oc_id, Source::GrpcTraceBin)),  "no traceparent: grpc-trace-bin"),
        (&[("grpc-trace-bin", bin), ("x-cloud-trace-context", xctc)], Some((gcp_id, Source::CloudTrace)), "X-Cloud-Trace-Context comes before grpc-trace-bin"),
        (&[("x-cloud-trace-context", "junk"), ("grpc-trace-bin", bin)], Some((oc_id, Source::GrpcTraceBin)), "invalid X-Cloud-Trace-Context: grpc-trace-bin"),
        (&[("traceparent", "00-zz"), ("grpc-trace-bin", "AAAA")],  None,                                 "nothing valid: no context"),
    ];
    for (pairs, expected, why) in cases {
        let got = all
            .extract_with_source(&headers(pairs))
            .map(|(sc, source)| (sc.trace_id(), source));
        assert_eq!(got, *expected, "{why}");
        // Through the TextMapPropagator path too.
        let carrier: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let cx = TextMapPropagator::extract(&all, &carrier);
        assert_eq!(
            cx.span().span_context().trace_id(),
            expected.map_or(TraceId::INVALID, |(id, _)| id),
            "{why}"
        );
    }
    // Not read unless configured.
    assert!(
        Propagator::w3c_and_cloud_trace()
            .extract(&headers(&[("grpc-trace-bin", bin)]))
            .is_none()
    );

    // Not injected by default; injected when opted in; the fields say so.
    let sc = grpc_trace_bin::parse(bin).unwrap();
    let cx = Context::new().with_remote_span_context(sc.clone());
    for (propagator, injected) in [
        (Propagator::w3c().with_grpc_trace_bin(), false),
        (Propagator::w3c().with_grpc_trace_bin_injection(), true),
        (
            Propagator::w3c_and_cloud_trace()
                .with_grpc_trace_bin_injection()
                .with_baggage(),
            true,
        ),
    ] {
        let mut out = HeaderMap::new();
        propagator.inject(&sc, &mut out);
        assert_eq!(
            out.contains_key("grpc-trace-bin"),
            injected,
            "{propagator:?}"
        );
        let mut out = HeaderMap::new();
        propagator.inject_headers(&cx, &mut out);
        assert!(out.contains_key("traceparent"));
        assert_eq!(
            out.contains_key("grpc-trace-bin"),
            injected,
            "{propagator:?}"
        );
        if injected {
            assert_eq!(out["grpc-trace-bin"], bin);
        }
        let fields: Vec<&str> = TextMapPropagator::fields(&propagator).collect();
        assert_eq!(
            fields.contains(&"grpc-trace-bin"),
            injected,
            "{propagator:?}"
        );
    }
    let everything = Propagator::w3c_and_cloud_trace()
        .with_grpc_trace_bin_injection()
        .with_baggage();
    let fields: Vec<&str> = TextMapPropagator::fields(&everything).collect();
    assert_eq!(
        fields,
        [
            "traceparent",
            "tracestate",
            "x-cloud-trace-context",
            "grpc-trace-bin",
            "baggage"
        ]
    );
    // Never a zero id.
    let mut out = HeaderMap::new();
    GrpcTraceBinPropagator::new()
        .with_injection()
        .inject(&SpanContext::empty_context(), &mut out);
    assert!(out.is_empty());
    assert!(grpc_trace_bin::to_header_value(&SpanContext::empty_context()).is_none());
}
