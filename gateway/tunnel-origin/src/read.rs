//! Reading the hub's header at an upstream: exactly the header, bounded, strict.

use std::io;
use std::net::{IpAddr, SocketAddr};

use ppp::v2::{Addresses, Header, PROTOCOL_PREFIX, Protocol};
use tokio::io::{AsyncRead, AsyncReadExt};
use tunnel_proto::ApplianceId;

use crate::{MAX_HEADER_LEN, Origin, TLV_APPLIANCE};

/// Signature, version and command, family and transport, length.
const FIXED_LEN: usize = 16;

/// Why a connection's PROXY header was refused.
#[derive(Debug, thiserror::Error)]
pub enum OriginError {
    #[error("the connection ended inside the PROXY header")]
    Truncated,
    #[error("reading the PROXY header failed")]
    Io(#[source] io::Error),
    #[error("a PROXY protocol v1 text header; only v2 is accepted")]
    V1,
    #[error("no PROXY protocol v2 signature")]
    NotProxy,
    #[error("PROXY protocol version {0}; only 2 is accepted")]
    Version(u8),
    #[error("a LOCAL header names no origin")]
    Local,
    #[error("unknown PROXY command {0:#x}")]
    Command(u8),
    #[error("a PROXY header of {0} bytes is longer than the {MAX_HEADER_LEN} accepted")]
    TooLong(usize),
    #[error("malformed PROXY header: {0}")]
    Malformed(String),
    #[error("the PROXY header is not for a TCP connection")]
    NotTcp,
    #[error("the PROXY header carries no IPv4 or IPv6 addresses")]
    NoAddresses,
    #[error("a TLV of the PROXY header overruns it")]
    MalformedTlv,
    #[error("the PROXY header has no appliance TLV")]
    MissingAppliance,
    #[error("the PROXY header has more than one appliance TLV")]
    DuplicateAppliance,
    #[error("the appliance TLV {0:?} is not a valid mission/appliance")]
    InvalidAppliance(String),
}

/// Reads one PROXY protocol v2 header from the start of `stream` and returns the origin it
/// vouches for. Reads the 16-byte fixed part, then exactly the length it announces (at most
/// [`MAX_HEADER_LEN`] in all), so the first byte after the header is still in the stream.
///
/// Bring your own timeout: a peer that stops mid-header leaves this waiting.
pub async fn read_origin<S: AsyncRead + Unpin>(stream: &mut S) -> Result<Origin, OriginError> {
    let mut buf = [0u8; MAX_HEADER_LEN];
    read_exact(stream, &mut buf[..FIXED_LEN]).await?;
    let fixed = &buf[..FIXED_LEN];
    if !fixed.starts_with(PROTOCOL_PREFIX) {
        return Err(if fixed.starts_with(b"PROXY ") {
            OriginError::V1
        } else {
            OriginError::NotProxy
        });
    }
    let version_command = fixed[PROTOCOL_PREFIX.len()];
    match version_command >> 4 {
        2 => {}
        other => return Err(OriginError::Version(other)),
    }
    match version_command & 0x0F {
        0x1 => {}
        0x0 => return Err(OriginError::Local),
        other => return Err(OriginError::Command(other)),
    }
    let total = FIXED_LEN + usize::from(u16::from_be_bytes([fixed[14], fixed[15]]));
    if total > MAX_HEADER_LEN {
        return Err(OriginError::TooLong(total));
    }
    read_exact(stream, &mut buf[FIXED_LEN..total]).await?;
    parse(&buf[..total])
}

async fn read_exact<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut [u8],
) -> Result<(), OriginError> {
    match stream.read_exact(buf).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(OriginError::Truncated),
        Err(e) => Err(OriginError::Io(e)),
    }
}

/// A complete header, its signature, version, command and length already checked.
fn parse(bytes: &[u8]) -> Result<Origin, OriginError> {
    let header = Header::try_from(bytes).map_err(|e| OriginError::Malformed(e.to_string()))?;
    if header.protocol != Protocol::Stream {
        return Err(OriginError::NotTcp);
    }
    let peer = match header.addresses {
        Addresses::IPv4(a) => SocketAddr::new(IpAddr::V4(a.source_address), a.source_port),
        // A gateway seen on a dual-stack socket, or mapped by `encode` for mixed families.
        Addresses::IPv6(a) => {
            SocketAddr::new(IpAddr::V6(a.source_address).to_canonical(), a.source_port)
        }
        Addresses::Unspecified | Addresses::Unix(_) => return Err(OriginError::NoAddresses),
    };
    let mut identity = None;
    for tlv in header.tlvs() {
        let tlv = tlv.map_err(|_| OriginError::MalformedTlv)?;
        // Other TLVs (NOOP padding, CRC32C, …) are allowed and ignored, as the spec asks.
        if tlv.kind != TLV_APPLIANCE {
            continue;
        }
        if identity.is_some() {
            return Err(OriginError::DuplicateAppliance);
        }
        identity = Some(parse_identity(&tlv.value)?);
    }
    let appliance = identity.ok_or(OriginError::MissingAppliance)?;
    Ok(Origin { appliance, peer })
}

fn parse_identity(value: &[u8]) -> Result<ApplianceId, OriginError> {
    let invalid = || OriginError::InvalidAppliance(String::from_utf8_lossy(value).into_owned());
    let text = std::str::from_utf8(value).map_err(|_| invalid())?;
    let (mission, appliance) = text.split_once('/').ok_or_else(invalid)?;
    ApplianceId::new(mission, appliance).map_err(|_| invalid())
}

#[cfg(test)]
mod tests;
