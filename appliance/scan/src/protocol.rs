//! clamd's wire protocol, without I/O: commands, stream framing and reply parsing.
//!
//! Commands are sent in the `z` form (`zINSTREAM\0`), so every reply ends in a NUL byte.
//! `INSTREAM` data follows as chunks, each a big-endian `u32` length and that many bytes, ended
//! by a zero-length chunk. clamd answers `stream: OK`, `stream: <signature> FOUND`, or
//! `<message> ERROR` (`INSTREAM size limit exceeded. ERROR` once the stream passes its
//! `StreamMaxLength`, after which it closes the connection).

use crate::ScanError;

/// `zINSTREAM\0`: scan the chunked stream that follows.
pub const INSTREAM: &[u8] = b"zINSTREAM\0";
/// `zPING\0`: clamd answers `PONG`.
pub const PING: &[u8] = b"zPING\0";
/// `zVERSION\0`: clamd answers e.g. `ClamAV 1.4.6/27500/…`.
pub const VERSION: &[u8] = b"zVERSION\0";
/// The chunk that ends an `INSTREAM` stream.
pub const END_OF_STREAM: [u8; 4] = [0; 4];

/// The longest reply read from clamd, terminator included. Real replies are well under 300
/// bytes; anything longer is not clamd.
pub const MAX_REPLY: usize = 4096;
/// The longest signature name accepted in a `FOUND` reply.
pub const MAX_SIGNATURE_NAME: usize = 512;

/// The result of a scan that completed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Verdict {
    /// No signature matched.
    Clean,
    /// A signature matched; its name as clamd reports it (e.g. `Eicar-Signature`, or
    /// `….UNOFFICIAL` for a signature from a local database).
    Infected(String),
}

impl Verdict {
    pub fn is_clean(&self) -> bool {
        matches!(self, Self::Clean)
    }
}

/// The header of one `INSTREAM` chunk of `len` bytes.
pub fn chunk_header(len: u32) -> [u8; 4] {
    len.to_be_bytes()
}

/// The text of a complete reply: without its NUL (or newline) terminator, as UTF-8.
pub fn reply_text(reply: &[u8]) -> Result<&str, ScanError> {
    let body = reply
        .strip_suffix(b"\0")
        .or_else(|| reply.strip_suffix(b"\n"))
        .unwrap_or(reply);
    std::str::from_utf8(body).map_err(|_| ScanError::Protocol("reply is not UTF-8".to_owned()))
}

/// Parses the reply to `INSTREAM`.
pub fn parse_scan_reply(reply: &[u8]) -> Result<Verdict, ScanError> {
    let text = reply_text(reply)?;
    if text == "stream: OK" {
        return Ok(Verdict::Clean);
    }
    if let Some(message) = text.strip_suffix(" ERROR") {
        let message = message.strip_prefix("stream: ").unwrap_or(message);
        if message.contains("size limit exceeded") {
            return Err(ScanError::SizeLimitExceeded { limit: None });
        }
        return Err(ScanError::Clamd(printable(message)));
    }
    if let Some(name) = text
        .strip_prefix("stream: ")
        .and_then(|rest| rest.strip_suffix(" FOUND"))
    {
        let valid = !name.is_empty()
            && name.len() <= MAX_SIGNATURE_NAME
            && name.chars().all(|c| c.is_ascii_graphic() || c == ' ');
        if valid {
            return Ok(Verdict::Infected(name.to_owned()));
        }
        return Err(ScanError::Protocol(format!(
            "malformed signature name in {:?}",
            printable(text)
        )));
    }
    Err(ScanError::Protocol(format!(
        "unexpected reply {:?}",
        printable(text)
    )))
}

/// `text` with control characters escaped and cut to 200 characters, fit for an error message.
pub(crate) fn printable(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(200)
        .flat_map(char::escape_default)
        .collect();
    if text.chars().count() > 200 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn replies_parse() {
        assert_eq!(parse_scan_reply(b"stream: OK\0").ok(), Some(Verdict::Clean));
        assert_eq!(parse_scan_reply(b"stream: OK\n").ok(), Some(Verdict::Clean));
        assert_eq!(
            parse_scan_reply(b"stream: Legatura.Test.EICAR.UNOFFICIAL FOUND\0").ok(),
            Some(Verdict::Infected("Legatura.Test.EICAR.UNOFFICIAL".into()))
        );
        assert!(matches!(
            parse_scan_reply(b"INSTREAM size limit exceeded. ERROR\0"),
            Err(ScanError::SizeLimitExceeded { limit: None })
        ));
        assert!(matches!(
            parse_scan_reply(b"stream: Can't allocate memory ERROR\0"),
            Err(ScanError::Clamd(m)) if m == "Can\\'t allocate memory"
        ));
    }

    #[test]
    fn malformed_replies_are_protocol_errors() {
        for reply in [
            &b""[..],
            b"\0",
            b"PONG\0",
            b"stream: FOUND\0",
            b"stream:  FOUND\0",
            b"stream: bad\x01name FOUND\0",
            b"stream: OK\0\0",
            b"UNKNOWN COMMAND\0",
            b"COMMAND READ TIMED OUT\0",
            b"stream: \xff FOUND\0",
        ] {
            assert!(
                matches!(parse_scan_reply(reply), Err(ScanError::Protocol(_))),
                "{reply:?}: {:?}",
                parse_scan_reply(reply)
            );
        }
        let long = format!("stream: {} FOUND\0", "A".repeat(MAX_SIGNATURE_NAME + 1));
        assert!(matches!(
            parse_scan_reply(long.as_bytes()),
            Err(ScanError::Protocol(_))
        ));
    }

    #[test]
    fn error_messages_escape_what_clamd_sent() {
        let message = parse_scan_reply(b"\x1b[31mhello\0")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(!message.contains('\x1b'), "{message:?}");
        assert!(printable(&"x".repeat(500)).chars().count() <= 201);
    }

    #[test]
    fn chunk_headers_are_big_endian() {
        assert_eq!(chunk_header(1), [0, 0, 0, 1]);
        assert_eq!(chunk_header(0x0102_0304), [1, 2, 3, 4]);
        assert_eq!(chunk_header(0), END_OF_STREAM);
    }

    proptest! {
        #[test]
        fn parse_never_panics(reply in prop::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse_scan_reply(&reply);
        }

        #[test]
        fn signature_names_round_trip(name in "[A-Za-z0-9._-][A-Za-z0-9._ -]{0,60}[A-Za-z0-9._-]") {
            let reply = format!("stream: {name} FOUND\0");
            prop_assert_eq!(parse_scan_reply(reply.as_bytes()).ok(), Some(Verdict::Infected(name)));
        }
    }
}
