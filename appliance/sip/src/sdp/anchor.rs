//! Rewriting a session description so the media flows through the hub: the origin, every
//! connection address and the audio port become the hub's, only the payload types the hub
//! relays stay, and attributes naming the original transport (ICE candidates, `a=rtcp`) go.
//! Line-based, after the body has parsed as SDP, so everything else (direction, ptime,
//! fmtp) passes through as the peer wrote it.

use std::fmt::Write as _;
use std::net::IpAddr;

use super::{Sdp, SdpError};

/// Attributes that name the peer's own transport addresses or ICE state; meaningless once
/// the hub relays the media.
const DROPPED: [&str; 8] = [
    "rtcp",
    "rtcp-mux",
    "candidate",
    "remote-candidates",
    "end-of-candidates",
    "ice-ufrag",
    "ice-pwd",
    "ice-options",
];

fn addrtype(address: IpAddr) -> &'static str {
    match address {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    }
}

/// The payload type an `a=rtpmap`, `a=fmtp` or `a=rtcp-fb` attribute is about.
fn attribute_payload(value: &str) -> Option<Option<u8>> {
    let (name, rest) = value.split_once(':')?;
    if !matches!(name, "rtpmap" | "fmtp" | "rtcp-fb") {
        return None;
    }
    let pt = rest.split_ascii_whitespace().next()?;
    Some(pt.parse().ok())
}

/// Rewrites `body` for media through `address:port`: the first audio stream keeps only the
/// payload types in `keep` (in the peer's order); other streams are refused (port 0).
/// Fails if the body is not SDP or the audio stream offers none of `keep`.
pub fn anchor(body: &[u8], address: IpAddr, port: u16, keep: &[u8]) -> Result<String, SdpError> {
    Sdp::parse(body)?;
    let text = std::str::from_utf8(body).map_err(|_| SdpError)?;
    let mut out = String::with_capacity(text.len() + 64);
    // None: session level; Some(true): the relayed audio stream; Some(false): another stream.
    let mut section: Option<bool> = None;
    let mut anchored = false;
    for line in text.split('\n').map(|l| l.trim_end_matches('\r')) {
        if line.is_empty() {
            continue;
        }
        let (kind, value) = line.split_once('=').ok_or(SdpError)?;
        match kind {
            "o" => {
                let fields: Vec<&str> = value.split_ascii_whitespace().collect();
                let [_, id, version, ..] = fields[..] else {
                    return Err(SdpError);
                };
                let _ = write!(
                    out,
                    "o=legatura {id} {version} IN {} {address}\r\n",
                    addrtype(address)
                );
            }
            "c" => {
                let _ = write!(out, "c=IN {} {address}\r\n", addrtype(address));
            }
            "m" => {
                let mut fields = value.split_ascii_whitespace();
                let media = fields.next().ok_or(SdpError)?;
                let peer_port = fields.next().ok_or(SdpError)?;
                let proto = fields.next().ok_or(SdpError)?;
                let formats: Vec<&str> = fields.collect();
                if media == "audio" && peer_port != "0" && !anchored {
                    let kept: Vec<&str> = formats
                        .iter()
                        .copied()
                        .filter(|f| f.parse::<u8>().is_ok_and(|pt| keep.contains(&pt)))
                        .collect();
                    if kept.is_empty() {
                        return Err(SdpError);
                    }
                    anchored = true;
                    section = Some(true);
                    let _ = write!(out, "m=audio {port} {proto} {}\r\n", kept.join(" "));
                } else {
                    section = Some(false);
                    let _ = write!(out, "m={media} 0 {proto} {}\r\n", formats.join(" "));
                }
            }
            "a" => {
                let name = value.split(':').next().unwrap_or(value);
                if DROPPED.contains(&name) {
                    continue;
                }
                if section == Some(true)
                    && let Some(pt) = attribute_payload(value)
                    && !pt.is_some_and(|pt| keep.contains(&pt))
                {
                    continue;
                }
                out.push_str(line);
                out.push_str("\r\n");
            }
            _ => {
                out.push_str(line);
                out.push_str("\r\n");
            }
        }
    }
    if !anchored {
        return Err(SdpError);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const OFFER: &str = "v=0\r\no=user1 53655765 2353687637 IN IP4 10.1.2.3\r\ns=-\r\n\
c=IN IP4 10.1.2.3\r\nt=0 0\r\na=ice-ufrag:abcd\r\n\
m=audio 6000 RTP/AVP 0 8 18 101\r\n\
a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:18 G729/8000\r\na=fmtp:18 annexb=no\r\n\
a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=rtcp:6001\r\n\
a=candidate:1 1 UDP 2130706431 10.1.2.3 6000 typ host\r\na=ptime:20\r\na=sendrecv\r\n\
m=video 6002 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n";

    #[test]
    fn anchors_audio_at_the_hub_with_only_the_relayed_codecs() {
        let hub: IpAddr = "192.0.2.10".parse().expect("ip");
        let out = anchor(OFFER.as_bytes(), hub, 20_000, &[8, 101]).expect("rewrites");
        let lines: Vec<&str> = out.split("\r\n").collect();
        assert!(lines.contains(&"o=legatura 53655765 2353687637 IN IP4 192.0.2.10"));
        assert!(lines.contains(&"c=IN IP4 192.0.2.10"));
        assert!(lines.contains(&"m=audio 20000 RTP/AVP 8 101"));
        assert!(lines.contains(&"a=rtpmap:8 PCMA/8000"));
        assert!(lines.contains(&"a=fmtp:101 0-16"));
        assert!(lines.contains(&"a=ptime:20") && lines.contains(&"a=sendrecv"));
        assert!(
            lines.contains(&"m=video 0 RTP/AVP 96"),
            "other streams refused"
        );
        for gone in [
            "PCMU",
            "G729",
            "annexb",
            "a=rtcp:",
            "candidate",
            "ice-ufrag",
            "10.1.2.3",
        ] {
            assert!(!out.contains(gone), "{gone} should be gone:\n{out}");
        }
        let parsed = Sdp::parse(out.as_bytes()).expect("still SDP");
        assert_eq!(parsed.address, Some(hub));
        assert_eq!(parsed.media[0].port, 20_000);
        assert_eq!(parsed.media[0].formats, [8, 101]);
    }

    #[test]
    fn refuses_bodies_without_a_relayable_audio_stream() {
        let hub: IpAddr = "192.0.2.10".parse().expect("ip");
        assert!(anchor(OFFER.as_bytes(), hub, 20_000, &[9]).is_err());
        let video_only = "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\n\
m=video 5000 RTP/AVP 96\r\n";
        assert!(anchor(video_only.as_bytes(), hub, 20_000, &[8]).is_err());
        assert!(anchor(b"garbage", hub, 20_000, &[8]).is_err());
    }

    proptest! {
        #[test]
        fn never_panics(body in proptest::collection::vec(any::<u8>(), 0..400)) {
            let hub: IpAddr = "127.0.0.1".parse().expect("ip");
            let _ = anchor(&body, hub, 1, &[0, 8, 101]);
        }

        #[test]
        fn mutated_offers_never_panic(cut in 0usize..OFFER.len(), byte: u8) {
            let hub: IpAddr = "::1".parse().expect("ip");
            let mut body = OFFER.as_bytes().to_vec();
            body[cut] = byte;
            let _ = anchor(&body, hub, 1, &[0, 8, 101]);
            let _ = anchor(&OFFER.as_bytes()[..cut], hub, 1, &[8]);
        }
    }
}
