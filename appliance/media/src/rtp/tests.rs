use proptest::prelude::*;

use super::*;

#[test]
fn round_trips_a_g711_packet() {
    let header = Header {
        payload_type: 8,
        marker: true,
        sequence: 65_535,
        timestamp: 0xdead_beef,
        ssrc: 0x0102_0304,
    };
    let payload = [0xd5u8; 160];
    let mut buf = [0u8; 256];
    let n = write(&mut buf, &header, &payload).expect("fits");
    assert_eq!(n, 172);
    // The wire layout a peer reads: V=2, M and PT, then sequence, timestamp, SSRC.
    assert_eq!(
        &buf[..12],
        &[0x80, 0x88, 0xff, 0xff, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4]
    );
    let packet = parse(&buf[..n]).expect("parses");
    assert_eq!(packet.header, header);
    assert_eq!(packet.payload, &payload);
}

#[test]
fn refuses_short_wrong_version_and_bad_padding() {
    assert_eq!(parse(&[0x80; 11]), Err(RtpError::Truncated));
    let mut v1 = [0u8; 12];
    v1[0] = 0x40;
    assert_eq!(parse(&v1), Err(RtpError::Version));
    // P bit set, the last byte claims 200 bytes of padding in a 16-byte packet.
    let mut padded = [0u8; 16];
    padded[0] = 0xa0;
    padded[15] = 200;
    assert!(parse(&padded).is_err());
    // Padding that ends exactly at the header is an empty payload.
    padded[15] = 4;
    assert_eq!(parse(&padded).expect("parses").payload, &[] as &[u8]);
}

#[test]
fn skips_csrcs_and_extension() {
    let mut buf = vec![0x91, 0x00, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
    buf.extend_from_slice(&[9, 9, 9, 9]); // one CSRC
    buf.extend_from_slice(&[0xbe, 0xde, 0, 1, 7, 7, 7, 7]); // extension of one word
    buf.extend_from_slice(b"audio");
    let packet = parse(&buf).expect("parses");
    assert_eq!(packet.payload, b"audio");
    assert_eq!(packet.header.sequence, 1);
}

#[test]
fn tells_rtcp_from_rtp() {
    // A receiver report with no blocks: 8 bytes, length field 1.
    assert!(is_rtcp(&[0x80, 201, 0, 1, 0, 0, 0, 1]));
    assert!(!is_rtcp(&[0x80, 8, 0, 1, 0, 0, 0, 1]));
    assert!(!is_rtcp(&[0x80, 201, 0, 9, 0, 0, 0, 1]));
    assert!(!is_rtcp(&[0x80]));
}

#[test]
fn write_refuses_a_small_buffer() {
    let header = Header {
        payload_type: 0,
        marker: false,
        sequence: 0,
        timestamp: 0,
        ssrc: 0,
    };
    assert_eq!(
        write(&mut [0u8; 20], &header, &[0u8; 160]),
        Err(RtpError::BufferTooSmall)
    );
}

proptest! {
    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(packet) = parse(&bytes) {
            prop_assert!(packet.payload.len() + 12 <= bytes.len());
        }
        let _ = is_rtcp(&bytes);
    }

    #[test]
    fn what_we_write_parses_back(
        pt in 0u8..128, marker: bool, sequence: u16, timestamp: u32, ssrc: u32,
        payload in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        let header = Header { payload_type: pt, marker, sequence, timestamp, ssrc };
        let mut buf = [0u8; 512];
        let n = write(&mut buf, &header, &payload).expect("fits");
        let packet = parse(&buf[..n]).expect("parses");
        prop_assert_eq!(packet.header, header);
        prop_assert_eq!(packet.payload, &payload[..]);
    }
}
