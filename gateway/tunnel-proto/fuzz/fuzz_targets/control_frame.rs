//! A control stream of arbitrary bytes, decoded frame by frame as the tunnel does: unknown
//! frame types are skipped by their length, anything else that fails ends the stream.
//! Every decoded frame must re-encode to an equal frame.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tunnel_proto::{Control, ControlError, MAX_CONTROL_BODY};

/// Bytes before a frame body: type and big-endian length.
const FRAME_HEAD: usize = 3;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while !rest.is_empty() {
        match Control::decode(rest) {
            Ok((frame, used)) => {
                assert!((FRAME_HEAD..=FRAME_HEAD + MAX_CONTROL_BODY).contains(&used));
                assert!(used <= rest.len());
                let encoded = frame.to_bytes();
                // Flow ids re-encode as the shortest varint, so the frame may shrink.
                assert!(encoded.len() <= used);
                assert_eq!(Control::decode(&encoded), Ok((frame, encoded.len())));
                rest = &rest[used..];
            }
            Err(ControlError::UnknownType { len, .. }) => {
                // The contract that lets a reader skip a frame it does not know: `len` covers
                // the whole frame, is available, and makes progress.
                assert!(len >= FRAME_HEAD && len <= rest.len());
                rest = &rest[len..];
            }
            Err(_) => break,
        }
    }
});
