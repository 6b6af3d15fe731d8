use proptest::prelude::*;

use super::*;
use crate::conventions::grpc::{Code, status_in};

fn frame(flag: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![flag];
    out.extend((payload.len() as u32).to_be_bytes());
    out.extend(payload);
    out
}

const TRAILERS: &[u8] = b"grpc-status: 13\r\ngrpc-message: boom\r\n";

/// Two messages, then the trailers.
fn body() -> Vec<u8> {
    [
        frame(0, b"hello"),
        frame(0, &[7; 300]),
        frame(0x80, TRAILERS),
    ]
    .concat()
}

/// RFC 4648 base64 with padding (test-only encoder).
fn base64(bytes: &[u8]) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]);
            } else {
                out.push(b'=');
            }
        }
    }
    out
}

/// Feeds `body` in the pieces `cuts` make; the trailers' status and the number of times
/// trailers were returned.
fn scan(encoding: GrpcWeb, body: &[u8], cuts: &[usize]) -> (Option<Option<Code>>, usize) {
    let mut scanner = TrailerScan::new(encoding);
    let (mut found, mut times) = (None, 0);
    let mut start = 0;
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
    cuts.sort_unstable();
    for end in cuts.into_iter().chain([body.len()]) {
        if let Some(trailers) = scanner.feed(&body[start..end.max(start)]) {
            found = Some(status_in(&trailers));
            times += 1;
        }
        start = end.max(start);
    }
    (found, times)
}

#[test]
fn content_types() {
    for (value, expected, why) in [
        ("application/grpc-web", Some(GrpcWeb::Binary), "binary"),
        (
            "application/grpc-web+proto",
            Some(GrpcWeb::Binary),
            "binary, proto",
        ),
        (
            "Application/GRPC-Web+json",
            Some(GrpcWeb::Binary),
            "media types ignore case",
        ),
        ("application/grpc-web-text", Some(GrpcWeb::Text), "base64"),
        (
            "application/grpc-web-text+proto",
            Some(GrpcWeb::Text),
            "base64, proto",
        ),
        ("application/grpc", None, "native gRPC"),
        ("application/grpc+proto", None, "native gRPC, proto"),
        ("text/event-stream", None, "not gRPC"),
    ] {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::CONTENT_TYPE, value.parse().unwrap());
        assert_eq!(encoding_in(&headers), expected, "{value}: {why}");
    }
    assert_eq!(encoding_in(&HeaderMap::new()), None, "no content-type");
}

#[rustfmt::skip]
#[test]
fn bodies() {
    let code = |c| Some(Some(c));
    let huge_message = [&[0u8, 0xFF, 0xFF, 0xFF, 0xFF][..], &[1; 64]].concat();
    for (body, expected, why) in [
        (body(), code(Code::Internal), "messages, then the trailer frame"),
        (frame(0x80, b"grpc-status: 0\r\n"), code(Code::Ok), "Trailers-Only in the body"),
        (frame(0x80, b"grpc-status:5"), code(Code::NotFound), "no CRLF at the end, no space"),
        (frame(0x80, b"GRPC-STATUS: 5\n"), code(Code::NotFound), "upper-case name, bare LF"),
        (frame(0x80, b""), Some(None), "an empty trailer frame: trailers without a status"),
        (frame(0x80, b"grpc-message: caf\xc3\xa9\r\ngrpc-status: 14\r\n"), code(Code::Unavailable), "a non-ASCII message is kept, the status read"),
        (frame(0x80, b"gr\xffpc: x\r\ngrpc-status: 2\r\n"), code(Code::Unknown), "a non-ASCII name skips its line only"),
        (frame(0x80, b"grpc-status: \xd9\xa3\r\n"), Some(None), "non-ASCII digits are no status"),
        (frame(0x80, b"grpc-status: 1\x002\r\n"), Some(None), "a control byte makes the line invalid"),
        ([frame(0x80, b"grpc-status: 3\r\n"), frame(0x80, b"grpc-status: 4\r\n")].concat(), code(Code::InvalidArgument), "the first trailer frame ends the call"),
        (frame(0, b"only a message"), None, "no trailer frame: no status"),
        (frame(0x80, TRAILERS)[..20].to_vec(), None, "a truncated trailer frame"),
        (frame(0, b"x")[..3].to_vec(), None, "a truncated header"),
        (vec![0x80, 0xFF, 0xFF, 0xFF, 0xFF, b'g'], None, "a 4 GiB trailer frame is over the bound"),
        (huge_message, None, "a 4 GiB message is skipped, never kept"),
        ([frame(0, b"a"), frame(0x81, b"\x1f\x8b")].concat(), None, "compressed trailers cannot be read"),
        ([&[0x80, 0, 0, 0x20, 1][..], &[b'x'; 100]].concat(), None, "a trailer frame over 8 KiB"),
    ] {
        assert_eq!(scan(GrpcWeb::Binary, &body, &[]).0, expected, "{why}");
    }
}

#[test]
fn text_with_several_padded_chunks() {
    // Each frame encoded on its own, padding and all, as a server encoding per frame does.
    let frames = [frame(0, b"hello"), frame(0, b"hi"), frame(0x80, TRAILERS)];
    let text: Vec<u8> = frames.iter().flat_map(|f| base64(f)).collect();
    assert!(text.contains(&b'='), "padding in the middle");
    assert_eq!(
        scan(GrpcWeb::Text, &text, &[]),
        (Some(Some(Code::Internal)), 1)
    );
    // One encoding of the whole body.
    assert_eq!(
        scan(GrpcWeb::Text, &base64(&body()), &[]),
        (Some(Some(Code::Internal)), 1)
    );
    // Not base64: nothing read, nothing judged.
    let mut scanner = TrailerScan::new(GrpcWeb::Text);
    assert!(scanner.feed(b"AAA*").is_none());
    assert!(scanner.is_over(), "invalid base64 ends the scan");
}

#[test]
fn a_4_gib_trailer_frame_allocates_nothing() {
    let mut scanner = TrailerScan::new(GrpcWeb::Binary);
    assert!(scanner.feed(&[0x80, 0xFF, 0xFF, 0xFF, 0xFF]).is_none());
    assert!(scanner.is_over());
    let mut scanner = TrailerScan::new(GrpcWeb::Binary);
    let len = MAX_TRAILER_FRAME as u32;
    assert!(scanner.feed(&[0x80]).is_none());
    assert!(scanner.feed(&len.to_be_bytes()).is_none());
    match &scanner.state {
        State::Trailer { payload, .. } => assert!(payload.capacity() <= MAX_TRAILER_FRAME),
        other => panic!("{other:?}"),
    }
}

fn valid_body() -> impl Strategy<Value = (Vec<u8>, u8)> {
    (
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 0..5),
        0u8..17,
        prop::collection::vec("[a-z-]{1,10}: [ -~]{0,20}", 0..4),
    )
        .prop_map(|(messages, code, extra)| {
            let mut body: Vec<u8> = messages.iter().flat_map(|m| frame(0, m)).collect();
            let mut trailers = format!("grpc-status: {code}\r\n");
            for line in extra.iter().filter(|l| !l.starts_with("grpc-status:")) {
                trailers.push_str(line);
                trailers.push_str("\r\n");
            }
            body.extend(frame(0x80, trailers.as_bytes()));
            (body, code)
        })
}

proptest! {
    /// However a valid body is chunked, binary or text, the trailers are read once, with the
    /// status they carry.
    #[test]
    fn any_chunking_gives_the_same_status(
        (body, code) in valid_body(),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let expected = (Some(Some(Code::from_i32(i32::from(code)))), 1);
        prop_assert_eq!(scan(GrpcWeb::Binary, &body, &cuts), expected);
        prop_assert_eq!(scan(GrpcWeb::Text, &base64(&body), &cuts), expected);
    }

    /// Any bytes: never a panic, trailers at most once, memory bounded.
    #[test]
    fn arbitrary_bytes_never_panic(
        body in prop::collection::vec(any::<u8>(), 0..2048),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        for encoding in [GrpcWeb::Binary, GrpcWeb::Text] {
            prop_assert!(scan(encoding, &body, &cuts).1 <= 1);
            let mut scanner = TrailerScan::new(encoding);
            for piece in body.chunks(7) {
                let _ = scanner.feed(piece);
                if let State::Trailer { payload, .. } = &scanner.state {
                    prop_assert!(payload.capacity() <= MAX_TRAILER_FRAME);
                }
            }
        }
    }
}
