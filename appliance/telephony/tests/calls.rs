//! The bridge with real SIP peers for what a caller and an agent notice: sipsak's OPTIONS
//! health check; a caller who waits with no agent ready hearing the queue's message as early
//! media and then being answered; an agent transferring a call blind to a consul (REFER);
//! a caller's hold and resume from another port keeping the audio through the relay. RTP
//! endpoints are the test's own sockets, named in the SDP SIPp sends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/sipp.rs"]
mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use media::rtp::{self, Header};
use support::{Sipp, args, free_port, register, scenario, settle};
use telephony::credentials::{NewAgent, parse, render};
use telephony::{EngineConfig, MediaSettings, Outcome, QueueConfig, ServerConfig, Telephony};
use tokio::net::UdpSocket;

const REALM: &str = "legatura-test";

async fn bridge(media_ports: u16, message: Option<&std::path::Path>) -> Telephony {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("telephony=debug,media=debug")
        .with_test_writer()
        .try_init();
    let agents = [
        NewAgent {
            username: "agent1",
            password: "secret",
            extension: None,
            staff: None,
        },
        NewAgent {
            username: "consul",
            password: "secret2",
            extension: Some("300"),
            staff: None,
        },
    ];
    let accounts = parse(&render(REALM, &agents), REALM).unwrap();
    let placeholder: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut engine = EngineConfig::new(placeholder, REALM, accounts);
    let mut queue = QueueConfig::new("consular");
    queue.wrap_up = Duration::ZERO;
    queue.message = message.map(|m| m.to_string_lossy().into_owned());
    engine.queues = vec![queue];
    let mut relay = media::MediaConfig::new("127.0.0.1".parse().unwrap());
    relay.ports = media::PortRange {
        first: media_ports,
        last: media_ports + 99,
    };
    let mut settings = MediaSettings::new(relay);
    settings.ivr = false;
    engine.media = Some(settings);
    Telephony::start(ServerConfig {
        listen: placeholder,
        advertise: None,
        engine,
        max_connections: 64,
    })
    .await
    .unwrap()
}

fn packet(sequence: u16, fill: u8) -> Vec<u8> {
    let mut buf = [0u8; 256];
    let header = Header {
        payload_type: 8,
        marker: false,
        sequence,
        timestamp: u32::from(sequence) * 160,
        ssrc: u32::from(fill),
    };
    let n = rtp::write(&mut buf, &header, &[fill; 160]).unwrap();
    buf[..n].to_vec()
}

/// Counts the RTP packets arriving at `socket` by their audio: one counter per fill byte.
fn count(socket: Arc<UdpSocket>, counters: Vec<(u8, Arc<AtomicUsize>)>) {
    tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while let Ok((n, _)) = socket.recv_from(&mut buf).await {
            let Ok(p) = rtp::parse(&buf[..n]) else {
                continue;
            };
            for (fill, seen) in &counters {
                if p.payload.first() == Some(fill) {
                    seen.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    });
}

async fn rtp_socket() -> (Arc<UdpSocket>, String) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = socket.local_addr().unwrap().port().to_string();
    (Arc::new(socket), port)
}

fn caller(bridge: SocketAddr, xml: &str, rtp: &str, extra: &[&str]) -> Sipp {
    let port = free_port().to_string();
    let mut a = args(&[
        "-sf",
        scenario(xml).to_str().unwrap(),
        &bridge.to_string(),
        "-i",
        "127.0.0.1",
        "-p",
        &port,
        "-s",
        "consular",
        "-key",
        "caller",
        "0722000111",
        "-key",
        "rtp",
        rtp,
        "-m",
        "1",
    ]);
    a.extend(args(extra));
    Sipp::start("citizen", &a)
}

#[tokio::test]
async fn sipsak_health_check_gets_200_listing_refer() {
    let bridge = bridge(44_000, None).await;
    let target = format!("sip:ping@{}", bridge.udp_addr());
    let run = |target: String| {
        let local = free_port().to_string();
        tokio::process::Command::new("sipsak")
            .args(["-s", &target, "-H", "127.0.0.1", "-l", &local, "-vv"])
            .output()
    };
    let out = run(target).await.expect("sipsak (Debian package sipsak)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "sipsak failed: {text}");
    assert!(text.contains("200 OK"), "{text}");
    assert!(text.contains("REFER"), "Allow lists REFER: {text}");
    assert_eq!(bridge.stats().options, 1);
    bridge.shutdown().await;

    // Nobody on the port: the health check fails (sipsak exits non-zero).
    let out = run(format!("sip:ping@127.0.0.1:{}", free_port()))
        .await
        .unwrap();
    assert!(!out.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_agent_ready_the_caller_hears_the_queue_message_then_is_answered() {
    let dir = tempfile::tempdir().unwrap();
    let message = dir.path().join("queue.alaw");
    // 300 ms of A-law 0x2a: recognisable, and repeated while the caller waits.
    std::fs::write(&message, [0x2a; 2400]).unwrap();
    let bridge = bridge(44_200, Some(&message)).await;
    let addr = bridge.udp_addr();
    let phone_port = free_port();
    register(addr, "agent1", "secret", phone_port, "u1", 600).await;
    let phone = Sipp::start(
        "agent phone",
        &args(&[
            "-sn",
            "uas",
            "-i",
            "127.0.0.1",
            "-p",
            &phone_port.to_string(),
            "-m",
            "1",
        ]),
    );
    let (rtp, rtp_port) = rtp_socket().await;
    let heard = Arc::new(AtomicUsize::new(0));
    count(rtp, vec![(0x2a, heard.clone())]);
    let citizen = caller(addr, "uac_media.xml", &rtp_port, &["-d", "500"]);

    // Registered but not logged in: the caller waits, hearing the message.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let waiting = bridge.queues();
    assert_eq!(waiting[0].waiting.len(), 1, "{waiting:?}");
    let heard_waiting = heard.load(Ordering::Relaxed);
    assert!(
        heard_waiting >= 50,
        "about 100 packets of the message in 2 s, heard {heard_waiting}"
    );
    bridge.agent_login("agent1", &["ro".to_owned()]).unwrap();
    citizen.success().await;
    phone.success().await;
    settle(&bridge, 1).await;
    let record = bridge.call_records().remove(0);
    assert_eq!(record.outcome, Outcome::Completed, "{record:#?}");
    assert_eq!(record.agent.as_deref(), Some("agent1"));
    assert!(record.wait_ms().unwrap() >= 2000, "{record:#?}");
    // Once answered the message stops: nothing more of it arrives.
    let after = heard.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(heard.load(Ordering::Relaxed), after, "the message stopped");
    bridge.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_transfers_the_caller_blind_to_the_consul() {
    let bridge = bridge(44_400, None).await;
    let addr = bridge.udp_addr();
    let (agent_port, consul_port) = (free_port(), free_port());
    register(addr, "agent1", "secret", agent_port, "u1", 600).await;
    register(addr, "consul", "secret2", consul_port, "u1", 600).await;
    bridge.agent_login("agent1", &["ro".to_owned()]).unwrap();
    let agent = Sipp::start(
        "agent transferring",
        &args(&[
            "-sf",
            scenario("uas_refer.xml").to_str().unwrap(),
            "-i",
            "127.0.0.1",
            "-p",
            &agent_port.to_string(),
            "-key",
            "refer_to",
            "300",
            "-m",
            "1",
        ]),
    );
    // The consul's phone answers and waits for the caller's BYE.
    let consul = Sipp::start(
        "consul phone",
        &args(&[
            "-sn",
            "uas",
            "-i",
            "127.0.0.1",
            "-p",
            &consul_port.to_string(),
            "-m",
            "1",
        ]),
    );
    let (rtp, rtp_port) = rtp_socket().await;
    let citizen = caller(addr, "uac_media.xml", &rtp_port, &["-d", "3000"]);
    agent.success().await;
    citizen.success().await;
    consul.success().await;
    drop(rtp);
    settle(&bridge, 1).await;
    let record = bridge.call_records().remove(0);
    assert_eq!(record.outcome, Outcome::Completed, "{record:#?}");
    assert_eq!(record.agent.as_deref(), Some("consul"), "{record:#?}");
    assert_eq!(record.ended_by, Some(telephony::Side::Caller));
    let legs: Vec<_> = record
        .legs
        .iter()
        .map(|l| (l.agent.as_str(), l.outcome))
        .collect();
    assert_eq!(
        legs,
        [
            ("agent1", Outcome::Transferred),
            ("consul", Outcome::Completed)
        ]
    );
    assert!(record.legs[1].answered_ms.is_some());
    bridge.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_and_resume_from_another_port_keep_the_audio_through_the_relay() {
    let first = 44_600;
    let bridge = bridge(first, None).await;
    let addr = bridge.udp_addr();
    let phone_port = free_port();
    register(addr, "agent1", "secret", phone_port, "u1", 600).await;
    bridge.agent_login("agent1", &["ro".to_owned()]).unwrap();
    let (agent_rtp, agent_rtp_port) = rtp_socket().await;
    let (before, before_port) = rtp_socket().await;
    let (moved, moved_port) = rtp_socket().await;
    let phone = Sipp::start(
        "agent phone",
        &args(&[
            "-sf",
            scenario("uas_reinvite.xml").to_str().unwrap(),
            "-i",
            "127.0.0.1",
            "-p",
            &phone_port.to_string(),
            "-key",
            "agent_rtp",
            &agent_rtp_port,
            "-m",
            "1",
        ]),
    );
    let citizen = caller(
        addr,
        "uac_reinvite.xml",
        &before_port,
        &["-key", "rtp2", &moved_port],
    );

    let (agent_heard_before, agent_heard_moved) =
        (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (caller_heard_before, caller_heard_moved) =
        (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    count(
        agent_rtp.clone(),
        vec![
            (0x11, agent_heard_before.clone()),
            (0x22, agent_heard_moved.clone()),
        ],
    );
    count(before.clone(), vec![(0x33, caller_heard_before.clone())]);
    count(moved.clone(), vec![(0x33, caller_heard_moved.clone())]);
    for _ in 0..200 {
        if bridge
            .call_records()
            .first()
            .is_some_and(|r| r.answered_ms.is_some())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The first call's legs: the caller's at `first`, the agent's at the next pair.
    let (hub_caller_leg, hub_agent_leg): (SocketAddr, SocketAddr) = (
        format!("127.0.0.1:{first}").parse().unwrap(),
        format!("127.0.0.1:{}", first + 2).parse().unwrap(),
    );
    // Talk both ways; at 0.8 s the caller's phone moves to its other port (it re-INVITEs
    // at 1.5 s on hold, and from the new port at 1.9 s) and the call lasts about 4 s.
    let start = tokio::time::Instant::now();
    let mut seq = 0u16;
    while start.elapsed() < Duration::from_millis(3600) {
        seq = seq.wrapping_add(1);
        let from_caller = if start.elapsed() < Duration::from_millis(800) {
            (&before, 0x11)
        } else {
            (&moved, 0x22)
        };
        let _ = from_caller
            .0
            .send_to(&packet(seq, from_caller.1), hub_caller_leg)
            .await;
        let _ = agent_rtp.send_to(&packet(seq, 0x33), hub_agent_leg).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    citizen.success().await;
    phone.success().await;
    settle(&bridge, 1).await;
    let record = bridge.call_records().remove(0);
    assert_eq!(record.outcome, Outcome::Completed, "{record:#?}");
    let (a1, a2, c1, c2) = (
        agent_heard_before.load(Ordering::Relaxed),
        agent_heard_moved.load(Ordering::Relaxed),
        caller_heard_before.load(Ordering::Relaxed),
        caller_heard_moved.load(Ordering::Relaxed),
    );
    // Before the move, both ways through the relay; after the resume from the new port,
    // the agent hears the moved phone and the moved phone hears the agent.
    assert!(
        a1 >= 20 && c1 >= 20,
        "before the move: agent {a1}, caller {c1}"
    );
    assert!(
        a2 >= 40 && c2 >= 40,
        "after the resume: agent heard {a2}, caller's new port heard {c2}"
    );
    bridge.shutdown().await;
}
