//! Standard base64 (RFC 4648 §4) into and out of stack buffers, for gRPC binary (`-bin`)
//! metadata.
//!
//! Written by hand rather than with the `base64` crate: the only user encodes and decodes one
//! small, fixed-size value (29 bytes, 39 characters), which a table lookup per character does
//! without allocating, and the crate's dependency list stays `http` + `opentelemetry` (a
//! protocol codec needs nothing else). The acceptance rules are the ones gRPC sets for binary
//! metadata ("gRPC over HTTP2", Requests, Custom-Metadata: "Implementations MUST accept padded
//! and un-padded values and should emit un-padded values"):
//!
//! - the standard alphabet only (`+` and `/`; the URL-safe `-` and `_` are rejected);
//! - padding is optional, but when present it is exactly what makes the length a multiple of
//!   4, and only at the end;
//! - a length of `4n + 1` cannot be base64 and is rejected;
//! - the unused low bits of the last character must be zero (RFC 4648 §3.5 allows decoders
//!   to reject otherwise), so each accepted text decodes to one byte string and back.

const INVALID: u8 = 0xff;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Character → 6-bit value; `INVALID` for everything outside the standard alphabet.
static DECODE: [u8; 256] = {
    let mut t = [INVALID; 256];
    let mut i = 0;
    while i < 64 {
        t[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    t
};

/// The unpadded length of `n` bytes once encoded.
pub(crate) const fn encoded_len(n: usize) -> usize {
    n / 3 * 4
        + match n % 3 {
            0 => 0,
            1 => 2,
            _ => 3,
        }
}

/// Encodes `src` without padding into the start of `dst`, which must hold
/// [`encoded_len`]`(src.len())` bytes.
pub(crate) fn encode_into(src: &[u8], dst: &mut [u8]) {
    debug_assert!(dst.len() >= encoded_len(src.len()));
    let sextet = |v: u8| ALPHABET[usize::from(v & 0x3f)];
    let mut chunks = src.chunks_exact(3);
    let mut out = dst.chunks_exact_mut(4);
    for (c, o) in chunks.by_ref().zip(out.by_ref()) {
        o[0] = sextet(c[0] >> 2);
        o[1] = sextet(c[0] << 4 | c[1] >> 4);
        o[2] = sextet(c[1] << 2 | c[2] >> 6);
        o[3] = sextet(c[2]);
    }
    let at = src.len() / 3 * 4;
    match *chunks.remainder() {
        [a] => {
            dst[at] = sextet(a >> 2);
            dst[at + 1] = sextet(a << 4);
        }
        [a, b] => {
            dst[at] = sextet(a >> 2);
            dst[at + 1] = sextet(a << 4 | b >> 4);
            dst[at + 2] = sextet(b << 2);
        }
        _ => {}
    }
}

/// Decodes standard base64, padded or not, into the start of `dst`, and returns how many
/// bytes were written; `None` for anything the [module docs](self) reject, or when `dst` is
/// too small.
pub(crate) fn decode_into(src: &[u8], dst: &mut [u8]) -> Option<usize> {
    // Padding, if any, completes the last group of four.
    let text = match src {
        [text @ .., b'=', b'='] | [text @ .., b'='] if src.len() % 4 == 0 => text,
        _ => src,
    };
    let tail = text.len() % 4;
    let len = text.len() / 4 * 3
        + match tail {
            0 => 0,
            2 => 1,
            3 => 2,
            _ => return None,
        };
    let dst = dst.get_mut(..len)?;

    let mut bad = 0u8;
    let mut value = |c: u8| {
        let v = DECODE[usize::from(c)];
        bad |= v;
        v
    };
    let mut groups = text.chunks_exact(4);
    let mut out = dst.chunks_exact_mut(3);
    for (g, o) in groups.by_ref().zip(out.by_ref()) {
        let (a, b, c, d) = (value(g[0]), value(g[1]), value(g[2]), value(g[3]));
        o[0] = a << 2 | b >> 4;
        o[1] = b << 4 | c >> 2;
        o[2] = c << 6 | d;
    }
    let at = text.len() / 4 * 3;
    let unused_bits = match *groups.remainder() {
        [a, b] => {
            let (a, b) = (value(a), value(b));
            dst[at] = a << 2 | b >> 4;
            b & 0x0f
        }
        [a, b, c] => {
            let (a, b, c) = (value(a), value(b), value(c));
            dst[at] = a << 2 | b >> 4;
            dst[at + 1] = b << 4 | c >> 2;
            c & 0x03
        }
        _ => 0,
    };
    // Valid values are < 64: INVALID (or '=' inside the text) sets the top bits.
    (bad & 0xc0 == 0 && unused_bits == 0).then_some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(src: &str) -> Option<Vec<u8>> {
        let mut buf = [0u8; 64];
        decode_into(src.as_bytes(), &mut buf).map(|n| buf[..n].to_vec())
    }

    fn encode(src: &[u8]) -> String {
        let mut buf = [0u8; 64];
        let n = encoded_len(src.len());
        encode_into(src, &mut buf);
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    #[test]
    fn rfc4648_test_vectors() {
        // RFC 4648 §10, padded as given there and unpadded as gRPC sends them.
        #[rustfmt::skip]
        let vectors: &[(&str, &str, &str)] = &[
            ("",       "",         ""),
            ("f",      "Zg==",     "Zg"),
            ("fo",     "Zm8=",     "Zm8"),
            ("foo",    "Zm9v",     "Zm9v"),
            ("foob",   "Zm9vYg==", "Zm9vYg"),
            ("fooba",  "Zm9vYmE=", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy", "Zm9vYmFy"),
        ];
        for (plain, padded, unpadded) in vectors {
            assert_eq!(encode(plain.as_bytes()), *unpadded, "{plain:?}");
            assert_eq!(
                decode(padded).as_deref(),
                Some(plain.as_bytes()),
                "{padded}"
            );
            assert_eq!(
                decode(unpadded).as_deref(),
                Some(plain.as_bytes()),
                "{unpadded}"
            );
        }
        // grpc-go's binary metadata vector, with a NUL byte.
        assert_eq!(decode("Zm9vAGJhcg").as_deref(), Some(&b"foo\0bar"[..]));
        assert_eq!(decode("+/+/").as_deref(), Some(&[0xfb, 0xff, 0xbf][..]));
    }

    #[test]
    fn rejects() {
        #[rustfmt::skip]
        let invalid: &[(&str, &str)] = &[
            ("Z",         "4n+1 characters"),
            ("Zm9vY",     "4n+1 characters"),
            ("Zh==",      "unused bits set (RFC 4648 §3.5)"),
            ("Zm9=",      "unused bits set"),
            ("Zg=",       "padding that does not complete the group"),
            ("Zm8==",     "too much padding"),
            ("Zm9v====",  "padding after a full group"),
            ("Zm9v=",     "padding after a full group"),
            ("Zg==Zg==",  "padding in the middle"),
            ("Z=g=",      "padding in the middle"),
            ("Zm9v YmFy", "whitespace"),
            ("-_-_",      "URL-safe alphabet"),
            ("Zm9v\0",    "NUL"),
            ("Zm9vYmF\u{e9}", "non-ASCII"),
        ];
        for (input, why) in invalid {
            assert_eq!(decode(input), None, "{input:?}: {why}");
        }
        let mut small = [0u8; 2];
        assert_eq!(decode_into(b"Zm9v", &mut small), None, "output too small");
    }

    #[test]
    fn every_byte_value_round_trips_at_every_alignment() {
        let bytes: Vec<u8> = (0..=255).collect();
        for len in 0..=48 {
            for window in bytes.windows(len.max(1)).step_by(37) {
                let window = &window[..len];
                assert_eq!(decode(&encode(window)).as_deref(), Some(window));
            }
        }
    }
}
