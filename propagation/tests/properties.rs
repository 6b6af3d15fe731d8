//! Property tests: every codec round-trips what it writes, and arbitrary bytes never panic nor
//! produce an all-zero or malformed result.
//!
//! Every invariant a fuzz target asserts (`fuzz/fuzz_targets/*.rs`) is checked here too, by a
//! function written the same way and fed both arbitrary bytes and inputs built to be nearly
//! valid, so `cargo test` holds the fuzz campaign's contract between campaigns:
//!
//! | fuzz target | here |
//! |---|---|
//! | `traceparent` | `traceparent_arbitrary_bytes` |
//! | `cloud_trace` | `cloud_trace_arbitrary_bytes` |
//! | `tracestate` | `tracestate_arbitrary_bytes` (`tracestate_fuzz_invariants`) |
//! | `baggage` | `baggage_arbitrary_bytes`, `baggage_accepted_is_forwarded_whole` |
//! | `grpc_trace_bin` | `grpc_trace_bin_*` (`grpc_trace_bin_fuzz_invariants`) |
//! | `propagator` | `propagator_*` (`propagator_fuzz_invariants`) |

use http::{HeaderMap, HeaderValue};
use opentelemetry::Context;
use opentelemetry::baggage::{Baggage, BaggageExt};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use proptest::prelude::*;
use proptest::sample::select;
use tower_telemetry_propagation::{
    BaggagePropagator, HeaderPropagator, KeyGrammar, Propagator, TraceStateList, baggage,
    cloud_trace, grpc_trace_bin, traceparent, tracestate::is_valid_value,
};

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

/// The `tracestate` fuzz target's checks: fields split at NUL; under either grammar a success
/// is a list of valid, unique members that re-parses to itself and survives any mutation.
fn tracestate_fuzz_invariants(data: &[u8]) -> Result<(), TestCaseError> {
    let fields = data.split(|&b| b == 0);
    for grammar in [KeyGrammar::Level2, KeyGrammar::Level1] {
        if let Ok(mut list) = TraceStateList::parse_fields(fields.clone(), grammar) {
            prop_assert!(list.len() <= 32);
            let mut keys = std::collections::HashSet::new();
            for (k, v) in list.iter() {
                prop_assert!(grammar.is_valid_key(k) && is_valid_value(v) && keys.insert(k));
            }
            prop_assert_eq!(
                TraceStateList::parse(list.as_str(), grammar).unwrap(),
                list.clone()
            );
            let _ = list.to_trace_state();
            let cap = data.len() % 600;
            list.truncate(cap);
            prop_assert!(list.as_str().len() <= cap);
            let _ = list.insert("fuzz", "1");
            prop_assert!(list.len() <= 32);
        }
    }
    Ok(())
}

/// The `grpc_trace_bin` fuzz target's model of the format: version 0, field 0 (16 bytes),
/// field 1 (8 bytes), optional field 2 (1 byte), then nothing or an unknown field id.
fn grpc_trace_bin_reference(b: &[u8]) -> Option<(u128, u64, bool)> {
    if b.first() != Some(&0) || b.get(1) != Some(&0) || b.len() < 18 {
        return None;
    }
    let trace_id = u128::from_be_bytes(b[2..18].try_into().ok()?);
    if b.get(18) != Some(&1) || b.len() < 27 {
        return None;
    }
    let span_id = u64::from_be_bytes(b[19..27].try_into().ok()?);
    let (sampled, next) = match b.get(27) {
        Some(2) => (b.get(28)? & 1 == 1, 29),
        _ => (false, 27),
    };
    if matches!(b.get(next), Some(0..=2)) {
        return None;
    }
    (trace_id != 0 && span_id != 0).then_some((trace_id, span_id, sampled))
}

/// Standard base64 (RFC 4648 §4), written independently of the crate's.
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

/// The `grpc_trace_bin` fuzz target's checks.
fn grpc_trace_bin_fuzz_invariants(data: &[u8]) -> Result<(), TestCaseError> {
    // The binary form, against the model.
    let decoded = grpc_trace_bin::decode(data);
    let model = decoded.as_ref().ok().map(|sc| {
        (
            u128::from_be_bytes(sc.trace_id().to_bytes()),
            u64::from_be_bytes(sc.span_id().to_bytes()),
            sc.is_sampled(),
        )
    });
    prop_assert_eq!(model, grpc_trace_bin_reference(data));
    if let Ok(sc) = &decoded {
        prop_assert!(sc.is_valid() && sc.is_remote());
        prop_assert_eq!(sc.trace_flags().to_u8() & !1, 0, "only the sampled flag");
        let bytes = grpc_trace_bin::encode(sc);
        prop_assert_eq!(grpc_trace_bin::decode(&bytes), Ok(sc.clone()));
        if data.len() == grpc_trace_bin::LEN && data[27] == 2 && data[28] <= 1 {
            prop_assert_eq!(&bytes[..], data, "the canonical form re-encodes to itself");
        }
    }
    // The same bytes as a metadata value, padded and not: base64 is transparent.
    for padded in [false, true] {
        let text = base64(data, padded);
        if text.len() <= grpc_trace_bin::MAX_LEN {
            prop_assert_eq!(grpc_trace_bin::parse(&text), decoded.clone(), "{}", text);
        }
    }
    // The bytes as text: whatever parses re-encodes to a value that parses to the same.
    if let Ok(sc) = grpc_trace_bin::parse(data) {
        prop_assert!(sc.is_valid());
        let text = grpc_trace_bin::encode_base64(&sc);
        prop_assert_eq!(&grpc_trace_bin::parse(text).unwrap(), &sc);
        let value = grpc_trace_bin::to_header_value(&sc).unwrap();
        prop_assert_eq!(value.as_bytes(), &text[..]);
    }
    Ok(())
}

/// A valid binary trace context, then damaged: cut short, one byte changed, or a tail added.
fn grpc_trace_bin_near_valid() -> impl Strategy<Value = Vec<u8>> {
    (
        span_context(),
        0usize..=grpc_trace_bin::LEN,
        proptest::option::of((
            0usize..grpc_trace_bin::LEN,
            select(&[0u8, 1, 2, 3, 0xff][..]),
        )),
        proptest::collection::vec(
            prop_oneof![select(&[0u8, 1, 2, 3, 0x7f][..]), any::<u8>()],
            0..12,
        ),
    )
        .prop_map(|(sc, cut, change, tail)| {
            let mut bytes = grpc_trace_bin::encode(&sc).to_vec();
            if let Some((at, byte)) = change {
                bytes[at] = byte;
            }
            if cut < bytes.len() && tail.is_empty() {
                bytes.truncate(cut);
            }
            bytes.extend(tail);
            bytes
        })
}

/// The header names the `propagator` fuzz target picks from with each field's first byte.
const PROPAGATOR_NAMES: [&str; 5] = [
    "traceparent",
    "tracestate",
    "x-cloud-trace-context",
    "baggage",
    "grpc-trace-bin",
];

fn same_ids(a: &SpanContext, b: &SpanContext) -> bool {
    (a.trace_id(), a.span_id(), a.is_sampled()) == (b.trace_id(), b.span_id(), b.is_sampled())
}

/// The `propagator` fuzz target's checks: fields separated by NUL, the first byte of each
/// picking the header; every format on; what is extracted is valid and injected as the same
/// context in every format; baggage goes out whole and reads back the same.
fn propagator_fuzz_invariants(data: &[u8]) -> Result<(), TestCaseError> {
    let mut headers = HeaderMap::new();
    for field in data.split(|&b| b == 0) {
        let Some((&selector, value)) = field.split_first() else {
            continue;
        };
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append(
                PROPAGATOR_NAMES[usize::from(selector) % PROPAGATOR_NAMES.len()],
                value,
            );
        }
    }
    let propagator = Propagator::w3c_and_cloud_trace()
        .with_grpc_trace_bin_injection()
        .with_baggage();
    let extracted = propagator.extract(&headers);
    let cx = propagator.extract_headers(&headers, &Context::new());
    let span = cx.span();
    let in_context = span.span_context();
    match &extracted {
        Some(sc) => {
            prop_assert!(sc.is_valid() && sc.is_remote());
            prop_assert!(same_ids(sc, in_context) && sc.trace_flags() == in_context.trace_flags());
        }
        None => prop_assert!(!in_context.is_valid()),
    }
    let bag = BaggagePropagator::new().extract(&headers);
    prop_assert_eq!(baggage_members(cx.baggage()), baggage_members(&bag));

    let mut out = HeaderMap::new();
    propagator.inject_headers(&cx, &mut out);
    match &extracted {
        Some(sc) => {
            let again = propagator.extract(&out);
            prop_assert!(again.is_some(), "what we send parses");
            let again = again.unwrap();
            prop_assert!(same_ids(sc, &again) && sc.trace_flags() == again.trace_flags());
            let tp = traceparent::parse(out["traceparent"].as_bytes()).unwrap();
            let xctc = cloud_trace::parse(out["x-cloud-trace-context"].as_bytes()).unwrap();
            let bin = grpc_trace_bin::parse(out["grpc-trace-bin"].as_bytes()).unwrap();
            prop_assert!(same_ids(sc, &tp) && same_ids(sc, &xctc) && same_ids(sc, &bin));
        }
        None => {
            for name in [
                "traceparent",
                "tracestate",
                "x-cloud-trace-context",
                "grpc-trace-bin",
            ] {
                prop_assert!(!out.contains_key(name), "{} sent without a context", name);
            }
        }
    }
    let next_hop = propagator.extract_headers(&out, &Context::new());
    prop_assert_eq!(baggage_members(next_hop.baggage()), baggage_members(&bag));
    Ok(())
}

/// One header field for the `propagator` checks: a selector byte and a value, valid or not.
fn propagator_field() -> impl Strategy<Value = Vec<u8>> {
    let value = prop_oneof![
        span_context().prop_map(|sc| traceparent::encode(&sc).to_vec()),
        span_context().prop_map(|sc| cloud_trace::encode(&sc).as_bytes().to_vec()),
        span_context().prop_map(|sc| grpc_trace_bin::encode_base64(&sc).to_vec()),
        grpc_trace_bin_near_valid().prop_map(|b| base64(&b, false).into_bytes()),
        proptest::collection::vec((key_l2(), value()), 0..4).prop_map(|members| {
            let members: Vec<String> = members.iter().map(|(k, v)| format!("{k}={v}")).collect();
            members.join(",").into_bytes()
        }),
        baggage_member().prop_map(String::into_bytes),
        proptest::collection::vec(1u8..=255, 0..80),
    ];
    // Selector 0 would be the NUL separator itself: 5 picks `traceparent` (5 % 5 == 0).
    (1u8..=5, value).prop_map(|(selector, mut value)| {
        value.insert(0, selector);
        value
    })
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

/// The round-trip contract of `baggage` (W3C Baggage, "Limits" counted on the re-encoded
/// length): whatever was accepted is forwarded whole, within the limits, and the next hop reads
/// back exactly the same members, values and metadata.
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
    fn tracestate_arbitrary_bytes(fields in proptest::collection::vec(
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..60),
            proptest::collection::vec((key_l2(), value()), 0..12).prop_map(|members| {
                let members: Vec<String> = members.iter().map(|(k, v)| format!("{k}={v}")).collect();
                members.join(" , ").into_bytes()
            }),
        ],
        0..4,
    )) {
        tracestate_fuzz_invariants(&fields.join(&0))?;
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

    #[test]
    fn propagator_fuzz_invariants_on_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        propagator_fuzz_invariants(&data)?;
    }

    #[test]
    fn propagator_fuzz_invariants_on_header_fields(fields in proptest::collection::vec(propagator_field(), 0..8)) {
        propagator_fuzz_invariants(&fields.join(&0))?;
    }

    #[test]
    fn grpc_trace_bin_round_trip(sc in span_context(), padded in any::<bool>()) {
        let expected = SpanContext::new(
            sc.trace_id(),
            sc.span_id(),
            sc.trace_flags() & TraceFlags::SAMPLED,
            true,
            TraceState::NONE,
        );
        prop_assert_eq!(&grpc_trace_bin::decode(&grpc_trace_bin::encode(&sc)).unwrap(), &expected);
        let mut text = String::from_utf8(grpc_trace_bin::encode_base64(&sc).to_vec()).unwrap();
        prop_assert_eq!(&text, &base64(&grpc_trace_bin::encode(&sc), false));
        if padded {
            text.push('=');
        }
        prop_assert_eq!(grpc_trace_bin::parse(&text).unwrap(), expected);
    }

    #[test]
    fn grpc_trace_bin_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..80)) {
        grpc_trace_bin_fuzz_invariants(&data)?;
    }

    #[test]
    fn grpc_trace_bin_near_valid_bytes(data in grpc_trace_bin_near_valid()) {
        grpc_trace_bin_fuzz_invariants(&data)?;
    }

    #[test]
    fn grpc_trace_bin_base64_text(text in "[A-Za-z0-9+/=_ -]{0,60}") {
        // Mostly base64-looking text, as a metadata value.
        grpc_trace_bin_fuzz_invariants(text.as_bytes())?;
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
