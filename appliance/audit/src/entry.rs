//! One line of the log: its canonical bytes, its hash, and the link to the line before it.

use ring::digest::{Context, SHA256, digest};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::{CHECKPOINT_DOMAIN, Fault, MAX_LINE};

#[cfg(test)]
mod tests;

/// `prev` of the first entry.
pub(crate) const GENESIS: [u8; 32] = [0; 32];

/// What precedes the hash in the last member of every line.
const HASH_MEMBER: &[u8] = b",\"hash\":\"";

/// `,"hash":"` + 64 hex digits + `"}`.
const HASH_SUFFIX_LEN: usize = HASH_MEMBER.len() + 64 + 2;

/// One entry of the log, as read back from a line whose hash has been checked.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub seq: u64,
    /// RFC 3339, UTC.
    pub time: String,
    pub kind: String,
    pub actor: String,
    pub subject: String,
    pub outcome: String,
    pub detail: Map<String, Value>,
    /// Hex SHA-256 of the previous line.
    pub prev: String,
    /// Hex SHA-256 of this entry's canonical bytes.
    pub hash: String,
}

impl Entry {
    /// Decodes one line (without its `\n`), checking its hash against its canonical bytes and
    /// the form of every member. Does not look at other lines; the verifier checks the links.
    pub fn decode(line: &[u8]) -> Result<Entry, Fault> {
        if line.len() > MAX_LINE {
            return Err(Fault::TooLong);
        }
        if !line.starts_with(b"{") {
            return Err(malformed("not a JSON object"));
        }
        let split = line
            .len()
            .checked_sub(HASH_SUFFIX_LEN)
            .ok_or_else(|| malformed("too short"))?;
        let (front, suffix) = line.split_at(split);
        let claimed = suffix
            .strip_prefix(HASH_MEMBER)
            .and_then(|rest| rest.strip_suffix(b"\"}"))
            .filter(|hash| is_hex(hash))
            .ok_or_else(|| malformed("does not end with the `hash` member"))?;
        let mut canonical = Context::new(&SHA256);
        canonical.update(front);
        canonical.update(b"}");
        if hex(canonical.finish().as_ref()).as_bytes() != claimed {
            return Err(Fault::HashMismatch);
        }
        let entry: Entry =
            serde_json::from_slice(line).map_err(|e| Fault::Malformed(e.to_string()))?;
        if entry.hash.as_bytes() != claimed {
            return Err(malformed("`hash` member is ambiguous"));
        }
        if entry.seq == 0 {
            return Err(malformed("`seq` starts at 1"));
        }
        if !is_hex(entry.prev.as_bytes()) {
            return Err(malformed("`prev` is not 64 lowercase hex digits"));
        }
        let utc = OffsetDateTime::parse(&entry.time, &Rfc3339).is_ok_and(|t| t.offset().is_utc());
        if !utc {
            return Err(malformed("`time` is not RFC 3339 in UTC"));
        }
        Ok(entry)
    }
}

/// Checks that `entry` follows the line `prev` = (its `seq`, SHA-256 of its bytes), or starts
/// the log when `prev` is `None`.
pub(crate) fn link(entry: &Entry, prev: Option<(u64, &[u8; 32])>) -> Result<(), Fault> {
    let (expected, digest) = match prev {
        None => (1, &GENESIS),
        Some((seq, digest)) => {
            let next = seq
                .checked_add(1)
                .ok_or_else(|| malformed("`seq` overflows"))?;
            (next, digest)
        }
    };
    if entry.seq != expected {
        return Err(Fault::SeqGap {
            expected,
            found: entry.seq,
        });
    }
    if entry.prev != hex(digest) {
        return Err(Fault::BrokenLink);
    }
    Ok(())
}

/// The members of an entry that its hash covers, in line order.
#[derive(Debug, Serialize)]
pub(crate) struct Body<'a> {
    pub(crate) seq: u64,
    pub(crate) time: &'a str,
    pub(crate) kind: &'a str,
    pub(crate) actor: &'a str,
    pub(crate) subject: &'a str,
    pub(crate) outcome: &'a str,
    pub(crate) detail: &'a Map<String, Value>,
    pub(crate) prev: &'a str,
}

/// A line ready to be written.
#[derive(Debug)]
pub(crate) struct Encoded {
    /// The line, ending in `\n`.
    pub(crate) line: Vec<u8>,
    /// The entry's `hash`.
    pub(crate) hash: String,
    /// SHA-256 of the line without `\n`: the next entry's `prev`.
    pub(crate) digest: [u8; 32],
}

impl Body<'_> {
    pub(crate) fn encode(&self) -> Result<Encoded, serde_json::Error> {
        let mut line = serde_json::to_vec(self)?;
        let hash = hex(digest(&SHA256, &line).as_ref());
        if line.pop() != Some(b'}') {
            return Err(<serde_json::Error as serde::ser::Error>::custom(
                "entry is not an object",
            ));
        }
        line.extend_from_slice(HASH_MEMBER);
        line.extend_from_slice(hash.as_bytes());
        line.extend_from_slice(b"\"}");
        let digest = sha256(&line);
        line.push(b'\n');
        Ok(Encoded { line, hash, digest })
    }
}

/// The message a checkpoint signs: `legatura-audit-checkpoint-v1\n<upto>\n<head>`.
pub fn checkpoint_message(upto: u64, head: &str) -> Vec<u8> {
    format!("{CHECKPOINT_DOMAIN}\n{upto}\n{head}").into_bytes()
}

/// The `detail` of a checkpoint entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CheckpointDetail {
    pub(crate) upto: u64,
    pub(crate) head: String,
    pub(crate) key: String,
    pub(crate) sig: String,
}

/// The `seq` a damaged line claims, read from its first member without parsing the rest.
pub(crate) fn seq_hint(line: &[u8]) -> Option<u64> {
    let rest = line.strip_prefix(b"{\"seq\":")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()
}

pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0; 32];
    out.copy_from_slice(digest(&SHA256, bytes).as_ref());
    out
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// Parses lowercase hex; `None` for anything else, including uppercase digits.
pub(crate) fn unhex(text: &str) -> Option<Vec<u8>> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

/// 64 lowercase hex digits, the form of every hash in the log.
fn is_hex(text: &[u8]) -> bool {
    text.len() == 64 && text.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn malformed(why: &str) -> Fault {
    Fault::Malformed(why.to_owned())
}
