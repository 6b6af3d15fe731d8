//! Any bytes: no panic; a success is a valid context that round-trips.
#![no_main]
use libfuzzer_sys::fuzz_target;
use propagation::cloud_trace;

fuzz_target!(|data: &[u8]| {
    if let Ok(sc) = cloud_trace::parse(data) {
        assert!(sc.is_valid());
        let out = cloud_trace::encode(&sc);
        assert_eq!(cloud_trace::parse(out.as_bytes()).unwrap(), sc);
    }
});
