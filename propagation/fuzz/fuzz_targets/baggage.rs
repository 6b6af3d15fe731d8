//! Any bytes, split into fields at NUL: no panic; what is kept re-encodes to a valid header.
#![no_main]
use libfuzzer_sys::fuzz_target;
use propagation::baggage;

fuzz_target!(|data: &[u8]| {
    if let Ok(bag) = baggage::parse_fields(data.split(|&b| b == 0)) {
        assert!(bag.len() <= baggage::MAX_MEMBERS);
        if let Some(header) = baggage::encode(&bag) {
            assert!(http::HeaderValue::from_str(&header).is_ok());
            assert!(header.len() <= baggage::MAX_BYTES);
            assert_eq!(baggage::parse(&header).unwrap().len(), bag.len());
        }
    }
});
