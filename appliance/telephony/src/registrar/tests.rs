use std::net::SocketAddr;

use rand::SeedableRng as _;
use rand::rngs::StdRng;
use sip::digest::{Algorithm, Challenge, Credentials, ha1};
use sip::parse::{Limits, parse_datagram};
use sip::{Message, Transport};

use super::*;

fn registrar() -> Registrar {
    Registrar::new(
        "r",
        vec![Account {
            username: "a1".into(),
            ha1_md5: ha1(Algorithm::Md5, "a1", "r", "pw"),
            ha1_sha256: Some(ha1(Algorithm::Sha256, "a1", "r", "pw")),
            extension: Some("101".into()),
            staff: None,
        }],
        Expiry::default(),
    )
}

fn source() -> Peer {
    Peer {
        addr: "192.0.2.9:5062".parse::<SocketAddr>().expect("addr"),
        transport: Transport::Udp,
    }
}

fn paris() -> Gateway {
    Gateway {
        appliance: "ro-emb-paris/PAR-01".into(),
        listener: Some("192.168.1.1:5060".parse().expect("addr")),
    }
}

fn register(user: &str, contact: &str, expires: Option<u32>, auth: Option<&str>) -> Request {
    let mut text = format!(
        "REGISTER sip:r SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.9:5062;branch=z9hG4bK1\r\n\
From: <sip:{user}@r>;tag=x\r\nTo: <sip:{user}@r>\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\n\
Contact: {contact}\r\n"
    );
    if let Some(e) = expires {
        text.push_str(&format!("Expires: {e}\r\n"));
    }
    if let Some(a) = auth {
        text.push_str(&format!("Authorization: {a}\r\n"));
    }
    text.push_str("\r\n");
    match parse_datagram(text.as_bytes(), &Limits::default()) {
        Ok(Message::Request(r)) => r,
        other => panic!("{other:?}"),
    }
}

fn nonce_of(response: &Response) -> Challenge {
    let value = response.headers.get("WWW-Authenticate").expect("challenge");
    let nonce = value
        .split("nonce=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("nonce");
    Challenge {
        realm: "r".into(),
        nonce: nonce.into(),
        opaque: None,
        algorithm: Algorithm::Md5,
        stale: false,
    }
}

fn answer(challenge: &Challenge, user: &str, password: &str, nc: u32) -> String {
    Credentials::answer(challenge, user, password, "REGISTER", "sip:r", "cn", nc)
}

#[test]
fn challenge_register_expire_and_unregister() {
    let mut rng = StdRng::seed_from_u64(1);
    let mut reg = registrar();
    let now = Instant::now();
    let (challenged, verdict) = reg.register(
        now,
        &register("a1", "<sip:a1@192.0.2.9:5062>", Some(120), None),
        source(),
        None,
        &mut rng,
    );
    assert_eq!((challenged.code, verdict), (401, Verdict::Challenged));
    assert!(
        challenged
            .headers
            .get("WWW-Authenticate")
            .expect("header")
            .contains("qop=\"auth\"")
    );
    let c = nonce_of(&challenged);
    let request = register(
        "a1",
        "<sip:a1@192.0.2.9:5062>",
        Some(120),
        Some(&answer(&c, "a1", "pw", 1)),
    );
    let (ok, verdict) = reg.register(now, &request, source(), None, &mut rng);
    assert_eq!((ok.code, verdict), (200, Verdict::Registered));
    assert_eq!(
        ok.headers.get("Contact"),
        Some("<sip:a1@192.0.2.9:5062>;expires=120")
    );
    assert_eq!(reg.lookup(now, "101").expect("by extension").username, "a1");
    assert!(reg.first_registered(now).is_some());
    // The same nonce count again is a replay: challenged afresh, marked stale.
    let (replay, _) = reg.register(now, &request, source(), None, &mut rng);
    assert_eq!(replay.code, 401);
    assert!(
        replay
            .headers
            .get("WWW-Authenticate")
            .expect("header")
            .contains("stale=true")
    );
    // Expired after its lifetime.
    assert!(reg.lookup(now + Duration::from_secs(121), "a1").is_none());
    // Unregistered with Contact: * and Expires: 0.
    let unregister = register("a1", "*", Some(0), Some(&answer(&c, "a1", "pw", 2)));
    let (ok, verdict) = reg.register(now, &unregister, source(), None, &mut rng);
    assert_eq!((ok.code, verdict), (200, Verdict::Unregistered));
    assert!(reg.lookup(now, "a1").is_none());
}

#[test]
fn wrong_password_unknown_user_and_foreign_aor_are_refused_then_rate_limited() {
    let mut rng = StdRng::seed_from_u64(2);
    let mut reg = registrar();
    let now = Instant::now();
    let (challenged, _) = reg.register(
        now,
        &register("a1", "<sip:a1@h>", None, None),
        source(),
        None,
        &mut rng,
    );
    let c = nonce_of(&challenged);
    let wrong = register("a1", "<sip:a1@h>", None, Some(&answer(&c, "a1", "nope", 1)));
    assert_eq!(
        reg.register(now, &wrong, source(), None, &mut rng).1,
        Verdict::Refused
    );
    let unknown = register("zz", "<sip:zz@h>", None, Some(&answer(&c, "zz", "pw", 2)));
    assert_eq!(
        reg.register(now, &unknown, source(), None, &mut rng).0.code,
        403
    );
    // Right password, someone else's address of record.
    let foreign = register("b2", "<sip:b2@h>", None, Some(&answer(&c, "a1", "pw", 3)));
    assert_eq!(
        reg.register(now, &foreign, source(), None, &mut rng).0.code,
        403
    );
    for nc in 4..8 {
        let wrong = register(
            "a1",
            "<sip:a1@h>",
            None,
            Some(&answer(&c, "a1", "nope", nc)),
        );
        reg.register(now, &wrong, source(), None, &mut rng);
    }
    // Five failures: even the right password is refused for the rest of the minute.
    let right = register("a1", "<sip:a1@h>", None, Some(&answer(&c, "a1", "pw", 9)));
    assert_eq!(
        reg.register(now, &right, source(), None, &mut rng).1,
        Verdict::RateLimited
    );
    let later = now + Duration::from_secs(61);
    let (challenged, _) = reg.register(
        later,
        &register("a1", "<sip:a1@h>", None, None),
        source(),
        None,
        &mut rng,
    );
    let c = nonce_of(&challenged);
    let right = register("a1", "<sip:a1@h>", None, Some(&answer(&c, "a1", "pw", 1)));
    assert_eq!(
        reg.register(later, &right, source(), None, &mut rng).1,
        Verdict::Registered
    );
}

#[test]
fn too_brief_and_sha256() {
    let mut rng = StdRng::seed_from_u64(3);
    let mut reg = registrar();
    let now = Instant::now();
    let (challenged, _) = reg.register(
        now,
        &register("a1", "<sip:a1@h>", Some(10), None),
        source(),
        None,
        &mut rng,
    );
    let mut c = nonce_of(&challenged);
    let brief = register(
        "a1",
        "<sip:a1@h>",
        Some(10),
        Some(&answer(&c, "a1", "pw", 1)),
    );
    let (r, _) = reg.register(now, &brief, source(), None, &mut rng);
    assert_eq!((r.code, r.headers.get("Min-Expires")), (423, Some("60")));
    c.algorithm = Algorithm::Sha256;
    let sha = register(
        "a1",
        "<sip:a1@h>;expires=90",
        None,
        Some(&answer(&c, "a1", "pw", 2)),
    );
    let (r, _) = reg.register(now, &sha, source(), None, &mut rng);
    assert_eq!(r.code, 200);
    assert_eq!(
        reg.bindings(now)[0].expires_at,
        now + Duration::from_secs(90)
    );
}

#[test]
fn a_phone_behind_a_gateway_is_reached_through_its_flow_and_keeps_its_mission() {
    let mut rng = StdRng::seed_from_u64(3);
    let mut reg = registrar();
    let now = Instant::now();
    // The phone's Contact is on the embassy's LAN, which the hub cannot reach; its REGISTER
    // arrived from the hub's socket of the tunnel flow.
    let flow = Peer {
        addr: "127.0.0.1:41000".parse::<SocketAddr>().expect("addr"),
        transport: Transport::Udp,
    };
    let lan = "<sip:a1@192.168.1.20:5060>";
    let (challenged, _) = reg.register(
        now,
        &register("a1", lan, Some(120), None),
        flow,
        Some(paris()),
        &mut rng,
    );
    let auth = answer(&nonce_of(&challenged), "a1", "pw", 1);
    let request = register("a1", lan, Some(120), Some(&auth));
    let gateway = Some(paris());
    let (ok, _) = reg.register(now, &request, flow, gateway.clone(), &mut rng);
    assert_eq!(ok.code, 200);
    let binding = reg.lookup(now, "a1").expect("registered");
    assert_eq!(binding.gateway, gateway);
    assert_eq!(binding.target(), Some(flow));
    assert_eq!(binding.contact.to_string(), "sip:a1@192.168.1.20:5060");

    // Registered again from the hub's own network: the Contact is used, no mission.
    let auth = answer(&nonce_of(&challenged), "a1", "pw", 2);
    let request = register("a1", "<sip:a1@192.0.2.10:5064>", Some(120), Some(&auth));
    let (ok, _) = reg.register(now, &request, source(), None, &mut rng);
    assert_eq!(ok.code, 200);
    let binding = reg.lookup(now, "a1").expect("registered");
    assert_eq!(binding.gateway, None);
    let contact = Peer {
        addr: "192.0.2.10:5064".parse::<SocketAddr>().expect("addr"),
        transport: Transport::Udp,
    };
    assert_eq!(binding.target(), Some(contact));
}
