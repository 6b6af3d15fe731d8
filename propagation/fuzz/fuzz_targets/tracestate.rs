//! Any bytes, split into fields at NUL: no panic under either grammar; a success is a list of
//! valid, unique members that re-parses to itself and survives any mutation.
#![no_main]
use libfuzzer_sys::fuzz_target;
use propagation::tracestate::{KeyGrammar, TraceStateList, is_valid_value};

fuzz_target!(|data: &[u8]| {
    let fields = data.split(|&b| b == 0);
    for grammar in [KeyGrammar::Level2, KeyGrammar::Level1] {
        if let Ok(mut list) = TraceStateList::parse_fields(fields.clone(), grammar) {
            assert!(list.len() <= 32);
            let mut keys = std::collections::HashSet::new();
            for (k, v) in list.iter() {
                assert!(grammar.is_valid_key(k) && is_valid_value(v) && keys.insert(k));
            }
            assert_eq!(TraceStateList::parse(list.as_str(), grammar).unwrap(), list);
            let _ = list.to_trace_state();
            let cap = data.len() % 600;
            list.truncate(cap);
            assert!(list.as_str().len() <= cap);
            let _ = list.insert("fuzz", "1");
            assert!(list.len() <= 32);
        }
    }
});
