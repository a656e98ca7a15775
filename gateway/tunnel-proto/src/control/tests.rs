use super::*;
use proptest::prelude::*;
use std::net::SocketAddr;

fn flow() -> impl Strategy<Value = FlowId> {
    (0..=crate::varint::MAX).prop_map(|v| FlowId::new(v).expect("in range"))
}

/// Any address the encoding carries: IPv4 or IPv6, without flow label or scope id.
fn addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::from((ip, port))),
        (any::<[u8; 16]>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::from((std::net::Ipv6Addr::from(ip), port))),
    ]
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
        (flow(), addr(), proptest::option::of(addr())).prop_map(|(flow, client, listener)| {
            Control::FlowSource {
                flow,
                client,
                listener,
            }
        }),
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

fn source(client: &str, listener: Option<&str>) -> Control {
    Control::FlowSource {
        flow: FlowId::new(3).expect("in range"),
        client: client.parse().expect("addr"),
        listener: listener.map(|l| l.parse().expect("addr")),
    }
}

#[test]
fn flow_source_is_compact_and_round_trips_both_families() {
    let v4 = source("192.168.1.20:5004", Some("192.168.1.1:5060"));
    let expected = [
        &[FLOW_SOURCE, 0, 15, 3][..],      // type, body length, flow id
        &[4, 192, 168, 1, 20, 0x13, 0x8c], // family, ip, port 5004
        &[4, 192, 168, 1, 1, 0x13, 0xc4],  // family, ip, port 5060
    ]
    .concat();
    assert_eq!(v4.to_bytes(), expected);
    let v6 = source("[fe80::1]:5004", None);
    let bytes = v6.to_bytes();
    assert_eq!(bytes.len(), 3 + 1 + 19 + 1);
    assert_eq!(bytes.last(), Some(&0), "no listener is one zero byte");
    for f in [v4, v6, source("10.0.0.7:1", Some("[2001:db8::9]:5060"))] {
        let bytes = f.to_bytes();
        assert_eq!(Control::decode(&bytes), Ok((f, bytes.len())));
    }
}

#[test]
fn a_flow_source_with_a_short_bad_or_trailing_address_is_malformed() {
    let malformed = Err(ControlError::Malformed("flow_source"));
    let good = source("192.168.1.20:5004", Some("[2001:db8::9]:5060")).to_bytes();
    // Every shorter body, with the length saying so: never a panic, never a frame.
    for body_len in 0..good.len() - 3 {
        let mut cut = good[..3 + body_len].to_vec();
        cut[1..3].copy_from_slice(&(body_len as u16).to_be_bytes());
        assert_eq!(Control::decode(&cut), malformed, "body of {body_len}");
    }
    let mut trailing = good.clone();
    trailing.push(0);
    trailing[2] += 1;
    assert_eq!(Control::decode(&trailing), malformed);
    // A family other than 4, 6 (or 0 for the listener), and a client that is "none".
    let mut bad_family = good.clone();
    bad_family[4] = 5;
    assert_eq!(Control::decode(&bad_family), malformed);
    assert_eq!(
        Control::decode(&[FLOW_SOURCE, 0, 3, 3, 0, 0]),
        malformed,
        "a flow source must name its client"
    );
}
