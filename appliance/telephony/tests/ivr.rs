//! Media anchored at the hub with real SIP peers: SIPp as a citizen who sends audio and
//! presses keys (SIPp's RFC 4733 telephone-event recordings, played as RTP), the menu's
//! choice reaching the queue and the call record, and the agent's phone (SIPp echoing RTP)
//! bridged through the relay and recorded.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/sipp.rs"]
mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use support::{Sipp, args, free_port, register, scenario, settle};
use telephony::credentials::{NewAgent, parse, render};
use telephony::{
    CallRecord, EngineConfig, MediaSettings, Outcome, QueueConfig, ServerConfig, Telephony,
};

const REALM: &str = "legatura-test";
const PCAPS: &str = "/usr/share/sip-tester";

async fn bridge(media_ports: u16, recordings: &Path) -> Telephony {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("telephony=debug,media=debug")
        .with_test_writer()
        .try_init();
    let agents = [NewAgent {
        username: "agent1",
        password: "secret",
        extension: None,
        staff: None,
    }];
    let accounts = parse(&render(REALM, &agents), REALM).unwrap();
    let placeholder: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut engine = EngineConfig::new(placeholder, REALM, accounts);
    let mut queue = QueueConfig::new("consular");
    queue.wrap_up = Duration::ZERO;
    engine.queues = vec![queue];
    let mut relay = media::MediaConfig::new("127.0.0.1".parse().unwrap());
    relay.ports = media::PortRange {
        first: media_ports,
        last: media_ports + 99,
    };
    relay.recordings = Some(recordings.to_owned());
    engine.media = Some(MediaSettings {
        relay,
        record_queues: vec!["consular".to_owned()],
        ivr: true,
        gateway_rtp_port: None,
    });
    Telephony::start(ServerConfig {
        listen: placeholder,
        advertise: None,
        engine,
        max_connections: 64,
    })
    .await
    .unwrap()
}

/// A citizen calling the queue who presses `keys` (SIPp pcap names) during the menu, then
/// talks for `talk_ms`.
fn citizen(bridge: SocketAddr, keys: &[&str], talk_ms: u32, dir: &Path) -> Sipp {
    let mut actions = String::new();
    for key in keys {
        actions.push_str(&format!(
            "  <nop><action><exec play_pcap_audio=\"{PCAPS}/dtmf_2833_{key}.pcap\"/></action></nop>\n  <pause milliseconds=\"600\"/>\n"
        ));
    }
    let template = std::fs::read_to_string(scenario("uac_ivr.xml")).unwrap();
    let xml = template
        .replace("KEYS\n", &actions)
        .replace("AUDIO", &format!("{PCAPS}/g711a.pcap"));
    let path = dir.join("uac_ivr.xml");
    std::fs::write(&path, xml).unwrap();
    let port = free_port().to_string();
    let media_port = free_port().to_string();
    Sipp::start(
        "citizen",
        &args(&[
            "-sf",
            path.to_str().unwrap(),
            &bridge.to_string(),
            "-i",
            "127.0.0.1",
            "-p",
            &port,
            "-mi",
            "127.0.0.1",
            "-mp",
            &media_port,
            "-s",
            "consular",
            "-key",
            "caller",
            "0722000111",
            "-d",
            &talk_ms.to_string(),
            "-m",
            "1",
        ]),
    )
}

/// The agent's phone: SIPp's built-in UAS, echoing the RTP it receives.
fn echoing_phone(port: u16) -> Sipp {
    let media_port = free_port().to_string();
    Sipp::start(
        "agent phone",
        &args(&[
            "-sn",
            "uas",
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-mi",
            "127.0.0.1",
            "-mp",
            &media_port,
            "-rtp_echo",
            "-m",
            "1",
        ]),
    )
}

async fn answered_call(bridge: &Telephony, keys: &[&str]) -> CallRecord {
    let dir = tempfile::tempdir().unwrap();
    let addr = bridge.udp_addr();
    let phone_port = free_port();
    register(addr, "agent1", "secret", phone_port, "u1", 600).await;
    bridge
        .agent_login("agent1", &["ro".to_owned(), "en".to_owned()])
        .unwrap();
    let phone = echoing_phone(phone_port);
    let caller = citizen(addr, keys, 1500, dir.path());
    caller.success().await;
    phone.success().await;
    settle(bridge, 1).await;
    let records = bridge.call_records();
    assert_eq!(records.len(), 1, "{records:#?}");
    records.into_iter().next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_menu_choice_routes_the_call_and_both_legs_are_relayed_and_recorded() {
    let recordings = tempfile::tempdir().unwrap();
    let bridge = bridge(43_000, recordings.path()).await;
    // English, then a case number "4" ended by "#".
    let record = answered_call(&bridge, &["2", "4", "pound"]).await;
    assert_eq!(record.outcome, Outcome::Completed, "{record:#?}");
    assert_eq!(record.queue.as_deref(), Some("consular"));
    assert_eq!(record.language.as_deref(), Some("en"), "{record:#?}");
    assert_eq!(record.digits, "4");
    assert!(!record.emergency);

    let stats = bridge.media_stats().unwrap();
    assert_eq!(stats.keys, 3, "each key once: {stats:?}");
    // The caller's audio went to the agent's phone and its echo came back: both directions.
    assert!(stats.relayed >= 40, "relayed {stats:?}");

    // Both legs were recorded, with audio, in the call record.
    let recording = record.recording.expect("recorded");
    for path in [&recording.caller, &recording.agent] {
        let mut size = 0;
        // The files are closed when the call's media ends (housekeeping or idle timeout).
        for _ in 0..150 {
            let bytes = std::fs::read(path).unwrap_or_default();
            size = bytes
                .get(54..58)
                .map_or(0, |b| u32::from_le_bytes(b.try_into().unwrap()));
            if size > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            size >= 8000,
            "{path:?} holds at least a second of audio ({size} bytes)"
        );
    }
    bridge.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nine_in_the_menu_makes_an_emergency_call() {
    let recordings = tempfile::tempdir().unwrap();
    let bridge = bridge(43_200, recordings.path()).await;
    let record = answered_call(&bridge, &["9"]).await;
    assert_eq!(record.outcome, Outcome::Completed, "{record:#?}");
    assert!(record.emergency, "{record:#?}");
    assert_eq!(
        record.language.as_deref(),
        Some("ro"),
        "the default language"
    );
    bridge.shutdown().await;
}
