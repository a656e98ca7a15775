//! Session descriptions, read through ezk-sdp-types into a summary the bridge can reason
//! about, and [`anchor`]: the rewrite that makes media flow through the hub's relay.

use std::net::IpAddr;

use ezk_sdp_types::{SessionDescription, TaggedAddress};

mod anchor;
pub use anchor::anchor;

/// One `m=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    /// `audio`, `video`, …
    pub kind: String,
    pub port: u16,
    /// RTP payload types offered, in preference order.
    pub formats: Vec<u8>,
    /// `a=rtpmap` encoding names by payload type (`PCMA`, `telephone-event`).
    pub encodings: Vec<(u8, String)>,
    /// The media-level `c=` address, if any.
    pub address: Option<IpAddr>,
}

/// What the bridge needs of an SDP body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sdp {
    /// The session-level `c=` address, if it is an IP literal.
    pub address: Option<IpAddr>,
    pub media: Vec<Media>,
}

/// Why a body is not a session description.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed SDP")]
pub struct SdpError;

fn ip(address: &TaggedAddress) -> Option<IpAddr> {
    match address {
        TaggedAddress::IP4(ip) => Some(IpAddr::V4(*ip)),
        TaggedAddress::IP6(ip) => Some(IpAddr::V6(*ip)),
        TaggedAddress::IP4FQDN(_) | TaggedAddress::IP6FQDN(_) => None,
    }
}

impl Sdp {
    pub fn parse(body: &[u8]) -> Result<Sdp, SdpError> {
        let text = std::str::from_utf8(body).map_err(|_| SdpError)?;
        // The parser slices by byte offsets in places; SDP is ASCII in practice (RFC 8866
        // allows UTF-8 only in free-text fields we do not read).
        if !text.is_ascii() {
            return Err(SdpError);
        }
        let parsed = SessionDescription::parse(&text.into()).map_err(|_| SdpError)?;
        let media = parsed
            .media_descriptions
            .iter()
            .map(|m| Media {
                kind: m.media.media_type.to_string(),
                port: m.media.port,
                formats: m.media.fmts.clone(),
                encodings: m
                    .rtpmap
                    .iter()
                    .map(|r| (r.payload, r.encoding.to_string()))
                    .collect(),
                address: m.connection.as_ref().and_then(|c| ip(&c.address)),
            })
            .collect();
        Ok(Sdp {
            address: parsed.connection.as_ref().and_then(|c| ip(&c.address)),
            media,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sipp_offer() {
        let body = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\n\
c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 8 101\r\n\
a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-11,16\r\n";
        let sdp = Sdp::parse(body.as_bytes()).expect("parses");
        assert_eq!(sdp.address, Some("127.0.0.1".parse().expect("ip")));
        assert_eq!(sdp.media.len(), 1);
        assert_eq!(sdp.media[0].kind, "audio");
        assert_eq!(sdp.media[0].port, 6000);
        assert_eq!(sdp.media[0].formats, [8, 101]);
        assert_eq!(
            sdp.media[0].encodings[1],
            (101, "telephone-event".to_owned())
        );
        assert!(Sdp::parse(b"not sdp at all").is_err());
    }
}
