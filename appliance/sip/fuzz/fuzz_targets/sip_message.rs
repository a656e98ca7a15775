//! Arbitrary bytes as a SIP datagram and as a stream: the decoder never panics, what parses
//! prints and parses back the same, and the transaction layer takes it (twice, as a
//! retransmission) and fires its timers without panicking.

#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use sip::parse::{Limits, frame, parse_datagram};
use sip::{Message, NameAddr, Peer, Timers, Transactions, Transport, Via};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let _ = frame(data, &limits);
    if let Ok(message) = parse_datagram(data, &limits) {
        let again = parse_datagram(&message.to_bytes(), &limits).expect("our output parses");
        assert_eq!(again, message);
        if let Message::Request(r) = &message {
            let _ = r.essentials();
            for (_, value) in r.headers.iter() {
                let _ = NameAddr::parse(value);
                let _ = Via::parse(value);
                let _ = sip::digest::Credentials::parse(value);
            }
            let _ = sip::sdp::Sdp::parse(&r.body);
        }
    }
    let mut layer = Transactions::new(Timers::default(), limits, 16);
    let from = Peer {
        addr: "127.0.0.1:5071".parse().expect("literal"),
        transport: Transport::Udp,
    };
    let now = Instant::now();
    layer.receive(now, data, from);
    layer.receive(now, data, from);
    while layer.poll_output().is_some() {}
    layer.handle_timeout(now + Duration::from_secs(100));
});
