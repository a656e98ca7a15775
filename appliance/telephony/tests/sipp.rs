#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Real SIP peers: SIPp (Debian's `sip-tester`) as the trunk calling in and as the agents'
//! phones, which register with digest authentication first. Every test starts its own
//! bridge on a loopback port, its SIPp processes on ports it picked, and kills them on drop.

#[path = "support/sipp.rs"]
mod support;

use std::net::SocketAddr;
use std::time::Duration;

use support::{Sipp, args, free_port, phone, register, scenario, settle, trunk};
use telephony::credentials::{NewAgent, parse, render};
use telephony::{EngineConfig, Outcome, ServerConfig, Side, Telephony};

const REALM: &str = "legatura-test";

async fn bridge() -> Telephony {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("telephony=debug")
        .with_test_writer()
        .try_init();
    let text = render(
        REALM,
        &[
            NewAgent {
                username: "agent1",
                password: "secret1",
                extension: Some("101"),
                staff: Some("op.ionescu"),
            },
            NewAgent {
                username: "agent2",
                password: "secret2",
                extension: Some("102"),
                staff: None,
            },
        ],
    );
    let accounts = parse(&text, REALM).unwrap();
    let placeholder: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut engine = EngineConfig::new(placeholder, REALM, accounts);
    engine.ring_timeout = Duration::from_secs(20);
    Telephony::start(ServerConfig {
        listen: placeholder,
        advertise: None,
        engine,
        max_connections: 64,
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_is_answered_by_the_dialled_agent_and_the_caller_hangs_up() {
    let bridge = bridge().await;
    let addr = bridge.udp_addr();
    let (phone1, phone2) = (free_port(), free_port());
    register(addr, "agent1", "secret1", phone1, "u1", 3600).await;
    register(addr, "agent2", "secret2", phone2, "u1", 3600).await;
    assert_eq!(bridge.registrations().len(), 2);

    // Dialling agent2's extension rings agent2's phone only.
    let answering = phone(phone2, &["-sn", "uas"], "u1", 1);
    trunk(addr, "102", &["-sn", "uac"], "u1", &["-d", "300"])
        .success()
        .await;
    answering.success().await;
    settle(&bridge, 1).await;
    let records = bridge.call_records();
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r.agent.as_deref(), Some("agent2"));
    assert_eq!(r.called, "102");
    assert_eq!(r.outcome, Outcome::Completed);
    assert_eq!(r.ended_by, Some(Side::Caller));
    assert!(r.answered_ms.is_some() && r.ended_ms >= r.answered_ms);

    // Anything else goes to the agent registered first.
    let answering = phone(phone1, &["-sn", "uas"], "u1", 1);
    trunk(addr, "service", &["-sn", "uac"], "u1", &[])
        .success()
        .await;
    answering.success().await;
    settle(&bridge, 2).await;
    assert_eq!(bridge.call_records()[1].agent.as_deref(), Some("agent1"));
    bridge.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_hangs_up() {
    let bridge = bridge().await;
    let addr = bridge.udp_addr();
    let port = free_port();
    register(addr, "agent1", "secret1", port, "u1", 3600).await;
    let answering = phone(
        port,
        &["-sf", scenario("uas_bye.xml").to_str().unwrap()],
        "u1",
        1,
    );
    trunk(
        addr,
        "agent1",
        &["-sf", scenario("uac_wait_bye.xml").to_str().unwrap()],
        "u1",
        &[],
    )
    .success()
    .await;
    answering.success().await;
    settle(&bridge, 1).await;
    let r = &bridge.call_records()[0];
    assert_eq!(
        (r.outcome, r.ended_by),
        (Outcome::Completed, Some(Side::Agent))
    );
    bridge.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_caller_cancels_while_the_agent_rings() {
    let bridge = bridge().await;
    let addr = bridge.udp_addr();
    let port = free_port();
    register(addr, "agent1", "secret1", port, "u1", 3600).await;
    let ringing = phone(
        port,
        &["-sf", scenario("uas_ringing.xml").to_str().unwrap()],
        "u1",
        1,
    );
    trunk(
        addr,
        "agent1",
        &["-sf", scenario("uac_cancel.xml").to_str().unwrap()],
        "u1",
        &[],
    )
    .success()
    .await;
    ringing.success().await;
    settle(&bridge, 1).await;
    let r = &bridge.call_records()[0];
    assert_eq!(
        (r.outcome, r.ended_by),
        (Outcome::Cancelled, Some(Side::Caller))
    );
    assert!(r.answered_ms.is_none());
    bridge.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_registered_agent_the_caller_gets_480() {
    let bridge = bridge().await;
    let addr = bridge.udp_addr();
    let uac_480 = scenario("uac_480.xml");
    trunk(
        addr,
        "agent1",
        &["-sf", uac_480.to_str().unwrap()],
        "u1",
        &[],
    )
    .success()
    .await;
    // Registered, then unregistered (Expires: 0): unavailable again.
    let port = free_port();
    register(addr, "agent1", "secret1", port, "u1", 3600).await;
    assert_eq!(bridge.registrations().len(), 1);
    register(addr, "agent1", "secret1", port, "u1", 0).await;
    assert!(bridge.registrations().is_empty());
    trunk(
        addr,
        "service",
        &["-sf", uac_480.to_str().unwrap()],
        "u1",
        &[],
    )
    .success()
    .await;
    settle(&bridge, 2).await;
    let records = bridge.call_records();
    assert_eq!(records.len(), 2);
    assert!(
        records
            .iter()
            .all(|r| r.outcome == Outcome::NoAgent && r.agent.is_none())
    );
    bridge.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_challenged_then_refused() {
    let bridge = bridge().await;
    let addr = bridge.udp_addr();
    let port = free_port().to_string();
    for (agent, password) in [
        ("agent1", "wrong"),
        ("agent1", "secret2"),
        ("nobody", "secret1"),
    ] {
        Sipp::start(
            &format!("REGISTER {agent} with a wrong password"),
            &args(&[
                "-sf",
                scenario("register_refused.xml").to_str().unwrap(),
                &addr.to_string(),
                "-i",
                "127.0.0.1",
                "-p",
                &free_port().to_string(),
                "-m",
                "1",
                "-s",
                agent,
                "-au",
                agent,
                "-ap",
                password,
                "-key",
                "contact_port",
                &port,
                "-key",
                "expires",
                "3600",
            ]),
        )
        .success()
        .await;
    }
    assert!(bridge.registrations().is_empty());
    assert_eq!(bridge.stats().auth_failures, 3);
    register(addr, "agent1", "secret1", port.parse().unwrap(), "u1", 3600).await;
    assert_eq!(bridge.registrations().len(), 1);
    bridge.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_over_tcp() {
    let bridge = bridge().await;
    let addr = bridge.tcp_addr();
    let port = free_port();
    register(addr, "agent1", "secret1", port, "t1", 3600).await;
    assert_eq!(bridge.registrations()[0].transport, "TCP");
    let answering = phone(port, &["-sn", "uas"], "t1", 3);
    trunk(
        addr,
        "agent1",
        &["-sn", "uac"],
        "t1",
        &["-m", "3", "-r", "3"],
    )
    .success()
    .await;
    answering.success().await;
    settle(&bridge, 3).await;
    let records = bridge.call_records();
    assert_eq!(records.len(), 3);
    assert!(records.iter().all(|r| r.outcome == Outcome::Completed));
    bridge.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_is_answered_for_health_checks() {
    let bridge = bridge().await;
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let local = socket.local_addr().unwrap();
    let options = format!(
        "OPTIONS sip:ping@{b} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKping\r\n\
From: <sip:probe@{local}>;tag=p\r\nTo: <sip:ping@{b}>\r\nCall-ID: ping-1\r\nCSeq: 1 OPTIONS\r\n\
Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        b = bridge.udp_addr()
    );
    socket
        .send_to(options.as_bytes(), bridge.udp_addr())
        .await
        .unwrap();
    let mut buf = [0u8; 2048];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), socket.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let text = std::str::from_utf8(&buf[..n]).unwrap();
    assert!(text.starts_with("SIP/2.0 200 OK\r\n"), "{text}");
    assert!(text.contains("Allow: INVITE, ACK, CANCEL, BYE, OPTIONS"));
    // Garbage and an unknown method do not stop it answering.
    socket
        .send_to(b"\x00\xffnot sip", bridge.udp_addr())
        .await
        .unwrap();
    let unknown = options
        .replace("OPTIONS sip", "FROB sip")
        .replace("1 OPTIONS", "1 FROB")
        .replace("z9hG4bKping", "z9hG4bKfrob");
    socket
        .send_to(unknown.as_bytes(), bridge.udp_addr())
        .await
        .unwrap();
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), socket.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(
        std::str::from_utf8(&buf[..n])
            .unwrap()
            .starts_with("SIP/2.0 501")
    );
    assert_eq!(bridge.stats().options, 1);
    bridge.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_calls_at_twenty_five_per_second() {
    let bridge = bridge().await;
    let addr = bridge.udp_addr();
    let port = free_port();
    register(addr, "agent1", "secret1", port, "u1", 3600).await;
    let answering = phone(port, &["-sn", "uas"], "u1", 50);
    trunk(
        addr,
        "agent1",
        &["-sn", "uac"],
        "u1",
        &["-m", "50", "-r", "25", "-l", "50", "-d", "200"],
    )
    .success()
    .await;
    answering.success().await;
    settle(&bridge, 50).await;
    let records = bridge.call_records();
    assert_eq!(records.len(), 50);
    assert!(records.iter().all(|r| r.outcome == Outcome::Completed));
    assert_eq!(bridge.active_calls(), 0);
    bridge.shutdown().await;
}

/// The trunk loses a tenth of what it sends (INVITEs, ACKs, BYEs): our 100 Trying, 2xx
/// retransmissions until the ACK (or a BYE standing in for it) and answers to retransmitted
/// BYEs carry every call through. `uac_txn.xml` uses SIPp's transactions so that a
/// retransmitted INVITE 2xx is re-ACKed rather than taken for the answer to the BYE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_complete_when_the_trunk_loses_messages() {
    let bridge = bridge().await;
    let addr = bridge.udp_addr();
    let port = free_port();
    register(addr, "agent1", "secret1", port, "u1", 3600).await;
    let answering = phone(port, &["-sn", "uas"], "u1", 30);
    let scenario_file = scenario("uac_txn.xml");
    trunk(
        addr,
        "agent1",
        &["-sf", scenario_file.to_str().unwrap()],
        "u1",
        &["-m", "30", "-r", "10", "-l", "30", "-lost", "10"],
    )
    .success()
    .await;
    answering.success().await;
    settle(&bridge, 30).await;
    let records = bridge.call_records();
    assert_eq!(records.len(), 30);
    assert!(
        records.iter().all(|r| r.outcome == Outcome::Completed),
        "{records:#?}"
    );
    bridge.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_hangs_up_both_phones() {
    let bridge = bridge().await;
    let addr = bridge.udp_addr();
    let port = free_port();
    register(addr, "agent1", "secret1", port, "u1", 3600).await;
    // Both sides wait for a BYE: only the bridge hanging up ends them.
    let answering = phone(port, &["-sn", "uas"], "u1", 1);
    let caller = trunk(
        addr,
        "agent1",
        &["-sf", scenario("uac_wait_bye.xml").to_str().unwrap()],
        "u1",
        &[],
    );
    let mut answered = false;
    for _ in 0..100 {
        if bridge
            .call_records()
            .first()
            .is_some_and(|r| r.answered_ms.is_some())
        {
            answered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(answered, "the call was answered");

    assert_eq!(bridge.hang_up_all(Duration::from_secs(2)).await, 1);
    caller.success().await;
    answering.success().await;
    settle(&bridge, 1).await;
    assert_eq!(bridge.call_records()[0].outcome, Outcome::Shutdown);
    bridge.shutdown().await;
}
