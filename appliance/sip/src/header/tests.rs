use super::*;

#[test]
fn uri_with_params_round_trips() {
    let uri = Uri::parse("sip:agent1@127.0.0.1:5070;transport=tcp;lr").expect("parses");
    assert_eq!(uri.user.as_deref(), Some("agent1"));
    assert_eq!(uri.host, "127.0.0.1");
    assert_eq!(uri.port, Some(5070));
    assert_eq!(uri.transport().as_deref(), Some("tcp"));
    assert_eq!(uri.param("lr"), Some(None));
    assert_eq!(
        uri.to_string(),
        "sip:agent1@127.0.0.1:5070;transport=tcp;lr"
    );
    assert_eq!(
        uri.socket_addr(),
        Some("127.0.0.1:5070".parse().expect("addr"))
    );
    let v6 = Uri::parse("sip:[::1]:5062").expect("parses");
    assert_eq!(v6.socket_addr(), Some("[::1]:5062".parse().expect("addr")));
    assert!(
        Uri::parse("sip:example.org")
            .expect("parses")
            .socket_addr()
            .is_none()
    );
    assert!(Uri::parse("http://example.org").is_err());
}

#[test]
fn name_addr_forms() {
    let a = NameAddr::parse("\"Alice A\" <sip:alice@atlanta.com>;tag=1928301774").expect("ok");
    assert_eq!(a.display.as_deref(), Some("Alice A"));
    assert_eq!(a.tag(), Some("1928301774"));
    assert_eq!(a.uri.user.as_deref(), Some("alice"));
    let b = NameAddr::parse("sip:bob@biloxi.com;tag=x;expires=60").expect("addr-spec");
    assert_eq!(b.tag(), Some("x"));
    assert_eq!(b.param("expires"), Some(Some("60")));
    let c = NameAddr::parse("<sip:carol@chicago.com;transport=udp>;expires=0").expect("ok");
    assert_eq!(c.uri.transport().as_deref(), Some("udp"));
    assert_eq!(c.param("expires"), Some(Some("0")));
    assert_eq!(
        c.clone().with_tag("t").to_string(),
        "<sip:carol@chicago.com;transport=udp>;expires=0;tag=t"
    );
}

#[test]
fn via_fields_and_stamp() {
    let mut via = Via::parse("SIP/2.0/udp 10.0.0.1:5062;branch=z9hG4bK-1-0;rport").expect("parses");
    assert_eq!(via.transport, "UDP");
    assert_eq!(via.branch(), Some("z9hG4bK-1-0"));
    assert!(via.is_rfc3261());
    assert_eq!(via.sent_by(), "10.0.0.1:5062");
    via.stamp_source("192.0.2.7:40000".parse().expect("addr"));
    assert_eq!(
        via.to_string(),
        "SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bK-1-0;rport=40000;received=192.0.2.7"
    );
    assert!(Via::parse("SIP/2.0/UDP").is_err());
}

#[test]
fn cseq_bounds() {
    let c = CSeq::parse("4711 INVITE").expect("parses");
    assert_eq!((c.seq, c.method), (4711, Method::Invite));
    assert!(CSeq::parse("2147483648 INVITE").is_err());
    assert!(CSeq::parse("1").is_err());
    assert!(CSeq::parse("1 INVITE extra").is_err());
}
