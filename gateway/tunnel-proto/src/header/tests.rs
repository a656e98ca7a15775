use super::*;
use proptest::prelude::*;

fn service_name() -> impl Strategy<Value = ServiceName> {
    "[a-z0-9][a-z0-9._-]{0,62}"
        .prop_map(|s| ServiceName::new(&s).expect("strategy yields valid names"))
}

fn header() -> impl Strategy<Value = StreamHeader> {
    prop_oneof![
        Just(StreamHeader::Control),
        Just(StreamHeader::Enroll),
        Just(StreamHeader::Renew),
        service_name().prop_map(StreamHeader::Service),
        (0..=crate::varint::MAX)
            .prop_map(|v| StreamHeader::Datagram(FlowId::new(v).expect("in range"))),
    ]
}

proptest! {
    #[test]
    fn round_trip_leaves_payload_untouched(h in header(), payload in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut buf = h.to_bytes();
        prop_assert!(buf.len() <= MAX_HEADER_LEN);
        let header_len = buf.len();
        buf.extend_from_slice(&payload);
        prop_assert_eq!(StreamHeader::decode(&buf), Ok((h, header_len)));
    }

    #[test]
    fn every_truncation_asks_for_more(h in header()) {
        let buf = h.to_bytes();
        for cut in 0..buf.len() {
            prop_assert_eq!(StreamHeader::decode(&buf[..cut]), Err(HeaderError::Incomplete));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(buf in proptest::collection::vec(any::<u8>(), 0..128)) {
        if let Ok((_, used)) = StreamHeader::decode(&buf) {
            prop_assert!(used <= buf.len() && used <= MAX_HEADER_LEN);
        }
    }
}

#[test]
fn rejects_oversized_and_invalid_names() {
    assert_eq!(
        StreamHeader::decode(&[1, 1, 200, b'a']),
        Err(HeaderError::TooLong)
    );
    assert_eq!(
        StreamHeader::decode(&[1, 1, 2, b'A', b'B']),
        Err(HeaderError::InvalidServiceName)
    );
    assert_eq!(
        StreamHeader::decode(&[1, 1, 0]),
        Err(HeaderError::InvalidServiceName)
    );
    assert_eq!(
        StreamHeader::decode(&[2, 1]),
        Err(HeaderError::UnknownVersion(2))
    );
    assert_eq!(
        StreamHeader::decode(&[1, 9]),
        Err(HeaderError::UnknownKind(9))
    );
}
