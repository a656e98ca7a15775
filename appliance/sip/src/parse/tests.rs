use super::*;

fn crlf(text: &str) -> Vec<u8> {
    text.replace('\n', "\r\n").into_bytes()
}

const OPTIONS: &str = "OPTIONS sip:user@example.com SIP/2.0\n\
To: sip:j_user@example.com\n\
From: sip:caller@example.org;tag=33242\n\
Max-Forwards: 3\n\
i: semiuri.0ha0isndaksdj\n\
CSeq: 8 OPTIONS\n\
Accept: application/sdp, application/pkcs7-mime,\n        multipart/mixed\n\
v: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKkdjuw, SIP/2.0/TCP 192.0.2.2;branch=z9hG4bK2\n\
l: 0\n\n";

#[test]
fn compact_forms_folding_and_lists() {
    let Ok(Message::Request(r)) = parse_datagram(&crlf(OPTIONS), &Limits::default()) else {
        panic!("parses");
    };
    assert_eq!(r.method, Method::Options);
    assert_eq!(r.headers.get("Call-ID"), Some("semiuri.0ha0isndaksdj"));
    assert_eq!(
        r.headers.get("Accept"),
        Some("application/sdp, application/pkcs7-mime, multipart/mixed")
    );
    assert_eq!(r.headers.get_all("Via").count(), 2);
    let e = r.essentials().expect("essentials");
    assert_eq!(e.via.branch(), Some("z9hG4bKkdjuw"));
    assert_eq!(e.from.tag(), Some("33242"));
    // Printed back with canonical names and one Via per line.
    let printed = String::from_utf8(r.to_bytes()).expect("utf8");
    assert!(printed.contains("\r\nCall-ID: semiuri.0ha0isndaksdj\r\n"));
    assert!(printed.contains("\r\nVia: SIP/2.0/TCP 192.0.2.2;branch=z9hG4bK2\r\n"));
    assert!(printed.ends_with("Content-Length: 0\r\n\r\n"));
}

#[test]
fn body_by_content_length() {
    let text =
        "SIP/2.0 200 OK\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nContent-Length: 4\n\nv=0\nextra";
    let Ok(Message::Response(r)) = parse_datagram(&crlf(text), &Limits::default()) else {
        panic!("parses");
    };
    assert_eq!((r.code, r.reason.as_str()), (200, "OK"));
    assert_eq!(&r.body[..], b"v=0\r");
    let short = "SIP/2.0 200 OK\nContent-Length: 400\n\nv=0";
    assert_eq!(
        parse_datagram(&crlf(short), &Limits::default()),
        Err(ParseError::Truncated)
    );
}

#[test]
fn limits_are_enforced() {
    let limits = Limits {
        max_message: 200,
        max_headers: 3,
    };
    assert!(matches!(
        parse_datagram(&[b'a'; 201], &limits),
        Err(ParseError::TooLarge { .. })
    ));
    let many = "SIP/2.0 200 OK\nA: 1\nB: 2\nC: 3\nD: 4\n\n";
    assert_eq!(
        parse_datagram(many.as_bytes(), &limits),
        Err(ParseError::TooManyHeaders { limit: 3 })
    );
    // A comma list counts each value.
    let list = "SIP/2.0 200 OK\nVia: a, b, c, d\n\n";
    assert_eq!(
        parse_datagram(list.as_bytes(), &limits),
        Err(ParseError::TooManyHeaders { limit: 3 })
    );
}

#[test]
fn bad_input_is_an_error() {
    let limits = Limits::default();
    for bad in [
        &b""[..],
        b"\r\n\r\n",
        b"INVITE sip:a@b SIP/3.0\r\n\r\n",
        b"INVITE  sip:a@b SIP/2.0\r\n\r\n",
        b"SIP/2.0 99 Low\r\n\r\n",
        b"SIP/2.0 200 OK\r\nNoColon\r\n\r\n",
        b"SIP/2.0 200 OK\r\nBad Name: x\r\n\r\n",
        b"SIP/2.0 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"SIP/2.0 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"SIP/2.0 200 OK\r\nX: \xff\r\n\r\n",
        b"FOO tel:+40 SIP/2.0\r\n\r\n",
    ] {
        assert!(parse_datagram(bad, &limits).is_err(), "{bad:?}");
    }
}

#[test]
fn stream_framing() {
    let limits = Limits::default();
    let msg = crlf("SIP/2.0 200 OK\nContent-Length: 3\n\nabc");
    let mut buf = b"\r\n\r\n".to_vec();
    buf.extend_from_slice(&msg);
    assert_eq!(frame(&buf, &limits), Ok(Some(Frame::KeepAlive(4))));
    assert_eq!(frame(&msg[..10], &limits), Ok(None));
    assert_eq!(frame(&msg[..msg.len() - 1], &limits), Ok(None));
    assert_eq!(frame(&msg, &limits), Ok(Some(Frame::Message(msg.len()))));
    let no_length = crlf("SIP/2.0 200 OK\nVia: x\n\n");
    assert_eq!(frame(&no_length, &limits), Err(ParseError::ContentLength));
    let endless = vec![b'a'; limits.max_message + 1];
    assert!(matches!(
        frame(&endless, &limits),
        Err(ParseError::TooLarge { .. })
    ));
}
