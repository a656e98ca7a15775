//! The relay over real UDP sockets on loopback: two "phones" (plain sockets) on either side
//! of a call, latching, a stranger's packets, the menu and its keys, recording, and ports
//! coming back when calls end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use media::dtmf::TelephoneEvent;
use media::rtp::{self, Header};
use media::{Codec, Language, Leg, Media, MediaConfig, MediaEvent, PortRange};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::timeout;

fn config(first: u16) -> MediaConfig {
    let mut config = MediaConfig::new("127.0.0.1".parse().unwrap());
    config.ports = PortRange {
        first,
        last: first + 7,
    };
    config
}

async fn phone() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").await.unwrap()
}

fn packet(pt: u8, sequence: u16, timestamp: u32, payload: &[u8]) -> Vec<u8> {
    let mut buf = [0u8; 512];
    let header = Header {
        payload_type: pt,
        marker: false,
        sequence,
        timestamp,
        ssrc: 0x1234,
    };
    let n = rtp::write(&mut buf, &header, payload).unwrap();
    buf[..n].to_vec()
}

async fn receive(socket: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = [0u8; 2048];
    let (n, from) = timeout(Duration::from_secs(2), socket.recv_from(&mut buf))
        .await
        .expect("a packet within 2 s")
        .unwrap();
    (buf[..n].to_vec(), from)
}

async fn nothing(socket: &UdpSocket) -> bool {
    let mut buf = [0u8; 2048];
    timeout(Duration::from_millis(200), socket.recv_from(&mut buf))
        .await
        .is_err()
}

async fn ports_back(media: &Media, pairs: usize) {
    for _ in 0..100 {
        if media.free_port_pairs() == pairs {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("ports not freed: {} of {pairs}", media.free_port_pairs());
}

async fn event(events: &mut mpsc::Receiver<MediaEvent>) -> MediaEvent {
    timeout(Duration::from_secs(10), events.recv())
        .await
        .expect("an event")
        .expect("open channel")
}

#[tokio::test]
async fn relays_both_ways_latching_on_the_real_source() {
    let (mut media, _events) = Media::new(config(42_000)).unwrap();
    let pairs = media.free_port_pairs();
    let caller = phone().await;
    let agent = phone().await;
    // The caller's SDP names a port it does not send from (it is behind a NAT).
    let decoy = phone().await;
    let caller_leg = media
        .open(1, Codec::Pcma, Some(101), Some(decoy.local_addr().unwrap()))
        .unwrap();
    let agent_leg = media.open_agent(1).unwrap();
    assert_ne!(caller_leg, agent_leg);
    media
        .set_remote(1, Leg::Agent, agent.local_addr().unwrap())
        .unwrap();
    media.bridge(1, false).unwrap();

    // Before the caller has sent anything, the agent's audio goes where the SDP said.
    let from_agent = packet(8, 1, 160, &[0x11; 160]);
    agent.send_to(&from_agent, agent_leg).await.unwrap();
    let (got, from) = receive(&decoy).await;
    assert_eq!(got, from_agent, "relayed unchanged");
    assert_eq!(
        from, caller_leg,
        "from the port the caller was given (symmetric RTP)"
    );

    // The caller speaks from its real address: relayed to the agent, and latched.
    let from_caller = packet(8, 7, 960, &[0x22; 160]);
    caller.send_to(&from_caller, caller_leg).await.unwrap();
    let (got, from) = receive(&agent).await;
    assert_eq!(got, from_caller);
    assert_eq!(from, agent_leg);
    agent.send_to(&from_agent, agent_leg).await.unwrap();
    let (got, _) = receive(&caller).await;
    assert_eq!(got, from_agent, "after latching the caller hears the agent");
    assert!(nothing(&decoy).await, "and the SDP address no longer does");

    // A stranger injecting RTP into the caller's port is dropped.
    let dropped = media.stats().dropped;
    let stranger = phone().await;
    stranger
        .send_to(&packet(8, 99, 99, &[0x66; 160]), caller_leg)
        .await
        .unwrap();
    assert!(
        nothing(&agent).await,
        "the stranger's packet did not reach the agent"
    );
    assert_eq!(media.stats().dropped, dropped + 1);
    // Garbage from the real caller is not relayed either.
    caller.send_to(b"not rtp", caller_leg).await.unwrap();
    assert!(nothing(&agent).await);

    // RTCP latches and relays on the next port.
    let rtcp = [0x80, 201, 0, 1, 0, 0, 0x12, 0x34];
    let caller_rtcp = phone().await;
    let agent_rtcp = SocketAddr::new(agent_leg.ip(), agent_leg.port() + 1);
    let caller_rtcp_leg = SocketAddr::new(caller_leg.ip(), caller_leg.port() + 1);
    caller_rtcp.send_to(&rtcp, caller_rtcp_leg).await.unwrap();
    let agent_rtcp_socket = UdpSocket::bind(SocketAddr::new(
        agent.local_addr().unwrap().ip(),
        agent.local_addr().unwrap().port() + 1,
    ))
    .await;
    // The agent's RTCP port is its RTP port + 1, when free; either way the relay sent it there.
    if let Ok(socket) = agent_rtcp_socket {
        caller_rtcp.send_to(&rtcp, caller_rtcp_leg).await.unwrap();
        let (got, from) = receive(&socket).await;
        assert_eq!(got, rtcp);
        assert_eq!(from, agent_rtcp);
    }

    media.close(1);
    ports_back(&media, pairs).await;
    assert_eq!(media.stats().sessions, 0);
}

#[tokio::test]
async fn plays_the_menu_and_reads_keys() {
    let (mut media, mut events) = Media::new(config(42_100)).unwrap();
    let caller = phone().await;
    let leg = media
        .open(
            5,
            Codec::Pcmu,
            Some(101),
            Some(caller.local_addr().unwrap()),
        )
        .unwrap();
    media.start_ivr(5).unwrap();

    // Ten packets of the prompt: µ-law, 160 samples, marker first, 20 ms apart.
    let start = tokio::time::Instant::now();
    let mut headers = Vec::new();
    for _ in 0..10 {
        let (bytes, from) = receive(&caller).await;
        assert_eq!(from, leg);
        let p = rtp::parse(&bytes).unwrap();
        assert_eq!(p.payload.len(), 160);
        headers.push(p.header);
    }
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(150),
        "paced at 20 ms: {elapsed:?}"
    );
    assert!(headers[0].marker && headers[1..].iter().all(|h| !h.marker));
    assert!(
        headers
            .iter()
            .all(|h| h.payload_type == 0 && h.ssrc == headers[0].ssrc)
    );
    for pair in headers.windows(2) {
        assert_eq!(pair[1].sequence, pair[0].sequence.wrapping_add(1));
        assert_eq!(pair[1].timestamp, pair[0].timestamp.wrapping_add(160));
    }

    // "2" (English), sent the way phones do: three updates and three end packets; then "4",
    // "2" and "#" for a case number.
    let mut seq = 100;
    for (n, key) in [2u8, 4, 2, 11].into_iter().enumerate() {
        let ts = 8000 * (n as u32 + 1);
        for (end, duration) in [
            (false, 160),
            (false, 320),
            (false, 480),
            (true, 640),
            (true, 640),
            (true, 640),
        ] {
            let payload = TelephoneEvent {
                event: key,
                end,
                volume: 10,
                duration,
            }
            .to_bytes();
            caller
                .send_to(&packet(101, seq, ts, &payload), leg)
                .await
                .unwrap();
            seq += 1;
        }
    }
    let MediaEvent::Ivr { call, result } = event(&mut events).await else {
        panic!("expected the menu's result");
    };
    assert_eq!(call, 5);
    assert_eq!(result.language, Language::En);
    assert_eq!(result.digits, "42");
    assert_eq!(
        result.keys, "242#",
        "each key once despite its repeated end packets"
    );
    assert!(!result.emergency);
    assert_eq!(media.stats().keys, 4);

    // The prompt stopped at the first key: the caller hears nothing more.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut buf = [0u8; 2048];
    while caller.try_recv_from(&mut buf).is_ok() {}
    assert!(nothing(&caller).await);
    media.close(5);
}

#[tokio::test]
async fn records_both_legs_and_closes_idle_calls() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(42_200);
    config.recordings = Some(dir.path().to_owned());
    config.idle_timeout = Duration::from_millis(600);
    let (mut media, mut events) = Media::new(config).unwrap();
    let pairs = media.free_port_pairs();
    let caller = phone().await;
    let agent = phone().await;
    let caller_leg = media
        .open(9, Codec::Pcma, None, Some(caller.local_addr().unwrap()))
        .unwrap();
    let agent_leg = media.open_agent(9).unwrap();
    media
        .set_remote(9, Leg::Agent, agent.local_addr().unwrap())
        .unwrap();
    let recording = media.bridge(9, true).unwrap().expect("recording paths");
    for i in 0..5u16 {
        let ts = u32::from(i) * 160;
        caller
            .send_to(&packet(8, i, ts, &[0x2a; 160]), caller_leg)
            .await
            .unwrap();
        receive(&agent).await;
        agent
            .send_to(&packet(8, i, ts, &[0x55; 160]), agent_leg)
            .await
            .unwrap();
        receive(&caller).await;
    }
    // Nobody speaks for the idle timeout: the call's media ends on its own.
    assert_eq!(event(&mut events).await, MediaEvent::Idle { call: 9 });
    ports_back(&media, pairs).await;
    for (path, byte) in [(&recording.caller, 0x2a), (&recording.agent, 0x55)] {
        let wav = std::fs::read(path).unwrap();
        assert_eq!(&wav[..4], b"RIFF");
        assert_eq!(u32::from_le_bytes(wav[54..58].try_into().unwrap()), 800);
        assert_eq!(wav.len(), 58 + 800);
        assert!(
            wav[58..].iter().all(|b| *b == byte),
            "{path:?} holds its leg's audio"
        );
    }
}

#[tokio::test]
async fn refuses_calls_past_the_port_range() {
    let mut config = config(42_300);
    config.ports.last = 42_303;
    let (mut media, _events) = Media::new(config).unwrap();
    media.open(1, Codec::Pcma, None, None).unwrap();
    media.open_agent(1).unwrap();
    assert!(matches!(
        media.open(2, Codec::Pcma, None, None),
        Err(media::MediaError::NoPorts(_))
    ));
    media.close(1);
    ports_back(&media, 2).await;
    media.open(2, Codec::Pcma, None, None).unwrap();
}

#[tokio::test]
async fn a_waiting_caller_hears_the_message_repeated_until_bridged() {
    let (mut media, _events) = Media::new(config(42_300)).unwrap();
    let caller = phone().await;
    let agent = phone().await;
    media
        .open(8, Codec::Pcma, None, Some(caller.local_addr().unwrap()))
        .unwrap();
    // Three packets' worth of samples (the last one padded): the message repeats after it.
    let message = media::Prompt::from_alaw(&[0x11; 400]);
    media.play_looped(8, message).unwrap();
    let mut headers = Vec::new();
    for _ in 0..7 {
        let (bytes, _) = receive(&caller).await;
        let p = rtp::parse(&bytes).unwrap();
        assert_eq!(p.header.payload_type, 8);
        assert_eq!(p.payload[0], 0x11, "the message's samples");
        headers.push(p.header);
    }
    // Repeats are marked as a new talk spurt but stay one stream.
    let marks: Vec<bool> = headers.iter().map(|h| h.marker).collect();
    assert_eq!(marks, [true, false, false, true, false, false, true]);
    for pair in headers.windows(2) {
        assert_eq!(pair[1].sequence, pair[0].sequence.wrapping_add(1));
        assert_eq!(pair[1].ssrc, pair[0].ssrc);
    }

    // The agent answers: the message stops and the legs are relayed.
    let agent_leg = media.open_agent(8).unwrap();
    media
        .set_remote(8, Leg::Agent, agent.local_addr().unwrap())
        .unwrap();
    media.bridge(8, false).unwrap();
    // Drain what was in flight, then only relayed audio arrives.
    tokio::time::sleep(Duration::from_millis(60)).await;
    let mut buf = [0u8; 2048];
    while caller.try_recv_from(&mut buf).is_ok() {}
    assert!(nothing(&caller).await, "the message stopped");
    agent
        .send_to(&packet(8, 1, 160, &[0x55; 160]), agent_leg)
        .await
        .unwrap();
    let (bytes, _) = receive(&caller).await;
    assert_eq!(rtp::parse(&bytes).unwrap().payload[0], 0x55);
    media.close(8);
}
