//! RTP and RTCP headers: parsed by `rtp-types` (bounded, zero-copy) behind our own small
//! types, and written into a caller's buffer so the relay and the player never allocate per
//! packet.

use rtp_types::{RtpPacket, RtpPacketBuilder};

/// The fields of an RTP header the media engine uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub payload_type: u8,
    pub marker: bool,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
}

/// Why bytes are not an RTP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    #[error("RTP packet truncated")]
    Truncated,
    #[error("not RTP version 2")]
    Version,
    #[error("invalid RTP padding")]
    Padding,
    #[error("buffer too small for the RTP packet")]
    BufferTooSmall,
}

/// A parsed packet: its header and where its payload is (padding excluded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    pub header: Header,
    pub payload: &'a [u8],
}

/// Parses an RTP packet. Never panics; any length is accepted as input.
pub fn parse(bytes: &[u8]) -> Result<Packet<'_>, RtpError> {
    let packet = RtpPacket::parse(bytes).map_err(|e| match e {
        rtp_types::RtpParseError::UnsupportedVersion(_) => RtpError::Version,
        rtp_types::RtpParseError::PaddingInvalid(_) => RtpError::Padding,
        rtp_types::RtpParseError::Truncated { .. } => RtpError::Truncated,
    })?;
    // rtp-types checks that the padding fits after the header; a packet whose padding eats
    // into the extension or CSRCs is still refused here rather than sliced.
    let start = packet.payload_offset();
    let padding = usize::from(packet.padding().unwrap_or(0));
    let end = bytes
        .len()
        .checked_sub(padding)
        .filter(|end| *end >= start)
        .ok_or(RtpError::Padding)?;
    Ok(Packet {
        header: Header {
            payload_type: packet.payload_type(),
            marker: packet.marker_bit(),
            sequence: packet.sequence_number(),
            timestamp: packet.timestamp(),
            ssrc: packet.ssrc(),
        },
        payload: bytes.get(start..end).ok_or(RtpError::Truncated)?,
    })
}

/// Writes a packet with `header` and `payload` (no CSRCs, extension or padding) into `buf`;
/// returns its length.
pub fn write(buf: &mut [u8], header: &Header, payload: &[u8]) -> Result<usize, RtpError> {
    if header.payload_type > 127 {
        return Err(RtpError::Version);
    }
    RtpPacketBuilder::<&[u8], &[u8]>::new()
        .payload_type(header.payload_type)
        .marker_bit(header.marker)
        .sequence_number(header.sequence)
        .timestamp(header.timestamp)
        .ssrc(header.ssrc)
        .payload(payload)
        .write_into(buf)
        .map_err(|_| RtpError::BufferTooSmall)
}

/// Whether `bytes` look like an RTCP compound packet (RFC 3550 §6.4, RFC 5761 §4): version 2,
/// a packet type 192–223 and a first length that fits. Only used to latch the RTCP port to a
/// real peer; the relay forwards RTCP unchanged.
pub fn is_rtcp(bytes: &[u8]) -> bool {
    let [first, kind, hi, lo, ..] = *bytes else {
        return false;
    };
    let words = usize::from(u16::from_be_bytes([hi, lo]));
    first >> 6 == 2 && (192..=223).contains(&kind) && (words + 1) * 4 <= bytes.len()
}

#[cfg(test)]
mod tests;
