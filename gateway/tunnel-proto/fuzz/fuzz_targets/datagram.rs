//! `datagram::decode` on arbitrary bytes: the payload is the tail of the input, within the
//! UDP limit, and `encode` of what was decoded decodes to the same flow and payload.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tunnel_proto::{MAX_UDP_PAYLOAD, datagram};

fuzz_target!(|data: &[u8]| {
    let Ok((flow, payload)) = datagram::decode(data) else {
        return;
    };
    assert!(payload.len() <= MAX_UDP_PAYLOAD);
    assert!(data.ends_with(payload));
    let mut encoded = Vec::new();
    datagram::encode(flow, payload, &mut encoded);
    assert_eq!(encoded.len(), datagram::overhead(flow) + payload.len());
    assert!(encoded.len() <= data.len());
    assert_eq!(datagram::decode(&encoded), Ok((flow, payload)));
});
