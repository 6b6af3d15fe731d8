//! Table-driven hex and decimal helpers shared by the codecs.
//!
//! Written by hand rather than with `u128::from_str_radix` (what `TraceId::from_hex` does):
//! that accepts a leading `+`, any length and uppercase, which the W3C grammar forbids, and a
//! table lookup per byte is also faster than the generic radix parser.

const INVALID: u8 = 0xff;

/// Lowercase hex digit values; everything else (uppercase too) is `INVALID`.
static LOWER: [u8; 256] = {
    let mut t = [INVALID; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// Hex digit values in either case.
static ANY_CASE: [u8; 256] = {
    let mut t = LOWER;
    let mut i = 0;
    while i < 6 {
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Decodes exactly `2 * N` hex digits into `N` bytes; `None` on any other input.
#[inline]
pub(crate) fn decode<const N: usize>(src: &[u8], allow_uppercase: bool) -> Option<[u8; N]> {
    if src.len() != 2 * N {
        return None;
    }
    let table = if allow_uppercase { &ANY_CASE } else { &LOWER };
    let mut out = [0u8; N];
    let mut bad = 0u8;
    for (o, pair) in out.iter_mut().zip(src.chunks_exact(2)) {
        let hi = table[pair[0] as usize];
        let lo = table[pair[1] as usize];
        // Branch-free accumulation: one check at the end instead of one per byte.
        bad |= hi | lo;
        *o = (hi << 4) | (lo & 0x0f);
    }
    // Valid digits are < 16; INVALID sets the high bits.
    (bad & 0xf0 == 0).then_some(out)
}

/// Encodes `src` as lowercase hex into `dst`, which must be exactly twice as long.
#[inline]
pub(crate) fn encode_into(src: &[u8], dst: &mut [u8]) {
    debug_assert_eq!(dst.len(), 2 * src.len());
    for (b, pair) in src.iter().zip(dst.chunks_exact_mut(2)) {
        pair[0] = DIGITS[(b >> 4) as usize];
        pair[1] = DIGITS[(b & 0x0f) as usize];
    }
}

/// Parses 1 to 20 ASCII digits as a `u64`; `None` on overflow, any non-digit or empty input.
#[inline]
pub(crate) fn parse_u64(src: &[u8]) -> Option<u64> {
    if src.is_empty() || src.len() > 20 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in src {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(d))?;
    }
    Some(n)
}

/// Writes `n` in decimal into the end of `buf` and returns the digits written.
#[inline]
pub(crate) fn format_u64(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_rejects_case_length_and_junk() {
        assert_eq!(decode::<2>(b"0aff", false), Some([0x0a, 0xff]));
        assert_eq!(decode::<2>(b"0AFF", false), None);
        assert_eq!(decode::<2>(b"0AFF", true), Some([0x0a, 0xff]));
        assert_eq!(decode::<2>(b"0af", false), None);
        assert_eq!(decode::<2>(b"+aff", false), None);
        assert_eq!(decode::<2>(b"0ag0", true), None);
    }

    #[test]
    fn u64_round_trip_and_limits() {
        let mut buf = [0; 20];
        for n in [0, 1, 9, 10, 123, u64::MAX] {
            assert_eq!(parse_u64(format_u64(n, &mut buf)), Some(n));
        }
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b"000000000000000000001"), None, "21 digits");
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"1a"), None);
        assert_eq!(parse_u64(b"+1"), None);
    }
}
