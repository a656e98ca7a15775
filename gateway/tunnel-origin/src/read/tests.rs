use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

use proptest::prelude::*;
use tokio::io::ReadBuf;

use super::*;
use crate::encode;

fn origin(peer: &str) -> Origin {
    Origin {
        appliance: ApplianceId::new("ro-emb-paris", "PAR-01").expect("valid"),
        peer: peer.parse().expect("address"),
    }
}

/// Reads an origin from `bytes` and says how many of them were consumed.
fn read(bytes: &[u8]) -> (Result<Origin, OriginError>, usize) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut rest = bytes;
    let result = runtime.block_on(read_origin(&mut rest));
    (result, bytes.len() - rest.len())
}

/// A header written by hand, independent of the library that writes the real one.
fn header(version_command: u8, family_transport: u8, body: &[u8]) -> Vec<u8> {
    let mut out = PROTOCOL_PREFIX.to_vec();
    out.push(version_command);
    out.push(family_transport);
    out.extend_from_slice(&u16::try_from(body.len()).expect("short").to_be_bytes());
    out.extend_from_slice(body);
    out
}

fn tlv(kind: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![kind];
    out.extend_from_slice(&u16::try_from(value.len()).expect("short").to_be_bytes());
    out.extend_from_slice(value);
    out
}

/// IPv4 addresses 192.0.2.7:51000 → 127.0.0.1:8443, then `tlvs`.
fn v4_body(tlvs: &[&[u8]]) -> Vec<u8> {
    let mut body = vec![192, 0, 2, 7, 127, 0, 0, 1];
    body.extend_from_slice(&51000u16.to_be_bytes());
    body.extend_from_slice(&8443u16.to_be_bytes());
    for t in tlvs {
        body.extend_from_slice(t);
    }
    body
}

#[test]
fn the_hub_header_is_standard_proxy_v2_with_the_appliance_tlv() {
    let bytes = encode(
        &origin("192.0.2.7:51000"),
        "127.0.0.1:8443".parse().expect("addr"),
    );
    let expected = header(0x21, 0x11, &v4_body(&[&tlv(0xE0, b"ro-emb-paris/PAR-01")]));
    assert_eq!(bytes, expected);
}

#[test]
fn round_trips_over_ipv4_and_ipv6() {
    for (peer, upstream) in [
        ("192.0.2.7:51000", "127.0.0.1:8443"),
        ("[2001:db8::7]:51000", "[::1]:8443"),
    ] {
        let sent = origin(peer);
        let bytes = encode(&sent, upstream.parse().expect("addr"));
        let (got, consumed) = read(&bytes);
        assert_eq!(got.expect("valid header"), sent);
        assert_eq!(consumed, bytes.len());
    }
}

#[test]
fn mixed_families_are_written_as_ipv6_and_read_back_as_given() {
    let v4_peer = origin("192.0.2.7:51000");
    let bytes = encode(&v4_peer, "[::1]:8443".parse().expect("addr"));
    assert_eq!(bytes[13], 0x21, "TCP over IPv6");
    assert_eq!(read(&bytes).0.expect("valid"), v4_peer);

    let v6_peer = origin("[2001:db8::7]:51000");
    let bytes = encode(&v6_peer, "127.0.0.1:8443".parse().expect("addr"));
    assert_eq!(bytes[13], 0x21);
    assert_eq!(read(&bytes).0.expect("valid"), v6_peer);
}

#[test]
fn a_gateway_seen_on_a_dual_stack_socket_is_reported_as_ipv4() {
    let mapped = origin("[::ffff:192.0.2.7]:51000");
    let bytes = encode(&mapped, "[::1]:8443".parse().expect("addr"));
    let got = read(&bytes).0.expect("valid");
    assert_eq!(
        got.peer,
        SocketAddr::from((Ipv4Addr::new(192, 0, 2, 7), 51000))
    );
}

#[test]
fn no_payload_byte_is_consumed() {
    let request = b"GET / HTTP/1.1\r\nHost: console\r\n\r\n";
    let mut bytes = encode(
        &origin("192.0.2.7:51000"),
        "127.0.0.1:8443".parse().expect("a"),
    );
    let header_len = bytes.len();
    bytes.extend_from_slice(request);
    let (got, consumed) = read(&bytes);
    assert!(got.is_ok());
    assert_eq!(consumed, header_len);
    assert_eq!(&bytes[consumed..], request);
}

#[test]
fn other_tlvs_are_ignored() {
    let noop = tlv(0x04, &[0; 5]);
    let bytes = header(
        0x21,
        0x11,
        &v4_body(&[&noop, &tlv(0xE0, b"paris/PAR-01"), &noop]),
    );
    let got = read(&bytes).0.expect("valid");
    assert_eq!(got.appliance.to_string(), "paris/PAR-01");
    assert_eq!(
        got.peer,
        SocketAddr::from((Ipv4Addr::new(192, 0, 2, 7), 51000))
    );
}

/// Whether an error is the one a case expects.
type Expect = fn(&OriginError) -> bool;

#[test]
fn every_kind_of_bad_header_is_refused_with_its_own_error() {
    let id = tlv(0xE0, b"paris/PAR-01");
    let good = header(0x21, 0x11, &v4_body(&[&id]));
    let mut v6_body = Ipv6Addr::LOCALHOST.octets().repeat(2);
    v6_body.extend_from_slice(&[0, 1, 0, 2]);
    v6_body.extend_from_slice(&id);
    let mut unix_body = vec![0u8; 216];
    unix_body.extend_from_slice(&id);
    let mut too_long = good.clone();
    too_long[14..16].copy_from_slice(&497u16.to_be_bytes());
    let mut overrun = v4_body(&[&id]);
    overrun.extend_from_slice(&[0xE0, 0, 9, b'x']);

    let cases: Vec<(&str, Vec<u8>, Expect)> = vec![
        ("empty", vec![], |e| matches!(e, OriginError::Truncated)),
        ("cut in the fixed part", good[..10].to_vec(), |e| {
            matches!(e, OriginError::Truncated)
        }),
        ("cut in the addresses", good[..20].to_vec(), |e| {
            matches!(e, OriginError::Truncated)
        }),
        (
            "v1 text",
            b"PROXY TCP4 192.0.2.7 127.0.0.1 51000 8443\r\n".to_vec(),
            |e| matches!(e, OriginError::V1),
        ),
        (
            "plain HTTP",
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            |e| matches!(e, OriginError::NotProxy),
        ),
        (
            "version 1 binary",
            header(0x11, 0x11, &v4_body(&[&id])),
            |e| matches!(e, OriginError::Version(1)),
        ),
        ("LOCAL", header(0x20, 0x11, &v4_body(&[&id])), |e| {
            matches!(e, OriginError::Local)
        }),
        (
            "unknown command",
            header(0x22, 0x11, &v4_body(&[&id])),
            |e| matches!(e, OriginError::Command(2)),
        ),
        ("over 512 bytes", too_long, |e| {
            matches!(e, OriginError::TooLong(513))
        }),
        (
            "unknown family",
            header(0x21, 0x51, &v4_body(&[&id])),
            |e| matches!(e, OriginError::Malformed(_)),
        ),
        (
            "IPv4 family, short addresses",
            header(0x21, 0x11, &[127, 0, 0, 1]),
            |e| matches!(e, OriginError::Malformed(_)),
        ),
        ("UDP", header(0x21, 0x12, &v4_body(&[&id])), |e| {
            matches!(e, OriginError::NotTcp)
        }),
        ("unspecified family", header(0x21, 0x01, &id), |e| {
            matches!(e, OriginError::NoAddresses)
        }),
        ("unix sockets", header(0x21, 0x31, &unix_body), |e| {
            matches!(e, OriginError::NoAddresses)
        }),
        (
            "TLV overruns the header",
            header(0x21, 0x11, &overrun),
            |e| matches!(e, OriginError::MalformedTlv),
        ),
        ("no appliance TLV", header(0x21, 0x11, &v4_body(&[])), |e| {
            matches!(e, OriginError::MissingAppliance)
        }),
        (
            "two appliance TLVs",
            header(0x21, 0x11, &v4_body(&[&id, &tlv(0xE0, b"berlin/BER-01")])),
            |e| matches!(e, OriginError::DuplicateAppliance),
        ),
        (
            "appliance without mission",
            header(0x21, 0x11, &v4_body(&[&tlv(0xE0, b"PAR-01")])),
            |e| matches!(e, OriginError::InvalidAppliance(_)),
        ),
        (
            "appliance with a space",
            header(0x21, 0x11, &v4_body(&[&tlv(0xE0, b"paris/PAR 01")])),
            |e| matches!(e, OriginError::InvalidAppliance(_)),
        ),
        (
            "appliance with three parts",
            header(0x21, 0x11, &v4_body(&[&tlv(0xE0, b"a/b/c")])),
            |e| matches!(e, OriginError::InvalidAppliance(_)),
        ),
        (
            "appliance not UTF-8",
            header(0x21, 0x11, &v4_body(&[&tlv(0xE0, b"paris/\xff")])),
            |e| matches!(e, OriginError::InvalidAppliance(_)),
        ),
    ];
    // The IPv6 body is well formed: it proves the cases above fail for their own reason.
    assert!(read(&header(0x21, 0x21, &v6_body)).0.is_ok());
    assert!(read(&good).0.is_ok());
    for (what, bytes, expected) in cases {
        let (result, consumed) = read(&bytes);
        match result {
            Err(e) if expected(&e) => {}
            other => panic!("{what}: {other:?}"),
        }
        assert!(consumed <= bytes.len().max(16), "{what}");
    }
}

#[test]
fn an_oversized_header_is_refused_after_its_fixed_part() {
    let mut bytes = header(0x21, 0x11, &vec![0; 600]);
    bytes.extend_from_slice(b"payload");
    let (result, consumed) = read(&bytes);
    assert!(matches!(result, Err(OriginError::TooLong(616))));
    assert_eq!(consumed, 16);
}

#[test]
fn a_read_error_is_reported_as_such() {
    struct Broken;
    impl AsyncRead for Broken {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()))
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let result = runtime.block_on(read_origin(&mut Broken));
    assert!(
        matches!(result, Err(OriginError::Io(e)) if e.kind() == io::ErrorKind::ConnectionReset)
    );
}

/// The bytes a reader may consume from `bytes`: the fixed part, and the rest of the header only
/// when the announced length is within bounds.
fn allowed(bytes: &[u8]) -> usize {
    match bytes.get(14..16) {
        Some(len) => {
            let total = 16 + usize::from(u16::from_be_bytes([len[0], len[1]]));
            if total <= MAX_HEADER_LEN { total } else { 16 }
        }
        None => 16,
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_nor_read_past_the_header(
        bytes in proptest::collection::vec(any::<u8>(), 0..700),
    ) {
        let (result, consumed) = read(&bytes);
        prop_assert!(consumed <= allowed(&bytes));
        if result.is_ok() {
            prop_assert_eq!(consumed, allowed(&bytes));
        }
    }

    #[test]
    fn arbitrary_headers_after_a_good_signature_are_bounded(
        version_command in prop_oneof![Just(0x21u8), any::<u8>()],
        family_transport in prop_oneof![Just(0x11u8), Just(0x21u8), any::<u8>()],
        length in prop_oneof![0u16..120, any::<u16>()],
        body in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let mut bytes = PROTOCOL_PREFIX.to_vec();
        bytes.extend_from_slice(&[version_command, family_transport]);
        bytes.extend_from_slice(&length.to_be_bytes());
        bytes.extend_from_slice(&body);
        let (result, consumed) = read(&bytes);
        prop_assert!(consumed <= allowed(&bytes));
        if result.is_ok() {
            prop_assert_eq!(consumed, allowed(&bytes));
        }
    }

    #[test]
    fn every_valid_origin_round_trips(
        mission in "[A-Za-z0-9_-]{1,32}",
        appliance in "[A-Za-z0-9_-]{1,32}",
        peer in any::<SocketAddr>(),
        upstream in any::<SocketAddr>(),
        payload in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let sent = Origin {
            appliance: ApplianceId::new(&mission, &appliance).expect("valid by construction"),
            peer: SocketAddr::new(peer.ip().to_canonical(), peer.port()),
        };
        let mut bytes = encode(&sent, upstream);
        let header_len = bytes.len();
        prop_assert!(header_len <= 120);
        bytes.extend_from_slice(&payload);
        let (got, consumed) = read(&bytes);
        prop_assert_eq!(got.expect("own header"), sent);
        prop_assert_eq!(consumed, header_len);
    }
}
