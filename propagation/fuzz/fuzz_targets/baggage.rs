//! Any bytes, split into fields at NUL: no panic; whatever is accepted is forwarded whole,
//! within the limits, and the next hop reads back exactly the same members, values and
//! metadata (`tests/properties.rs`: `baggage_arbitrary_bytes`, `baggage_accepted_is_forwarded_whole`).
#![no_main]
use libfuzzer_sys::fuzz_target;
use opentelemetry::baggage::Baggage;
use propagation::baggage;

/// `Baggage` has no `PartialEq`: compare sorted `(key, value, metadata)` triples.
fn members(bag: &Baggage) -> Vec<(String, String, String)> {
    let mut members: Vec<_> = bag
        .iter()
        .map(|(k, (v, m))| (k.to_string(), v.to_string(), m.as_str().to_owned()))
        .collect();
    members.sort();
    members
}

fuzz_target!(|data: &[u8]| {
    if let Ok(bag) = baggage::parse_fields(data.split(|&b| b == 0)) {
        assert!(bag.len() <= baggage::MAX_MEMBERS);
        match baggage::encode(&bag) {
            None => assert!(bag.is_empty()),
            Some(header) => {
                assert!(http::HeaderValue::from_str(&header).is_ok());
                assert!(header.len() <= baggage::MAX_BYTES, "{} bytes", header.len());
                let next_hop = baggage::parse(&header).expect("what we send parses");
                assert_eq!(members(&next_hop), members(&bag));
            }
        }
    }
});
