//! Opening an existing log: repairing a torn last line and reading the tail back to continue
//! the chain, without reading the whole file.

use std::fs::File;
use std::io::{self, Write as _};
use std::os::unix::fs::FileExt as _;

use crate::entry::{self, Entry, GENESIS};
use crate::{Fault, KIND_CHECKPOINT, MAX_LINE};

#[cfg(test)]
mod tests;

/// How far back the tail reader reads at a time.
const CHUNK: u64 = 16 * 1024;

/// Why the tail could not be read or repaired.
#[derive(Debug)]
pub(crate) enum TailError {
    Io(io::Error),
    Broken { seq: Option<u64>, fault: Fault },
}

impl From<io::Error> for TailError {
    fn from(error: io::Error) -> Self {
        Self::Io(error)
    }
}

/// What was done to a torn last line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Repair {
    /// It was a complete, valid entry missing only its `\n`, which was added.
    Completed { seq: u64 },
    /// It was not a valid entry and was cut off at `offset`.
    Truncated {
        offset: u64,
        bytes: u64,
        sha256: String,
    },
}

/// The end of the chain, as [`read_tail`] found it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Tail {
    pub(crate) next_seq: u64,
    /// SHA-256 of the last line; [`GENESIS`] for an empty log.
    pub(crate) prev_line: [u8; 32],
    /// `hash` of the last entry.
    pub(crate) head: Option<String>,
    pub(crate) last_is_checkpoint: bool,
    /// Entries after the last checkpoint, counted back no further than `every`.
    pub(crate) since_checkpoint: u64,
}

/// If the file of length `len` does not end in `\n`, completes or cuts off its last line.
/// A crash can tear at most one line, which is at most [`MAX_LINE`] bytes, and it was never
/// acknowledged; anything longer is not crash damage and is left alone. Returns the new length.
pub(crate) fn repair_torn(file: &File, len: u64) -> Result<(u64, Option<Repair>), TailError> {
    let window = len.min(MAX_LINE as u64 + 1);
    // `window` is at most `MAX_LINE + 1`, so it fits in memory and in a usize.
    let mut buf = vec![0; window as usize];
    file.read_exact_at(&mut buf, len - window)?;
    if buf.last().is_none_or(|&b| b == b'\n') {
        return Ok((len, None));
    }
    let start_in_buf = match buf.iter().rposition(|&b| b == b'\n') {
        Some(at) => at + 1,
        None if window == len => 0,
        None => {
            return Err(TailError::Broken {
                seq: None,
                fault: Fault::TooLong,
            });
        }
    };
    let torn = &buf[start_in_buf..];
    let start = len - (torn.len() as u64);
    let before = match RevLines::new(file, start).next_line()? {
        None => None,
        Some(line) => {
            let prev = Entry::decode(&line).map_err(|fault| broken(&line, fault))?;
            Some((prev.seq, entry::sha256(&line)))
        }
    };
    let complete = Entry::decode(torn).ok().filter(|torn| {
        entry::link(torn, before.as_ref().map(|(seq, digest)| (*seq, digest))).is_ok()
    });
    if let Some(torn) = complete {
        let mut writer = file;
        writer.write_all(b"\n")?;
        file.sync_data()?;
        return Ok((len + 1, Some(Repair::Completed { seq: torn.seq })));
    }
    let repair = Repair::Truncated {
        offset: start,
        bytes: torn.len() as u64,
        sha256: entry::hex(&entry::sha256(torn)),
    };
    file.set_len(start)?;
    file.sync_data()?;
    Ok((start, Some(repair)))
}

/// Reads the end of a log of length `len` that ends in `\n`: checks the last entry and its link
/// to the one before, and counts back (at most `every` entries) to the last checkpoint, checking
/// each link on the way.
pub(crate) fn read_tail(file: &File, len: u64, every: u64) -> Result<Tail, TailError> {
    let mut lines = RevLines::new(file, len);
    let Some(last_line) = lines.next_line()? else {
        return Ok(Tail {
            next_seq: 1,
            prev_line: GENESIS,
            head: None,
            last_is_checkpoint: false,
            since_checkpoint: 0,
        });
    };
    let last = Entry::decode(&last_line).map_err(|fault| broken(&last_line, fault))?;
    let next_seq = last.seq.checked_add(1).ok_or_else(|| TailError::Broken {
        seq: Some(last.seq),
        fault: Fault::Malformed("`seq` overflows".to_owned()),
    })?;
    let mut tail = Tail {
        next_seq,
        prev_line: entry::sha256(&last_line),
        head: Some(last.hash.clone()),
        last_is_checkpoint: last.kind == KIND_CHECKPOINT,
        since_checkpoint: 0,
    };
    let mut current = last;
    let mut linked_last = false;
    loop {
        let found = current.kind == KIND_CHECKPOINT;
        if !found {
            tail.since_checkpoint += 1;
        }
        let more = !found && tail.since_checkpoint < every;
        if linked_last && !more {
            return Ok(tail);
        }
        let before = match lines.next_line()? {
            None => None,
            Some(line) => {
                let prev = Entry::decode(&line).map_err(|fault| broken(&line, fault))?;
                Some((prev, entry::sha256(&line)))
            }
        };
        entry::link(
            &current,
            before.as_ref().map(|(prev, digest)| (prev.seq, digest)),
        )
        .map_err(|fault| TailError::Broken {
            seq: Some(current.seq),
            fault,
        })?;
        linked_last = true;
        match before {
            Some((prev, _)) if more => current = prev,
            _ => return Ok(tail),
        }
    }
}

fn broken(line: &[u8], fault: Fault) -> TailError {
    TailError::Broken {
        seq: entry::seq_hint(line),
        fault,
    }
}

/// The lines of `file[..end]`, last first, each without its `\n`. `end` must be 0 or follow a
/// `\n`. Holds at most one line plus one chunk in memory.
#[derive(Debug)]
pub(crate) struct RevLines<'a> {
    file: &'a File,
    /// Start of the bytes held in `buf`.
    pos: u64,
    buf: Vec<u8>,
    done: bool,
}

impl<'a> RevLines<'a> {
    pub(crate) fn new(file: &'a File, end: u64) -> Self {
        // The final `\n` terminates the last line; it does not start an empty one after it.
        Self {
            file,
            pos: end.saturating_sub(1),
            buf: Vec::new(),
            done: end == 0,
        }
    }

    pub(crate) fn next_line(&mut self) -> Result<Option<Vec<u8>>, TailError> {
        loop {
            if self.done {
                return Ok(None);
            }
            if let Some(at) = self.buf.iter().rposition(|&b| b == b'\n') {
                let line = self.buf.split_off(at + 1);
                self.buf.truncate(at);
                return bounded(line);
            }
            if self.buf.len() > MAX_LINE {
                return Err(TailError::Broken {
                    seq: None,
                    fault: Fault::TooLong,
                });
            }
            if self.pos == 0 {
                self.done = true;
                return bounded(std::mem::take(&mut self.buf));
            }
            let take = self.pos.min(CHUNK);
            let mut chunk = vec![0; take as usize]; // At most `CHUNK`.
            self.pos -= take;
            self.file.read_exact_at(&mut chunk, self.pos)?;
            chunk.extend_from_slice(&self.buf);
            self.buf = chunk;
        }
    }
}

fn bounded(line: Vec<u8>) -> Result<Option<Vec<u8>>, TailError> {
    if line.len() > MAX_LINE {
        return Err(broken(&line, Fault::TooLong));
    }
    Ok(Some(line))
}
