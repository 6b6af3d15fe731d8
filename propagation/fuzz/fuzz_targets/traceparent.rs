//! Any bytes: no panic; a success is a valid context that re-encodes to a canonical value.
#![no_main]
use libfuzzer_sys::fuzz_target;
use propagation::traceparent;

fuzz_target!(|data: &[u8]| {
    if let Ok(sc) = traceparent::parse(data) {
        assert!(sc.is_valid());
        let out = traceparent::encode(&sc);
        assert!(
            out.iter()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f' | b'-'))
        );
        assert_eq!(traceparent::parse(out).unwrap(), sc);
    }
});
