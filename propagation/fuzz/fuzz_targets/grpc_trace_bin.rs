//! Any bytes, as the binary form and as a metadata value: no panic; a success is a valid
//! context that re-encodes to a value decoding to the same; the decoder agrees with a
//! reference model of the format, and the base64 layer with an independent encoder. The same
//! checks run under `cargo test` (`tests/properties.rs`: `grpc_trace_bin_fuzz_invariants`).
#![no_main]
use libfuzzer_sys::fuzz_target;
use propagation::grpc_trace_bin;

/// The format as a plain reading of the specification: version 0, field 0 (16 bytes), field
/// 1 (8 bytes), optional field 2 (1 byte), then nothing or an unknown field id.
fn reference(b: &[u8]) -> Option<(u128, u64, bool)> {
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

fuzz_target!(|data: &[u8]| {
    // The binary form.
    let decoded = grpc_trace_bin::decode(data);
    let model = decoded.as_ref().ok().map(|sc| {
        (
            u128::from_be_bytes(sc.trace_id().to_bytes()),
            u64::from_be_bytes(sc.span_id().to_bytes()),
            sc.is_sampled(),
        )
    });
    assert_eq!(model, reference(data));
    if let Ok(sc) = &decoded {
        assert!(sc.is_valid() && sc.is_remote());
        assert_eq!(sc.trace_flags().to_u8() & !1, 0, "only the sampled flag");
        let bytes = grpc_trace_bin::encode(sc);
        assert_eq!(grpc_trace_bin::decode(&bytes).as_ref(), Ok(sc));
        if data.len() == grpc_trace_bin::LEN && data[27] == 2 && data[28] <= 1 {
            assert_eq!(&bytes[..], data, "the canonical form re-encodes to itself");
        }
    }
    // The same bytes as a metadata value, padded and not: base64 is transparent.
    for padded in [false, true] {
        let text = base64(data, padded);
        if text.len() <= grpc_trace_bin::MAX_LEN {
            assert_eq!(grpc_trace_bin::parse(&text), decoded, "{text}");
        }
    }
    // The bytes as text: whatever parses re-encodes to a value that parses to the same.
    if let Ok(sc) = grpc_trace_bin::parse(data) {
        assert!(sc.is_valid());
        let text = grpc_trace_bin::encode_base64(&sc);
        assert_eq!(grpc_trace_bin::parse(text).unwrap(), sc);
        assert_eq!(
            grpc_trace_bin::to_header_value(&sc).unwrap().as_bytes(),
            &text[..]
        );
    }
});
