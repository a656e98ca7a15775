//! The verifier: streams a log line by line and names the first entry that breaks it.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::entry::{self, CheckpointDetail, Entry};
use crate::{KIND_CHECKPOINT, MAX_LINE};

#[cfg(test)]
mod tests;

/// What is wrong with an entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    #[error("line is longer than {MAX_LINE} bytes")]
    TooLong,
    #[error("malformed entry: {0}")]
    Malformed(String),
    /// The last line has no `\n`: the file was cut, or a write was torn and not yet recovered.
    #[error("last line is incomplete")]
    Truncated,
    /// The entry's `hash` is not the hash of its canonical bytes: the entry was changed.
    #[error("hash does not match the entry")]
    HashMismatch,
    /// `prev` is not the hash of the line before: a line was changed, removed or inserted.
    #[error("`prev` does not match the line before")]
    BrokenLink,
    /// Entries missing, duplicated or reordered.
    #[error("expected seq {expected}, found {found}")]
    SeqGap { expected: u64, found: u64 },
    /// A checkpoint's `upto`/`head` is not the entry just before it.
    #[error("checkpoint does not cover the entry before it")]
    CheckpointMismatch,
    #[error("checkpoint is signed by an untrusted key")]
    UntrustedKey,
    #[error("checkpoint signature does not verify")]
    BadCheckpointSignature,
}

/// Why a log did not verify.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("cannot read audit log {path}")]
    Io { path: PathBuf, source: io::Error },
    /// The first broken entry: its 1-based line number, the `seq` it claims if that could be
    /// read, and what is wrong.
    #[error("audit log broken at line {line} (seq {}): {fault}", seq_text(*.seq))]
    Broken {
        line: u64,
        seq: Option<u64>,
        fault: Fault,
    },
}

fn seq_text(seq: Option<u64>) -> String {
    seq.map_or_else(|| "unknown".to_owned(), |seq| seq.to_string())
}

/// What a verified log contains.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Entries, checkpoints included.
    pub entries: u64,
    pub checkpoints: u64,
    /// `seq` of the last entry; 0 for an empty log.
    pub last_seq: u64,
    pub last_checkpoint: Option<CheckpointInfo>,
    /// Entries after the last checkpoint (all of them if there is none): not yet covered by a
    /// signature, so they could have been rewritten or dropped by whoever can write the file.
    pub after_last_checkpoint: u64,
}

/// A verified checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointInfo {
    /// `seq` of the checkpoint entry.
    pub seq: u64,
    /// The last entry it covers (the one just before it).
    pub upto: u64,
    /// The trusted key that signed it.
    pub key: Vec<u8>,
}

/// Verifies the log at `path`: every entry's hash, the `prev` links, `seq` continuity, and every
/// checkpoint's head and signature by one of `trusted_keys` (uncompressed P-256 points).
/// Reads the file as a stream, one bounded line at a time.
pub fn verify(path: impl AsRef<Path>, trusted_keys: &[Vec<u8>]) -> Result<Report, VerifyError> {
    let path = path.as_ref();
    let io_error = |source| VerifyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io_error)?;
    verify_reader(BufReader::new(file), trusted_keys).map_err(|e| match e {
        ReadError::Io(source) => io_error(source),
        ReadError::Broken { line, seq, fault } => VerifyError::Broken { line, seq, fault },
    })
}

#[derive(Debug)]
enum ReadError {
    Io(io::Error),
    Broken {
        line: u64,
        seq: Option<u64>,
        fault: Fault,
    },
}

fn verify_reader(mut reader: impl BufRead, trusted_keys: &[Vec<u8>]) -> Result<Report, ReadError> {
    let mut report = Report::default();
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    // (seq, SHA-256 of the line, hash of the entry) of the previous line.
    let mut prev: Option<(u64, [u8; 32], String)> = None;
    loop {
        let read = read_line(&mut reader, &mut buf, MAX_LINE).map_err(ReadError::Io)?;
        line_no += 1;
        let broken = |seq, fault| ReadError::Broken {
            line: line_no,
            seq,
            fault,
        };
        match read {
            Line::Eof => return Ok(report),
            Line::TooLong => return Err(broken(entry::seq_hint(&buf), Fault::TooLong)),
            Line::Partial => return Err(broken(entry::seq_hint(&buf), Fault::Truncated)),
            Line::Complete => {}
        }
        let entry = Entry::decode(&buf).map_err(|fault| broken(entry::seq_hint(&buf), fault))?;
        let seq = Some(entry.seq);
        entry::link(&entry, prev.as_ref().map(|(seq, digest, _)| (*seq, digest)))
            .map_err(|fault| broken(seq, fault))?;
        report.entries += 1;
        report.last_seq = entry.seq;
        if entry.kind == KIND_CHECKPOINT {
            let head = prev.as_ref().map(|(_, _, hash)| hash.as_str());
            let info =
                check_checkpoint(&entry, head, trusted_keys).map_err(|fault| broken(seq, fault))?;
            report.checkpoints += 1;
            report.last_checkpoint = Some(info);
            report.after_last_checkpoint = 0;
        } else {
            report.after_last_checkpoint += 1;
        }
        prev = Some((entry.seq, entry::sha256(&buf), entry.hash));
    }
}

/// Checks a checkpoint entry, given the `hash` of the entry before it.
fn check_checkpoint(
    entry: &Entry,
    head: Option<&str>,
    trusted_keys: &[Vec<u8>],
) -> Result<CheckpointInfo, Fault> {
    let detail: CheckpointDetail = serde_json::from_value(Value::Object(entry.detail.clone()))
        .map_err(|e| Fault::Malformed(format!("checkpoint detail: {e}")))?;
    if Some(detail.upto) != entry.seq.checked_sub(1) || Some(detail.head.as_str()) != head {
        return Err(Fault::CheckpointMismatch);
    }
    let key = entry::unhex(&detail.key)
        .ok_or_else(|| Fault::Malformed("checkpoint key is not hex".to_owned()))?;
    if !trusted_keys.contains(&key) {
        return Err(Fault::UntrustedKey);
    }
    let sig = entry::unhex(&detail.sig)
        .ok_or_else(|| Fault::Malformed("checkpoint sig is not hex".to_owned()))?;
    if !keys::verify(
        &key,
        &entry::checkpoint_message(detail.upto, &detail.head),
        &sig,
    ) {
        return Err(Fault::BadCheckpointSignature);
    }
    Ok(CheckpointInfo {
        seq: entry.seq,
        upto: detail.upto,
        key,
    })
}

/// What [`read_line`] found.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    /// A line ending in `\n`, now in the buffer without it.
    Complete,
    /// Bytes at the end of the input with no `\n` after them.
    Partial,
    /// More than the limit before a `\n`; the buffer holds the first bytes only.
    TooLong,
    Eof,
}

/// Reads one line into `buf` (cleared first), holding at most `max` bytes of it in memory.
fn read_line(reader: &mut impl BufRead, buf: &mut Vec<u8>, max: usize) -> io::Result<Line> {
    buf.clear();
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(if buf.is_empty() {
                Line::Eof
            } else {
                Line::Partial
            });
        }
        let (take, newline) = match available.iter().position(|&b| b == b'\n') {
            Some(at) => (at, true),
            None => (available.len(), false),
        };
        if buf.len() + take > max {
            let room = max - buf.len();
            buf.extend_from_slice(&available[..room]);
            return Ok(Line::TooLong);
        }
        buf.extend_from_slice(&available[..take]);
        reader.consume(take + usize::from(newline));
        if newline {
            return Ok(Line::Complete);
        }
    }
}
