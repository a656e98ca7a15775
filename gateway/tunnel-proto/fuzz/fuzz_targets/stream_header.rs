//! `StreamHeader::decode` on arbitrary bytes: never panics, never claims more bytes than it
//! was given or than a header can have, and what it accepts re-encodes to an equal header.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tunnel_proto::{MAX_HEADER_LEN, StreamHeader};

fuzz_target!(|data: &[u8]| {
    let Ok((header, used)) = StreamHeader::decode(data) else {
        return;
    };
    assert!(used <= data.len() && used <= MAX_HEADER_LEN);
    let encoded = header.to_bytes();
    // The encoder always picks the shortest flow-id varint, so it may be shorter than the input.
    assert!(encoded.len() <= used);
    assert_eq!(StreamHeader::decode(&encoded), Ok((header, encoded.len())));
});
