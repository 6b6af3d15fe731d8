//! Property tests: every codec round-trips what it writes, and arbitrary bytes never panic nor
//! produce an all-zero or malformed result.

use http::{HeaderMap, HeaderValue};
use opentelemetry::baggage::Baggage;
use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
use propagation::{
    BaggagePropagator, KeyGrammar, Propagator, TraceStateList, baggage, cloud_trace, traceparent,
    tracestate::is_valid_value,
};
use proptest::prelude::*;
use proptest::sample::select;

fn span_context() -> impl Strategy<Value = SpanContext> {
    (1..=u128::MAX, 1..=u64::MAX, any::<u8>()).prop_map(|(t, s, f)| {
        SpanContext::new(
            TraceId::from(t),
            SpanId::from(s),
            TraceFlags::new(f),
            false,
            TraceState::NONE,
        )
    })
}

fn lowercase_hex(b: &[u8]) -> bool {
    b.iter()
        .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
}

fn key_l2() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9_*/@-]{0,40}"
}

fn value() -> impl Strategy<Value = String> {
    // Printable ASCII without ',' and '=', not ending in a space.
    "[ -+--<>-~]{0,30}[!-+--<>-~]"
}

/// A baggage's members as sorted `(key, value, metadata)` triples (`Baggage` has no `PartialEq`).
fn baggage_members(bag: &Baggage) -> Vec<(String, String, String)> {
    let mut members: Vec<_> = bag
        .iter()
        .map(|(k, (v, m))| (k.to_string(), v.to_string(), m.as_str().to_owned()))
        .collect();
    members.sort();
    members
}

/// The round-trip contract of `baggage` (issue 17): whatever was accepted is forwarded whole,
/// within the limits, and the next hop reads back exactly the same members, values and
/// metadata.
fn assert_forwarded_whole(bag: &Baggage) -> Result<(), TestCaseError> {
    prop_assert!(bag.len() <= baggage::MAX_MEMBERS);
    match baggage::encode(bag) {
        None => prop_assert!(bag.is_empty()),
        Some(header) => {
            prop_assert!(header.len() <= baggage::MAX_BYTES, "{} bytes", header.len());
            prop_assert!(HeaderValue::from_str(&header).is_ok(), "{}", header);
            let next_hop =
                baggage::parse(&header).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(baggage_members(&next_hop), baggage_members(bag));
        }
    }
    Ok(())
}

/// A piece of a baggage value, chosen for how it changes length when re-encoded.
fn baggage_value_piece() -> impl Strategy<Value = &'static str> {
    select(
        &[
            "%",         // a literal '%': 1 byte in, 3 out
            "%FF",       // invalid UTF-8: U+FFFD, 9 bytes out
            "%C3",       // a truncated UTF-8 sequence
            "%41",       // a needless escape: 1 byte out
            "%2C",       // a required escape: same length
            "%e2%9c%93", // UTF-8 with lowercase hex
            "%%4",       // '%' then an incomplete escape
            "a=b",       // '=' inside a value
            "x",
            "Z9-_.~!#$&'*+/:<>?@[]^`{|}",
        ][..],
    )
}

/// A baggage value: a few pieces, sometimes repeated into thousands of bytes to reach the limit.
fn baggage_value() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec(baggage_value_piece(), 0..4),
        prop_oneof![4 => 1usize..3, 1 => 300usize..2800],
    )
        .prop_map(|(pieces, times)| pieces.concat().repeat(times))
}

/// One list member as a sender may write it: OWS, properties with and without values.
fn baggage_member() -> impl Strategy<Value = String> {
    let ows = || select(&["", " ", "\t ", "  "][..]);
    let property = ("[a-z%!]{1,3}", proptest::option::of(baggage_value()), ows()).prop_map(
        |(k, v, w)| match v {
            Some(v) => format!("{w};{w}{k}{w}={w}{v}"),
            None => format!("{w};{k}"),
        },
    );
    (
        "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,4}",
        ows(),
        baggage_value(),
        proptest::collection::vec(property, 0..3),
    )
        .prop_map(|(k, w, v, props)| format!("{w}{k}{w}={w}{v}{}{w}", props.concat()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn traceparent_round_trip(sc in span_context()) {
        let encoded = traceparent::encode(&sc);
        let parsed = traceparent::parse(encoded).unwrap();
        prop_assert_eq!(parsed.trace_id(), sc.trace_id());
        prop_assert_eq!(parsed.span_id(), sc.span_id());
        prop_assert_eq!(parsed.trace_flags(), sc.trace_flags() & traceparent::KNOWN_FLAGS);
    }

    #[test]
    fn traceparent_arbitrary_bytes(input in proptest::collection::vec(any::<u8>(), 0..80)) {
        if let Ok(sc) = traceparent::parse(&input) {
            prop_assert!(sc.is_valid());
            let out = traceparent::encode(&sc);
            prop_assert_eq!(&out[..3], b"00-");
            prop_assert!(lowercase_hex(&out[3..35]) && lowercase_hex(&out[36..52]) && lowercase_hex(&out[53..]));
            prop_assert_eq!(traceparent::parse(out).unwrap(), sc);
        }
    }

    #[test]
    fn traceparent_mutations_of_a_valid_value(pos in 0usize..55, byte in any::<u8>()) {
        // One changed byte either still parses to a valid context or is rejected.
        let mut v = *b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        v[pos] = byte;
        if let Ok(sc) = traceparent::parse(v) {
            prop_assert!(sc.is_valid());
        }
    }

    #[test]
    fn cloud_trace_round_trip(sc in span_context()) {
        let encoded = cloud_trace::encode(&sc);
        let parsed = cloud_trace::parse(encoded.as_bytes()).unwrap();
        prop_assert_eq!(parsed.trace_id(), sc.trace_id());
        prop_assert_eq!(parsed.span_id(), sc.span_id());
        prop_assert_eq!(parsed.is_sampled(), sc.is_sampled());
    }

    #[test]
    fn cloud_trace_arbitrary_bytes(input in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(sc) = cloud_trace::parse(&input) {
            prop_assert!(sc.is_valid());
            let again = cloud_trace::parse(cloud_trace::encode(&sc).as_bytes()).unwrap();
            prop_assert_eq!(again, sc);
        }
    }

    #[test]
    fn cloud_trace_grammar_strings(input in "[0-9a-fA-F]{30,34}/[0-9]{0,22}(;o=[0-9]{0,3})?") {
        if let Ok(sc) = cloud_trace::parse(&input) {
            prop_assert!(sc.is_valid());
        }
    }

    #[test]
    fn tracestate_round_trip(members in proptest::collection::vec((key_l2(), value()), 0..40)) {
        let header: Vec<String> = members.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let header = header.join(" ,\t");
        match TraceStateList::parse(&header, KeyGrammar::Level2) {
            Ok(list) => {
                prop_assert!(members.len() <= 32);
                // Keys are unique, the left-most value wins, order is kept.
                let mut seen = std::collections::HashSet::new();
                let expected: Vec<(&str, &str)> = members
                    .iter()
                    .filter(|(k, _)| seen.insert(k.as_str()))
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                prop_assert_eq!(list.iter().collect::<Vec<_>>(), expected);
                let again = TraceStateList::parse(list.as_str(), KeyGrammar::Level2).unwrap();
                prop_assert_eq!(again, list);
            }
            Err(_) => prop_assert!(members.len() > 32),
        }
    }

    #[test]
    fn tracestate_arbitrary_bytes(fields in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..60), 0..4)) {
        let fields: Vec<&[u8]> = fields.iter().map(Vec::as_slice).collect();
        for grammar in [KeyGrammar::Level2, KeyGrammar::Level1] {
            if let Ok(list) = TraceStateList::parse_fields(fields.iter().copied(), grammar) {
                prop_assert!(list.len() <= 32);
                for (k, v) in list.iter() {
                    prop_assert!(grammar.is_valid_key(k));
                    prop_assert!(is_valid_value(v));
                }
                prop_assert_eq!(TraceStateList::parse(list.as_str(), grammar).unwrap(), list);
            }
        }
    }

    #[test]
    fn tracestate_mutations_keep_invariants(
        members in proptest::collection::vec((key_l2(), value()), 0..32),
        ops in proptest::collection::vec((key_l2(), value(), any::<bool>()), 0..40),
        cap in 0usize..2000,
    ) {
        let header: Vec<String> = members.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut list = TraceStateList::parse(header.join(","), KeyGrammar::Level2).unwrap();
        for (k, v, insert) in &ops {
            if *insert {
                list.insert(k, v).unwrap();
                prop_assert_eq!(list.iter().next(), Some((k.as_str(), v.as_str())));
            } else {
                list.remove(k);
                prop_assert_eq!(list.get(k), None);
            }
            prop_assert!(list.len() <= 32);
            prop_assert_eq!(TraceStateList::parse(list.as_str(), KeyGrammar::Level2).unwrap(), list.clone());
        }
        let before = list.clone();
        list.truncate(cap);
        prop_assert!(list.as_str().len() <= cap);
        // Whole entries only, in their original order.
        let kept: Vec<_> = list.iter().collect();
        let original: Vec<_> = before.iter().filter(|m| kept.contains(m)).collect();
        prop_assert_eq!(kept, original);
    }

    #[test]
    fn baggage_round_trip(members in proptest::collection::hash_map("[A-Za-z0-9_.~-]{1,12}", ".{0,20}", 0..20)) {
        let mut bag = Baggage::new();
        for (k, v) in &members {
            let _ = bag.insert(k.clone(), v.clone());
        }
        match baggage::encode(&bag) {
            Some(header) => {
                let parsed = baggage::parse(&header).unwrap();
                prop_assert_eq!(parsed.len(), members.len());
                for (k, v) in &members {
                    prop_assert_eq!(parsed.get(k.as_str()).unwrap().as_str(), v.as_str());
                }
            }
            None => prop_assert!(members.is_empty()),
        }
    }

    #[test]
    fn baggage_arbitrary_bytes(input in proptest::collection::vec(
        prop_oneof![any::<u8>(), select(&b"%=,; \tkF41\0"[..])],
        0..300,
    )) {
        // The fuzz target's invariants: fields split at NUL; whatever `parse_fields` accepts
        // is forwarded whole and reads back exactly.
        if let Ok(bag) = baggage::parse_fields(input.split(|&b| b == 0)) {
            assert_forwarded_whole(&bag)?;
        }
    }

    #[test]
    fn propagator_never_panics(
        tp in proptest::collection::vec(proptest::collection::vec(32u8..127, 0..70), 0..3),
        ts in proptest::collection::vec(proptest::collection::vec(32u8..127, 0..70), 0..3),
        xctc in proptest::collection::vec(32u8..127, 0..80),
    ) {
        let mut headers = HeaderMap::new();
        for v in &tp {
            headers.append("traceparent", HeaderValue::from_bytes(v).unwrap());
        }
        for v in &ts {
            headers.append("tracestate", HeaderValue::from_bytes(v).unwrap());
        }
        headers.append("x-cloud-trace-context", HeaderValue::from_bytes(&xctc).unwrap());
        let propagator = Propagator::w3c_and_cloud_trace();
        if let Some(sc) = propagator.extract(&headers) {
            prop_assert!(sc.is_valid());
            let mut out = HeaderMap::new();
            propagator.inject(&sc, &mut out);
            prop_assert_eq!(propagator.extract(&out).unwrap().trace_id(), sc.trace_id());
        }
    }
}

proptest! {
    // Members of up to ~100 KB each: fewer cases keep `cargo test` quick.
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn baggage_accepted_is_forwarded_whole(
        fields in proptest::collection::vec(proptest::collection::vec(baggage_member(), 0..40), 1..4),
    ) {
        let fields: Vec<String> = fields.iter().map(|members| members.join(",")).collect();
        if let Ok(bag) = baggage::parse_fields(fields.iter().map(String::as_bytes)) {
            assert_forwarded_whole(&bag)?;
        }
        // The propagator (which drops a malformed member alone) keeps the same contract, and
        // the next hop's propagator reads back what this one sent.
        let mut incoming = HeaderMap::new();
        for field in &fields {
            incoming.append("baggage", HeaderValue::from_str(field).unwrap());
        }
        let propagator = BaggagePropagator::new();
        let bag = propagator.extract(&incoming);
        assert_forwarded_whole(&bag)?;
        let mut outgoing = HeaderMap::new();
        propagator.inject(&bag, &mut outgoing);
        prop_assert_eq!(baggage_members(&propagator.extract(&outgoing)), baggage_members(&bag));
    }
}
