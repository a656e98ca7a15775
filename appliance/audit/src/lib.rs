//! The hub's audit log: an append-only, hash-chained file of security events (enrolment
//! attempts, issued and renewed certificates, revocations, operator actions, refused key uses),
//! with periodic checkpoints signed by the audit-checkpoint key, and a streaming verifier that
//! names the first broken entry.
//!
//! Invariants: an event is acknowledged ([`AuditLog::append`] returns) only after its whole line
//! is written with one `write_all` and `sync_data`, so an acknowledged event survives a crash;
//! every entry commits to the exact bytes of the line before it, so changing, removing, inserting
//! or reordering a line breaks the chain at that line; a checkpoint signs the head of the chain,
//! so rewriting the chain from some point onward is caught at the next checkpoint; a signing
//! failure never loses an event (the checkpoint is retried later); the log is never appended to
//! after a tail it cannot verify.
//!
//! # Format
//!
//! A log is a file of lines, each ending in `\n` and at most [`MAX_LINE`] bytes long without it.
//! Each line is one entry, a JSON object whose members appear in exactly this order:
//!
//! ```text
//! {"seq":1,"time":"2025-03-01T09:30:00.123456789Z","kind":"cert.issued","actor":"pki",
//!  "subject":"ro-paris-01","outcome":"ok","detail":{…},"prev":"<64 hex>","hash":"<64 hex>"}
//! ```
//!
//! - `seq` counts from 1 with no gaps; `time` is RFC 3339 in UTC; `detail` is a JSON object.
//! - **Canonical bytes** of an entry: its line (without `\n`) with the final member
//!   `,"hash":"<64 hex>"}` replaced by `}`. The writer produces them as serde_json's compact
//!   serialisation of the members above minus `hash`, in that order, with no whitespace.
//! - `hash` = lowercase hex SHA-256 of the canonical bytes.
//! - `prev` = lowercase hex SHA-256 of the previous line's bytes (without `\n`); 64 zeros for
//!   `seq` 1.
//!
//! The verifier hashes the bytes as they stand in the file and never re-serialises, so the hash
//! does not depend on how a JSON library formats numbers or escapes. A line whose JSON has
//! unknown or duplicate members, or does not end in the `hash` member, is malformed.
//!
//! A **checkpoint** is an entry of kind `checkpoint` whose `detail` is
//! `{"head":…,"key":…,"sig":…,"upto":…}`: `upto` is the previous entry's `seq`, `head` its
//! `hash`, `key` the hex of the 65-byte uncompressed P-256 public key, and `sig` the hex DER
//! ECDSA-P256-SHA256 signature over [`checkpoint_message`]`(upto, head)`, i.e.
//! `legatura-audit-checkpoint-v1\n<upto in decimal>\n<head>`. Checkpoints are written every
//! `every` entries and on demand; when the key cannot sign, one `checkpoint.pending` entry
//! records why, and the checkpoint is retried on every later call until it succeeds. Entries
//! after the last checkpoint are not covered by any signature: whoever can write the file can
//! rewrite or drop them undetected, which [`Report::after_last_checkpoint`] makes visible.

mod entry;
mod log;
mod recover;
mod verify;

pub use entry::{Entry, checkpoint_message};
pub use log::{AppendError, AuditLog, CheckpointError, Event, OpenError};
pub use verify::{CheckpointInfo, Fault, Report, VerifyError, verify};

/// The longest line, without its `\n`, that the log writes or the verifier reads.
pub const MAX_LINE: usize = 64 * 1024;

/// How many entries may follow a checkpoint before the next one is written, unless configured.
pub const DEFAULT_CHECKPOINT_EVERY: u64 = 100;

/// Domain separator of the checkpoint signature, the first line of [`checkpoint_message`].
pub const CHECKPOINT_DOMAIN: &str = "legatura-audit-checkpoint-v1";

/// Kind of a checkpoint entry.
pub const KIND_CHECKPOINT: &str = "checkpoint";

/// Kind of the entry recording that a checkpoint could not be signed and is pending.
pub const KIND_CHECKPOINT_PENDING: &str = "checkpoint.pending";

/// Kind of the entry recording that a torn last line was repaired when the log was opened.
pub const KIND_LOG_RECOVERED: &str = "log.recovered";
