use super::*;
use crate::bound::Atom;
use opentelemetry::trace::{SpanId, TraceFlags, TraceId, TraceState};

const BOUNDS: &[f64] = &[0.1, 1.0, 10.0];

fn key(n: u32) -> SeriesKey {
    let mut key = SeriesKey::default();
    key.atoms[0] = Atom::of_static("GET");
    key.numbers[0] = n;
    key
}

fn ids(n: u64) -> Ids {
    Ids {
        trace: u128::from(n) << 64 | 0xabc,
        span: n,
    }
}

fn attrs(n: u32) -> [KeyValue; 2] {
    [
        KeyValue::new("http.route", "/users/{id}"),
        KeyValue::new("http.response.status_code", i64::from(n)),
    ]
}

fn span(sampled: bool) -> SpanContext {
    SpanContext::new(
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
        SpanId::from_hex("00f067aa0ba902b7").unwrap(),
        if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        },
        true,
        TraceState::default(),
    )
}

#[test]
fn the_filter_admits_as_the_sdk_specification_says() {
    let unsampled = span(false);
    let sampled = span(true);
    let invalid = SpanContext::empty_context();
    let expected = Ids {
        trace: 0x4bf92f3577b34da6a3ce929d0e0e4736,
        span: 0x00f067aa0ba902b7,
    };
    #[rustfmt::skip]
    let cases = [
        // (filter, span, admitted)
        (ExemplarFilter::TraceBased, &sampled, true),
        (ExemplarFilter::TraceBased, &unsampled, false), // nothing kept for unsampled requests
        (ExemplarFilter::TraceBased, &invalid, false),
        (ExemplarFilter::AlwaysOn, &sampled, true),
        (ExemplarFilter::AlwaysOn, &unsampled, true),
        (ExemplarFilter::AlwaysOn, &invalid, false),     // no ids to name
        (ExemplarFilter::AlwaysOff, &sampled, false),
    ];
    for (filter, span, admitted) in cases {
        assert_eq!(
            filter.admit(span),
            admitted.then_some(expected),
            "{filter:?}"
        );
    }
    for (name, filter) in [
        ("trace_based", ExemplarFilter::TraceBased),
        ("ALWAYS_ON", ExemplarFilter::AlwaysOn),
        (" always_off ", ExemplarFilter::AlwaysOff),
    ] {
        assert_eq!(ExemplarFilter::from_name(name), Some(filter));
    }
    for bad in ["", "on", "tracebased", "always"] {
        assert_eq!(ExemplarFilter::from_name(bad), None, "{bad:?}");
    }
}

#[test]
fn one_exemplar_per_bucket_the_latest_wins_and_the_labels_are_prometheus_labels() {
    let store = Exemplars::new("http.server.request.duration", "s", BOUNDS, 8);
    assert_eq!(store.family, "http_server_request_duration_seconds");
    let t = |s: u64| SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(s);
    // Bounds are inclusive: 0.1 is in the first bucket, 0.1000001 in the second.
    store.offer(&key(200), 0.1, ids(1), t(1), || attrs(200));
    store.offer(&key(200), 0.1000001, ids(2), t(2), || attrs(200));
    store.offer(&key(200), 0.5, ids(3), t(3), || -> [KeyValue; 0] {
        panic!("attributes built twice")
    });
    store.offer(&key(200), 99.0, ids(4), t(4), || attrs(200));
    store.offer(&key(200), f64::NAN, ids(5), t(5), || attrs(200));
    let snapshot = store.snapshot();
    assert_eq!(snapshot.len(), 1);
    let (labels, slots) = &snapshot[0];
    assert_eq!(
        &**labels,
        &[
            ("http_response_status_code".to_owned(), "200".to_owned()),
            ("http_route".to_owned(), "/users/{id}".to_owned()),
        ]
    );
    let kept: Vec<_> = slots
        .iter()
        .map(|s| s.map(|e| (e.ids.span, e.value)))
        .collect();
    assert_eq!(
        kept,
        [Some((1, 0.1)), Some((3, 0.5)), None, Some((4, 99.0))],
        "0.5 replaced 0.1000001; +Inf last; NaN dropped"
    );
    assert_eq!(slots[3].unwrap().time_nanos, 4_000_000_000);
}

#[test]
fn series_are_bounded_by_the_cap() {
    let store = Exemplars::new("rpc.server.duration", "ms", BOUNDS, 4);
    assert_eq!(store.family, "rpc_server_duration_milliseconds");
    for n in 0..10 {
        store.offer(&key(n), 1.0, ids(1), SystemTime::now(), || attrs(n));
    }
    assert_eq!(store.len(), 4);
    assert_eq!(store.snapshot().len(), 4);
}

/// 8 threads offering to the same series and buckets while a reader scrapes: every exemplar
/// read is one that was written whole (its ids and value belong together), never torn.
#[test]
fn eight_writers_and_a_reader_never_see_a_torn_exemplar() {
    const WRITES: u64 = 20_000;
    let store = Arc::new(Exemplars::new("d", "s", BOUNDS, 8));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (store, stop) = (Arc::clone(&store), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut seen = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for (_, slots) in store.snapshot() {
                    for e in slots.into_iter().flatten() {
                        // Each writer writes trace = n << 64 | 0xabc, span = n,
                        // value = n as f64 / 1e5 (each thread in a bucket of its own, or two).
                        assert_eq!(e.ids.trace, u128::from(e.ids.span) << 64 | 0xabc);
                        assert_eq!(e.value, e.ids.span as f64 / 1e5, "torn: {e:?}");
                        assert_eq!(e.time_nanos, e.ids.span);
                        seen += 1;
                    }
                }
            }
            seen
        })
    };
    let writers: Vec<_> = (0..8u64)
        .map(|t| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for i in 0..WRITES {
                    let n = t * 1_000_000 + i * 8 + 1;
                    let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_nanos(n);
                    store.offer(&key(0), n as f64 / 1e5, ids(n), at, || attrs(0));
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let seen = reader.join().unwrap();
    assert!(seen > 0, "the reader read nothing");
    let (_, slots) = &store.snapshot()[0];
    assert!(
        slots.iter().all(Option::is_some),
        "every bucket holds one: {slots:?}"
    );
}
