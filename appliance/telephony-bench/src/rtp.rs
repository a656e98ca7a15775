//! Relayed G.711 calls: the bench is the callers (a small UAC on one UDP socket, and one RTP
//! socket per call sending A-law packets of 20 ms, 50 a second), the agent's phone is SIPp
//! echoing every RTP packet back (`-rtp_echo`). Each packet crosses the hub's relay twice,
//! caller leg to agent leg and back; a call is clean when every packet it sent came back.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, Result};
use tokio::net::UdpSocket;
use tokio::sync::oneshot;

/// 20 ms of A-law at 8 kHz.
const SAMPLES: usize = 160;
const PCMA: u8 = 8;

/// One step's outcome.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Relayed {
    pub(crate) established: usize,
    pub(crate) sent: u64,
    pub(crate) received: u64,
    /// Calls that lost at least one packet.
    pub(crate) lossy_calls: usize,
}

/// An answered call: what its ACK and BYE need, and the hub's side of its audio.
#[derive(Debug, Clone)]
struct Answered {
    to: String,
    target: String,
    media: SocketAddr,
}

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<Answered>>>>;

/// Places `calls` calls to the agent through `hub`, plays `seconds` of audio on each at once,
/// counts what comes back, then hangs up.
pub(crate) async fn run(hub: SocketAddr, calls: usize, seconds: u32) -> Result<Relayed> {
    let signalling = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);
    let local = signalling.local_addr()?;
    let pending: Pending = Arc::default();
    let listener = tokio::spawn(answer_loop(signalling.clone(), pending.clone()));

    // Calls set up at 200 a second, well under the engine's knee.
    let mut waiting = Vec::with_capacity(calls);
    for i in 0..calls {
        let media = UdpSocket::bind("127.0.0.1:0").await?;
        let call_id = format!("rtp-{i}-{}@127.0.0.1", std::process::id());
        let (tx, rx) = oneshot::channel();
        lock(&pending).insert(call_id.clone(), tx);
        let invite = invite(hub, local, &call_id, i, media.local_addr()?.port());
        signalling.send_to(invite.as_bytes(), hub).await?;
        waiting.push((call_id, media, rx));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut established = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    for (call_id, media, rx) in waiting {
        if let Ok(Ok(answered)) = tokio::time::timeout_at(deadline, rx).await {
            established.push((call_id, media, answered));
        }
    }

    let packets = u64::from(seconds) * 50;
    let mut tasks = Vec::new();
    let mut dialogs = Vec::new();
    for (i, (call_id, media, answered)) in established.into_iter().enumerate() {
        // Spread the calls' packets over the 20 ms, as independent phones would.
        let offset = Duration::from_micros((i as u64 * 20_000 / calls.max(1) as u64) % 20_000);
        let ssrc = u32::try_from(i).unwrap_or(u32::MAX);
        tasks.push(tokio::spawn(play(
            Arc::new(media),
            answered.media,
            ssrc,
            packets,
            offset,
        )));
        dialogs.push((call_id, answered));
    }
    let mut relayed = Relayed {
        established: dialogs.len(),
        ..Relayed::default()
    };
    for task in tasks {
        let (sent, received) = task.await.context("an RTP task")??;
        relayed.sent += sent;
        relayed.received += received;
        if received < sent {
            relayed.lossy_calls += 1;
        }
    }

    for (call_id, answered) in &dialogs {
        let bye = request("BYE", 2, local, call_id, &answered.to, &answered.target);
        let _ = signalling.send_to(bye.as_bytes(), hub).await;
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    listener.abort();
    Ok(relayed)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Sends `packets` RTP packets every 20 ms and counts distinct sequence numbers coming back.
async fn play(
    socket: Arc<UdpSocket>,
    to: SocketAddr,
    ssrc: u32,
    packets: u64,
    offset: Duration,
) -> Result<(u64, u64)> {
    let receiver = {
        let socket = socket.clone();
        // Packets sent; the last one gets a second to come back, far more than any queue on
        // loopback holds it.
        let end = tokio::time::Instant::now() + offset + Duration::from_millis(20 * packets + 1000);
        tokio::spawn(async move {
            let mut seen = vec![false; usize::try_from(packets).unwrap_or(0)];
            let mut received = 0u64;
            let mut buf = [0u8; 512];
            while let Ok(Ok((n, _))) =
                tokio::time::timeout_at(end, socket.recv_from(&mut buf)).await
            {
                if n < 12 || buf[8..12] != ssrc.to_be_bytes() {
                    continue;
                }
                let seq = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
                if let Some(slot) = seen.get_mut(seq)
                    && !*slot
                {
                    *slot = true;
                    received += 1;
                }
            }
            received
        })
    };
    tokio::time::sleep(offset).await;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut packet = [0xD5u8; 12 + SAMPLES];
    packet[0] = 0x80;
    packet[1] = PCMA;
    packet[8..12].copy_from_slice(&ssrc.to_be_bytes());
    let mut sent = 0;
    for seq in 0..packets {
        tick.tick().await;
        let seq16 = u16::try_from(seq).unwrap_or(u16::MAX);
        packet[2..4].copy_from_slice(&seq16.to_be_bytes());
        let ts = u32::try_from(seq * SAMPLES as u64).unwrap_or(u32::MAX);
        packet[4..8].copy_from_slice(&ts.to_be_bytes());
        if socket.send_to(&packet, to).await.is_ok() {
            sent += 1;
        }
    }
    let received = receiver.await.unwrap_or(0);
    Ok((sent, received))
}

/// Reads responses: a 2xx to an INVITE is ACKed (again, if retransmitted) and reported once.
async fn answer_loop(socket: Arc<UdpSocket>, pending: Pending) {
    let mut buf = vec![0u8; 65_536];
    let local = socket.local_addr().ok();
    while let Ok((n, from)) = socket.recv_from(&mut buf).await {
        let Ok(text) = std::str::from_utf8(&buf[..n]) else {
            continue;
        };
        let Some(status) = text.strip_prefix("SIP/2.0 ").and_then(|s| s.get(..3)) else {
            continue;
        };
        let cseq = header(text, "CSeq", "CSeq").unwrap_or_default();
        if !status.starts_with('2') || !cseq.ends_with("INVITE") {
            if !status.starts_with('1') && cseq.ends_with("INVITE") {
                // Refused: the caller gives up (the oneshot closes).
                if let Some(call_id) = header(text, "Call-ID", "i") {
                    lock(&pending).remove(call_id);
                }
            }
            continue;
        }
        let (Some(call_id), Some(to), Some(contact), Some(local)) = (
            header(text, "Call-ID", "i"),
            header(text, "To", "t"),
            header(text, "Contact", "m"),
            local,
        ) else {
            continue;
        };
        let target = contact
            .split('<')
            .nth(1)
            .and_then(|c| c.split('>').next())
            .unwrap_or(contact)
            .to_owned();
        let ack = request("ACK", 1, local, call_id, to, &target);
        let _ = socket.send_to(ack.as_bytes(), from).await;
        let Some(media) = sdp_audio(text) else {
            continue;
        };
        if let Some(tx) = lock(&pending).remove(call_id) {
            let _ = tx.send(Answered {
                to: to.to_owned(),
                target,
                media,
            });
        }
    }
}

/// A header's value by its name or compact form.
fn header<'a>(message: &'a str, name: &str, compact: &str) -> Option<&'a str> {
    let head = message.split("\r\n\r\n").next()?;
    head.lines().skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        let n = n.trim();
        (n.eq_ignore_ascii_case(name) || n.eq_ignore_ascii_case(compact)).then(|| v.trim())
    })
}

/// The audio address of the SDP body: `c=IN IP4 A` and `m=audio P`.
fn sdp_audio(message: &str) -> Option<SocketAddr> {
    let body = message.split_once("\r\n\r\n")?.1;
    let ip = body
        .lines()
        .find_map(|l| l.strip_prefix("c=IN IP4 "))?
        .trim();
    let port = body
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))?
        .split_whitespace()
        .next()?;
    format!("{ip}:{port}").parse().ok()
}

fn invite(hub: SocketAddr, local: SocketAddr, call_id: &str, i: usize, media_port: u16) -> String {
    let ip = local.ip();
    let sdp = format!(
        "v=0\r\no=- {i} 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio {media_port} RTP/AVP {PCMA}\r\na=rtpmap:{PCMA} PCMA/8000\r\n"
    );
    format!(
        "INVITE sip:{agent}@{hub} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK-{i}-invite\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:0723{i:06}@{ip}>;tag=c{i}\r\n\
         To: <sip:{agent}@{hub}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:caller@{local}>\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{sdp}",
        sdp.len(),
        agent = crate::engine::AGENT,
    )
}

/// ACK or BYE within the dialog (`to` carries the hub's tag).
fn request(
    method: &str,
    cseq: u32,
    local: SocketAddr,
    call_id: &str,
    to: &str,
    target: &str,
) -> String {
    let i = call_id.split('-').nth(1).unwrap_or("0");
    format!(
        "{method} {target} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK-{i}-{method}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:0723{i:0>6}@{ip}>;tag=c{i}\r\n\
         To: {to}\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} {method}\r\n\
         Content-Length: 0\r\n\r\n",
        ip = local.ip(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_the_audio_address_are_found() {
        let msg = "SIP/2.0 200 OK\r\ni: abc\r\nTo: <sip:x@h>;tag=9\r\nCSeq: 1 INVITE\r\n\r\n\
                   v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 20002 RTP/AVP 8\r\n";
        assert_eq!(header(msg, "Call-ID", "i"), Some("abc"));
        assert_eq!(header(msg, "To", "t"), Some("<sip:x@h>;tag=9"));
        assert_eq!(sdp_audio(msg), "127.0.0.1:20002".parse().ok());
        assert_eq!(header(msg, "Contact", "m"), None);
    }
}
