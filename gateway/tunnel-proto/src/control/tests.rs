use super::*;
use proptest::prelude::*;

fn flow() -> impl Strategy<Value = FlowId> {
    (0..=crate::varint::MAX).prop_map(|v| FlowId::new(v).expect("in range"))
}

fn frame() -> impl Strategy<Value = Control> {
    let name = "[a-z0-9][a-z0-9._-]{0,62}".prop_map(|s| ServiceName::new(&s).expect("valid"));
    prop_oneof![
        "\\PC{0,40}".prop_map(|software| Control::Hello { software }),
        "\\PC{0,40}".prop_map(|hub| Control::Welcome { hub }),
        any::<u32>().prop_map(|reconnect_after_ms| Control::GoAway { reconnect_after_ms }),
        any::<u64>().prop_map(|nonce| Control::Ping { nonce }),
        any::<u64>().prop_map(|nonce| Control::Pong { nonce }),
        (flow(), name).prop_map(|(flow, service)| Control::FlowOpen { flow, service }),
        flow().prop_map(|flow| Control::FlowAccepted { flow }),
        (flow(), 0u32..0x300).prop_map(|(flow, c)| Control::FlowRefused {
            flow,
            code: ErrorCode::from_u64(c.into())
        }),
        flow().prop_map(|flow| Control::FlowClosed { flow }),
    ]
}

proptest! {
    #[test]
    fn round_trip_back_to_back(a in frame(), b in frame()) {
        let mut buf = a.to_bytes();
        let first = buf.len();
        b.encode(&mut buf);
        prop_assert_eq!(Control::decode(&buf), Ok((a, first)));
        prop_assert_eq!(Control::decode(&buf[first..]), Ok((b, buf.len() - first)));
    }

    #[test]
    fn every_truncation_asks_for_more(f in frame()) {
        let buf = f.to_bytes();
        for cut in 0..buf.len() {
            prop_assert_eq!(Control::decode(&buf[..cut]), Err(ControlError::Incomplete));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(buf in proptest::collection::vec(any::<u8>(), 0..256)) {
        match Control::decode(&buf) {
            Ok((_, used)) => prop_assert!(used <= buf.len()),
            Err(ControlError::UnknownType { len, .. }) => prop_assert!(len <= 3 + MAX_CONTROL_BODY),
            Err(_) => {}
        }
    }
}

#[test]
fn long_text_is_cut_at_a_character_boundary() {
    let software = "ă".repeat(100);
    let (back, _) = Control::decode(&Control::Hello { software }.to_bytes()).expect("decodes");
    let Control::Hello { software } = back else {
        panic!("wrong frame")
    };
    assert_eq!(software, "ă".repeat(64));
}

#[test]
fn rejects_oversized_trailing_and_unknown_frames() {
    assert_eq!(
        Control::decode(&[PING, 0xff, 0xff]),
        Err(ControlError::TooLong(0xffff))
    );
    let mut ping = Control::Ping { nonce: 7 }.to_bytes();
    ping[2] += 1;
    ping.push(0);
    assert_eq!(Control::decode(&ping), Err(ControlError::Malformed("ping")));
    assert_eq!(
        Control::decode(&[200, 0, 2, 0, 0]),
        Err(ControlError::UnknownType { ty: 200, len: 5 })
    );
    assert_eq!(
        Control::decode(&[GOAWAY, 0, 1, 0]),
        Err(ControlError::Malformed("goaway"))
    );
}
