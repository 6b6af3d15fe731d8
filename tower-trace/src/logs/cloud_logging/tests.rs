use std::sync::{Arc, Mutex};

use serde_json::json;
use tracing::field::Empty;
use tracing_subscriber::Registry;
use tracing_subscriber::layer::SubscriberExt;

use serde_json::Value;
use tracing_subscriber::fmt::format::Writer;

use super::super::{CLIENT_SPAN, SERVER_SPAN, TARGET};
use opentelemetry::trace::{SpanId, TraceId};

use super::kept::{RequestIds, SpanFields};
use super::*;
use crate::logs::fields;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN_ID: &str = "00f067aa0ba902b7";
const CLIENT_SPAN_ID: &str = "5fb7d3f0c9a2e1d4";
const TIME: &str = "2026-05-01T12:00:00.123456Z";
/// The target of this module's events.
const HERE: &str = module_path!();

struct FixedTime;

impl FormatTime for FixedTime {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        w.write_str(TIME)
    }
}

/// The lines `f` writes through `format`, as written.
fn raw_lines(format: CloudLogging<FixedTime>, f: impl FnOnce()) -> Vec<String> {
    let out = Arc::new(Mutex::new(Vec::<u8>::new()));
    let writer = {
        let out = Arc::clone(&out);
        move || Capture(Arc::clone(&out))
    };
    let subscriber = tracing_subscriber::registry().with(format.layer().with_writer(writer));
    tracing::subscriber::with_default(subscriber, f);
    let out = String::from_utf8(out.lock().unwrap().clone()).expect("UTF-8");
    assert!(out.is_empty() || out.ends_with('\n'), "{out:?}");
    out.lines().map(str::to_owned).collect()
}

/// The lines, each parsed: every line must be one JSON object.
fn lines(format: CloudLogging<FixedTime>, f: impl FnOnce()) -> Vec<Value> {
    raw_lines(format, f)
        .iter()
        .map(|line| {
            let value: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            assert!(value.is_object(), "{line}");
            value
        })
        .collect()
}

fn format() -> CloudLogging<FixedTime> {
    CloudLogging::new("my-project")
        .with_timer(FixedTime)
        .with_source_location(false)
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A server request's span as the span layers make it.
fn request_span(sampled: bool) -> tracing::Span {
    tracing::info_span!(
        target: TARGET,
        SERVER_SPAN,
        trace_id = TRACE_ID,
        span_id = SPAN_ID,
        trace_sampled = sampled,
        http.route = "/users/{id}",
    )
}

#[test]
fn a_line_is_one_json_object_with_exact_fields() {
    let raw = raw_lines(format(), || {
        let _request = request_span(true).entered();
        let _load = tracing::info_span!("load", user = 7).entered();
        tracing::warn!(id = 42, ok = true, "loading the user");
    });
    let expected = format!(
        concat!(
            r#"{{"time":"{TIME}","severity":"WARNING","message":"loading the user","id":42,"ok":true,"#,
            r#""target":"{HERE}","#,
            r#""logging.googleapis.com/trace":"projects/my-project/traces/{TRACE_ID}","#,
            r#""logging.googleapis.com/spanId":"{SPAN_ID}","#,
            r#""logging.googleapis.com/trace_sampled":true,"#,
            r#""spans":[{{"name":"request","http.route":"/users/{{id}}","span_id":"{SPAN_ID}","trace_id":"{TRACE_ID}","trace_sampled":true}},"#,
            r#"{{"name":"load","user":7}}]}}"#,
        ),
        TIME = TIME,
        HERE = HERE,
        TRACE_ID = TRACE_ID,
        SPAN_ID = SPAN_ID,
    );
    assert_eq!(raw, [expected]);
}

#[test]
fn the_source_location_is_the_file_and_the_line_as_a_string() {
    let mut line = 0;
    let lines = lines(format().with_source_location(true), || {
        tracing::info!("here");
        line = line!() - 1;
    });
    assert_eq!(
        lines[0]["logging.googleapis.com/sourceLocation"],
        json!({ "file": file!(), "line": line.to_string() })
    );
}

#[rustfmt::skip]
#[test]
fn hostile_values_round_trip_exactly() {
    for (input, json) in [
        ("plain", r#""plain""#),
        ("a \"quote\"", r#""a \"quote\"""#),
        ("back\\slash", r#""back\\slash""#),
        ("line\nbreak\r\ttab", r#""line\nbreak\r\ttab""#),
        ("\u{1b}[31mred", r#""\u001b[31mred""#),      // control characters as \u escapes
        ("nul\u{0}", r#""nul\u0000""#),
        ("\u{8}\u{c}", r#""\b\f""#),                    // the two with short escapes
        ("\u{7f}", "\"\u{7f}\""),                       // DEL is not a control character in JSON
        ("née ✓ 🦀 \u{2028}", "\"née ✓ 🦀 \u{2028}\""), // non-ASCII stays as it is
        ("\"}],\"severity\":\"ERROR", r#""\"}],\"severity\":\"ERROR""#), // no way out of the string
    ] {
        let raw = raw_lines(format(), || {
            let _span = tracing::info_span!("work", held = input).entered();
            tracing::info!(value = input, shown = %input, "{input}");
        });
        assert_eq!(raw.len(), 1, "{input:?}: {raw:?}");
        for key in ["message", "value", "shown", "held"] {
            assert!(raw[0].contains(&format!(r#""{key}":{json}"#)), "{key} {input:?}: {}", raw[0]);
        }
        let line: Value = serde_json::from_str(&raw[0]).unwrap();
        assert_eq!(line["message"], input, "round trip");
        assert_eq!(line["value"], input, "round trip");
        assert_eq!(line["shown"], input, "round trip");
        assert_eq!(line["spans"][0]["held"], input, "round trip");
        assert_eq!(line["severity"], "INFO", "{input:?}");
        // A `Debug` value is its `{:?}`, quotes and escapes included.
        let debug = lines(format(), || tracing::info!(value = ?input));
        assert_eq!(debug[0]["value"], format!("{input:?}"));
    }
}

#[test]
fn event_values_keep_their_json_types() {
    let raw = raw_lines(format(), || {
        tracing::info!(
            i = -3_i64,
            u = u64::MAX,
            big = i128::MIN,
            f = 0.5_f64,
            nan = f64::NAN,
            inf = f64::NEG_INFINITY,
            yes = true,
            error = &io::Error::other("bad \"input\"") as &(dyn std::error::Error + 'static),
        );
    });
    let line: Value = serde_json::from_str(&raw[0]).unwrap();
    assert_eq!(line["i"], -3);
    assert_eq!(line["u"], u64::MAX);
    let big = format!(r#","big":{},"#, i128::MIN);
    assert!(raw[0].contains(&big), "a number, all digits: {}", raw[0]);
    assert_eq!(line["f"], 0.5);
    assert_eq!(line["nan"], "NaN", "JSON has no NaN");
    assert_eq!(line["inf"], "-inf");
    assert_eq!(line["yes"], true);
    assert_eq!(line["error"], "bad \"input\"");
}

#[test]
fn a_failing_debug_keeps_what_it_wrote() {
    struct Failing;
    impl fmt::Debug for Failing {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("par\"tial")?;
            Err(fmt::Error)
        }
    }
    let lines = lines(format(), || {
        let _span = tracing::info_span!("work", held = ?Failing).entered();
        tracing::info!(value = ?Failing);
    });
    assert_eq!(lines[0]["value"], "par\"tial");
    assert_eq!(lines[0]["spans"][0]["held"], "par\"tial");
}

#[test]
fn a_line_outside_any_request_has_no_trace_fields() {
    let lines = lines(format(), || {
        tracing::info!("outside");
        let _span = tracing::info_span!("job", trace_id = TRACE_ID, span_id = SPAN_ID).entered();
        tracing::info!("in a span of its own");
    });
    assert_eq!(
        lines[0],
        json!({ "time": TIME, "severity": "INFO", "message": "outside", "target": HERE })
    );
    assert_eq!(
        lines[1],
        json!({
            "time": TIME,
            "severity": "INFO",
            "message": "in a span of its own",
            "target": HERE,
            "spans": [{ "name": "job", "trace_id": TRACE_ID, "span_id": SPAN_ID }],
        }),
        "ids are read from request spans only"
    );
}

fn trace_fields(line: &Value) -> (&Value, &Value, &Value) {
    (
        &line["logging.googleapis.com/trace"],
        &line["logging.googleapis.com/spanId"],
        &line["logging.googleapis.com/trace_sampled"],
    )
}

#[test]
fn the_innermost_request_span_with_ids_gives_them() {
    let lines = lines(format(), || {
        let _request = request_span(false).entered();
        let _handler = tracing::info_span!("handler").entered();
        tracing::info!("in the handler");
        {
            let _call = tracing::info_span!(
                target: TARGET,
                CLIENT_SPAN,
                trace_id = TRACE_ID,
                span_id = CLIENT_SPAN_ID,
                trace_sampled = true,
            )
            .entered();
            let _inner = tracing::info_span!("retry").entered();
            tracing::info!("in the call");
        }
        tracing::info!("after the call");
    });
    let trace = Value::from(format!("projects/my-project/traces/{TRACE_ID}"));
    assert_eq!(
        trace_fields(&lines[0]),
        (&trace, &Value::from(SPAN_ID), &Value::from(false)),
        "a nested span without ids has the request's"
    );
    assert_eq!(
        trace_fields(&lines[1]),
        (&trace, &Value::from(CLIENT_SPAN_ID), &Value::from(true)),
        "the client call's, innermost"
    );
    assert_eq!(
        trace_fields(&lines[2]),
        (&trace, &Value::from(SPAN_ID), &Value::from(false))
    );
    let names: Vec<&Value> = lines[1]["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["name"])
        .collect();
    assert_eq!(names, ["request", "handler", "client_request", "retry"]);
}

#[test]
fn ids_are_kept_typed_in_the_span_extensions() {
    let ids = |span: &tracing::Span| {
        span.with_subscriber(|(id, dispatch)| {
            let registry = dispatch.downcast_ref::<Registry>().expect("a registry");
            let span = registry.span(id).expect("open");
            let extensions = span.extensions();
            extensions.get::<RequestIds>().copied()
        })
        .flatten()
    };
    let lines = lines(format(), || {
        let request = request_span(true);
        assert_eq!(
            ids(&request),
            Some(RequestIds {
                trace_id: TraceId::from_hex(TRACE_ID).unwrap(),
                span_id: SpanId::from_hex(SPAN_ID).unwrap(),
                sampled: Some(true),
            }),
            "read when the span opens"
        );
        let _request = request.entered();
        let handler = tracing::info_span!("handler", trace_id = TRACE_ID, span_id = SPAN_ID);
        assert_eq!(ids(&handler), None, "not a request span");
        tracing::info!("logged");
    });
    assert_eq!(lines[0]["logging.googleapis.com/spanId"], SPAN_ID);
}

#[test]
fn ids_recorded_after_the_span_opens_are_read_when_recorded() {
    let lines = lines(format(), || {
        let span = tracing::info_span!(
            target: TARGET,
            SERVER_SPAN,
            trace_id = Empty,
            span_id = Empty,
            trace_sampled = Empty,
        );
        let _entered = span.enter();
        tracing::info!("before");
        span.record("trace_id", TRACE_ID);
        tracing::info!("trace id only");
        span.record("span_id", SPAN_ID);
        tracing::info!("both ids");
        span.record("trace_sampled", true);
        tracing::info!("sampled");
    });
    assert!(lines[0].get("logging.googleapis.com/trace").is_none());
    assert!(lines[1].get("logging.googleapis.com/trace").is_none());
    assert_eq!(lines[2]["logging.googleapis.com/spanId"], SPAN_ID);
    assert!(
        lines[2]
            .get("logging.googleapis.com/trace_sampled")
            .is_none(),
        "no flag, no field"
    );
    assert_eq!(lines[3]["logging.googleapis.com/trace_sampled"], true);
    assert_eq!(lines[3]["spans"][0]["trace_sampled"], true);
}

#[rustfmt::skip]
#[test]
fn ids_must_be_hex_of_their_length() {
    let ids = |trace_id: &str, span_id: &str| {
        let mut fields = SpanFields::default();
        fields.0.insert(fields::TRACE_ID, Value::from(trace_id));
        fields.0.insert(fields::SPAN_ID, Value::from(span_id));
        RequestIds::from_fields(&fields)
    };
    assert!(ids(TRACE_ID, SPAN_ID).is_some());
    assert!(RequestIds::from_fields(&SpanFields::default()).is_none()); // no ids
    assert!(ids(&TRACE_ID[1..], SPAN_ID).is_none());             // too short
    assert!(ids(TRACE_ID, "+0f067aa0ba902b7").is_none());        // a sign is not hex
    assert!(ids(&TRACE_ID.replace('4', "g"), SPAN_ID).is_none()); // not hex
}

#[test]
fn the_project_comes_from_the_variable_when_set() {
    let from = |value: Option<&str>| {
        CloudLogging::from_project_var(value.map(str::to_owned)).map(|f| f.trace_prefix)
    };
    assert_eq!(
        from(Some("my-project")).as_deref(),
        Some("projects/my-project/traces/")
    );
    assert_eq!(
        from(Some(" my-project\n")).as_deref(),
        Some("projects/my-project/traces/")
    );
    assert_eq!(from(Some("  ")), None);
    assert_eq!(from(None), None);
}

#[test]
fn severities_are_cloud_loggings() {
    assert_eq!(severity(&Level::ERROR), "ERROR");
    assert_eq!(severity(&Level::WARN), "WARNING");
    assert_eq!(severity(&Level::INFO), "INFO");
    assert_eq!(severity(&Level::DEBUG), "DEBUG");
    assert_eq!(severity(&Level::TRACE), "DEBUG");
}
