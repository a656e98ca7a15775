#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Property tests: no input makes the decoder, the header parsers or the transaction layer
//! panic, and what we print parses back to the same message. The `sip_message` fuzz target
//! runs the same body under libFuzzer.

use std::time::Instant;

use proptest::prelude::*;
use sip::digest::Credentials;
use sip::parse::{Limits, frame, parse_datagram};
use sip::sdp::Sdp;
use sip::{Message, NameAddr, Peer, Timers, Transactions, Transport, Uri, Via};

const INVITE: &str = "INVITE sip:agent1@127.0.0.1:5070;transport=udp SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bK-1-0;rport\r\n\
From: \"Trunk\" <sip:trunk@127.0.0.1:5071>;tag=1\r\n\
To: <sip:agent1@127.0.0.1:5070>\r\n\
Call-ID: 1-1@127.0.0.1\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:trunk@127.0.0.1:5071>\r\n\
Max-Forwards: 70\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 30\r\n\r\n\
v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n";

fn feed(bytes: &[u8]) {
    let limits = Limits::default();
    if let Ok(message) = parse_datagram(bytes, &limits) {
        // Whatever parsed prints and parses back the same.
        let printed = message.to_bytes();
        let again = parse_datagram(&printed, &limits).expect("our own output parses");
        assert_eq!(again, message);
        if let Message::Request(r) = &message {
            let _ = r.essentials();
            for (_, value) in r.headers.iter() {
                let _ = NameAddr::parse(value);
                let _ = Via::parse(value);
                let _ = Credentials::parse(value);
            }
            let _ = Sdp::parse(&r.body);
        }
    }
    let _ = frame(bytes, &limits);
    let mut layer = Transactions::new(Timers::default(), limits, 16);
    let from = Peer {
        addr: "127.0.0.1:5071".parse().unwrap(),
        transport: Transport::Udp,
    };
    let now = Instant::now();
    layer.receive(now, bytes, from);
    layer.receive(now, bytes, from);
    while layer.poll_output().is_some() {}
    layer.handle_timeout(now + std::time::Duration::from_secs(100));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        feed(&bytes);
    }

    /// A valid message with bytes overwritten, inserted or cut: close to real, so it reaches
    /// the header parsers and the state machines.
    #[test]
    fn mutated_invite(
        edits in proptest::collection::vec((0usize..INVITE.len(), any::<u8>(), 0u8..3), 0..8),
        cut in 0usize..=INVITE.len(),
    ) {
        let mut bytes = INVITE.as_bytes()[..cut.max(INVITE.len() / 2)].to_vec();
        for (at, byte, kind) in edits {
            let at = at.min(bytes.len().saturating_sub(1));
            match kind {
                0 if !bytes.is_empty() => bytes[at] = byte,
                1 => bytes.insert(at, byte),
                _ if !bytes.is_empty() => { bytes.remove(at); }
                _ => {}
            }
        }
        feed(&bytes);
    }

    #[test]
    fn header_values(text in "\\PC{0,120}") {
        let _ = Uri::parse(&text);
        let _ = NameAddr::parse(&text);
        let _ = Via::parse(&text);
        let _ = Credentials::parse(&text);
        let _ = Sdp::parse(text.as_bytes());
        let _ = sip::CSeq::parse(&text);
    }

    #[test]
    fn sip_like_header_values(text in "[a-zA-Z0-9:;=@<>\"., /_\\-\\[\\]é]{0,80}") {
        let _ = Uri::parse(&format!("sip:{text}"));
        let _ = NameAddr::parse(&format!("<sip:{text}"));
        let _ = Via::parse(&format!("SIP/2.0/UDP {text}"));
        let _ = Credentials::parse(&format!("Digest {text}"));
    }
}

#[test]
fn the_sample_parses() {
    let Ok(Message::Request(r)) = parse_datagram(INVITE.as_bytes(), &Limits::default()) else {
        panic!("sample must parse");
    };
    assert_eq!(r.body.len(), 30);
    feed(INVITE.as_bytes());
}
