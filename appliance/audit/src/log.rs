//! The writer: appends entries durably, one line per `write_all`, and signs checkpoints.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use keys::{KeyRole, SignError, Signer};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::entry::{self, Body};
use crate::recover::{self, Repair, TailError};
use crate::{Fault, KIND_CHECKPOINT, KIND_CHECKPOINT_PENDING, KIND_LOG_RECOVERED, MAX_LINE};

/// `actor` of the entries the log writes about itself.
const SELF_ACTOR: &str = "audit";

/// A security event to record. The log adds `seq`, `time`, `prev` and `hash`.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// What happened, e.g. `enroll.attempt`, `cert.issued`, `appliance.revoked`, `key.refused`.
    pub kind: String,
    /// Who did it: an operator, an appliance identity, a service.
    pub actor: String,
    /// What it was done to.
    pub subject: String,
    /// `ok`, `denied`, `error`, …
    pub outcome: String,
    pub detail: Map<String, Value>,
}

impl Event {
    pub fn new(
        kind: impl Into<String>,
        actor: impl Into<String>,
        subject: impl Into<String>,
        outcome: impl Into<String>,
    ) -> Self {
        Self {
            kind: kind.into(),
            actor: actor.into(),
            subject: subject.into(),
            outcome: outcome.into(),
            detail: Map::new(),
        }
    }

    /// Adds one member to `detail`.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.detail.insert(key.into(), value.into());
        self
    }
}

/// Why a log could not be opened for appending.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("checkpoint interval must be at least 1")]
    ZeroInterval,
    #[error("checkpoints need the audit-checkpoint key, not the {role} key")]
    WrongRole { role: KeyRole },
    #[error("cannot open audit log {path}")]
    Io { path: PathBuf, source: io::Error },
    #[error("audit log {path} is already open for appending")]
    Locked { path: PathBuf },
    /// The end of the log does not verify; appending would extend a chain nobody can check.
    #[error("audit log {path} has a broken tail (seq {seq:?}): {fault}; refusing to append")]
    BrokenTail {
        path: PathBuf,
        seq: Option<u64>,
        fault: Fault,
    },
    #[error("cannot record the repair of audit log {path}")]
    Recovery { path: PathBuf, source: AppendError },
}

/// Why an event was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    #[error("kind `{0}` is reserved for the log's own entries")]
    ReservedKind(String),
    #[error("entry would be {len} bytes, more than {MAX_LINE}")]
    TooLarge { len: usize },
    #[error("cannot encode entry")]
    Encode(#[source] serde_json::Error),
    #[error("cannot format the current time")]
    Clock(#[source] time::error::Format),
    #[error("cannot write audit log")]
    Io(#[source] io::Error),
    /// A write could not be undone, or a sync failed: the file's end is unknown until reopened.
    #[error("audit log is unusable after an earlier write failure; reopen it")]
    Poisoned,
}

/// Why a checkpoint was not written. Except for `Empty`, it stays pending and is retried on the
/// next append or checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("nothing to checkpoint: the log is empty")]
    Empty,
    #[error("audit-checkpoint key could not sign")]
    Sign(#[source] SignError),
    #[error("audit-checkpoint key returned a signature that does not verify")]
    BadSignature,
    #[error(transparent)]
    Append(#[from] AppendError),
}

/// An open audit log. `Send + Sync`: share it behind an `Arc`; appends are serialised inside.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    signer: Arc<dyn Signer>,
    key_hex: String,
    every: u64,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Opened with `O_APPEND` and locked exclusively for as long as the log is open.
    file: File,
    len: u64,
    next_seq: u64,
    prev_line: [u8; 32],
    head: Option<String>,
    last_is_checkpoint: bool,
    since_checkpoint: u64,
    pending: bool,
    poisoned: bool,
}

impl AuditLog {
    /// Opens the log at `path`, creating it with mode 0600 if absent, and continues its chain.
    /// A torn last line left by a crash is completed or cut off and a `log.recovered` entry says
    /// which. A checkpoint is written after every `every` entries.
    pub fn open(
        path: impl AsRef<Path>,
        signer: Arc<dyn Signer>,
        every: u64,
    ) -> Result<Self, OpenError> {
        let path = path.as_ref().to_path_buf();
        if every == 0 {
            return Err(OpenError::ZeroInterval);
        }
        if signer.role() != KeyRole::AuditCheckpoint {
            return Err(OpenError::WrongRole {
                role: signer.role(),
            });
        }
        let io_error = |source| OpenError::Io {
            path: path.clone(),
            source,
        };
        let file = open_file(&path).map_err(io_error)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(OpenError::Locked { path }),
            Err(TryLockError::Error(e)) => return Err(io_error(e)),
        }
        let tail_error = |e| match e {
            TailError::Io(source) => OpenError::Io {
                path: path.clone(),
                source,
            },
            TailError::Broken { seq, fault } => OpenError::BrokenTail {
                path: path.clone(),
                seq,
                fault,
            },
        };
        let len = file.metadata().map_err(io_error)?.len();
        let (len, repair) = recover::repair_torn(&file, len).map_err(tail_error)?;
        let tail = recover::read_tail(&file, len, every).map_err(tail_error)?;
        let key_hex = entry::hex(signer.public_key());
        let state = State {
            file,
            len,
            next_seq: tail.next_seq,
            prev_line: tail.prev_line,
            head: tail.head,
            last_is_checkpoint: tail.last_is_checkpoint,
            since_checkpoint: tail.since_checkpoint,
            pending: false,
            poisoned: false,
        };
        let log = Self {
            path,
            signer,
            key_hex,
            every,
            state: Mutex::new(state),
        };
        if let Some(repair) = repair {
            let event = match repair {
                Repair::Completed { seq } => {
                    Event::new(KIND_LOG_RECOVERED, SELF_ACTOR, "audit-log", "ok")
                        .with("action", "completed")
                        .with("seq", seq)
                }
                Repair::Truncated {
                    offset,
                    bytes,
                    sha256,
                } => Event::new(KIND_LOG_RECOVERED, SELF_ACTOR, "audit-log", "ok")
                    .with("action", "truncated")
                    .with("offset", offset)
                    .with("bytes", bytes)
                    .with("sha256", sha256),
            };
            let recorded = log
                .lock()
                .and_then(|mut state| log.record(&mut state, &event));
            recorded.map_err(|source| OpenError::Recovery {
                path: log.path.clone(),
                source,
            })?;
        }
        Ok(log)
    }

    /// Records `event` durably and returns its `seq`. Writes a checkpoint after it when one is
    /// due or pending; a checkpoint that cannot be signed does not fail the append.
    pub fn append(&self, event: Event) -> Result<u64, AppendError> {
        let kind = event.kind.as_str();
        if kind == KIND_CHECKPOINT || kind.starts_with("checkpoint.") || kind.starts_with("log.") {
            return Err(AppendError::ReservedKind(event.kind));
        }
        let mut state = self.lock()?;
        self.record(&mut state, &event)
    }

    /// Writes a checkpoint covering every entry so far, now, and returns its `seq` (the last
    /// checkpoint's when nothing followed it).
    pub fn checkpoint(&self) -> Result<u64, CheckpointError> {
        let mut state = self.lock()?;
        state.checkpoint(&*self.signer, &self.key_hex)
    }

    /// Whether a checkpoint could not be signed and is waiting for the key to come back.
    pub fn checkpoint_pending(&self) -> bool {
        self.state.lock().is_ok_and(|state| state.pending)
    }

    /// `seq` of the last entry; 0 for an empty log.
    pub fn last_seq(&self) -> u64 {
        self.state.lock().map_or(0, |state| state.next_seq - 1)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>, AppendError> {
        // A panic while the lock was held may have left `State` out of step with the file.
        self.state.lock().map_err(|_| AppendError::Poisoned)
    }

    fn record(&self, state: &mut State, event: &Event) -> Result<u64, AppendError> {
        let seq = state.write(event)?;
        if state.pending || state.since_checkpoint >= self.every {
            // The event is already durable. A failed checkpoint is marked pending inside and
            // retried on the next call, so its error has nowhere better to go.
            let _ = state.checkpoint(&*self.signer, &self.key_hex);
        }
        Ok(seq)
    }
}

impl State {
    /// Appends one entry: the whole line in one `write_all`, then `sync_data`.
    fn write(&mut self, event: &Event) -> Result<u64, AppendError> {
        if self.poisoned {
            return Err(AppendError::Poisoned);
        }
        let time = OffsetDateTime::now_utc()
            .format(&Rfc3339)
            .map_err(AppendError::Clock)?;
        let seq = self.next_seq;
        let prev = entry::hex(&self.prev_line);
        let body = Body {
            seq,
            time: &time,
            kind: &event.kind,
            actor: &event.actor,
            subject: &event.subject,
            outcome: &event.outcome,
            detail: &event.detail,
            prev: &prev,
        };
        let encoded = body.encode().map_err(AppendError::Encode)?;
        let len = encoded.line.len() - 1;
        if len > MAX_LINE {
            return Err(AppendError::TooLarge { len });
        }
        if let Err(e) = self.file.write_all(&encoded.line) {
            // A partial line would break the chain for every later entry: cut it off, or stop.
            if self.file.set_len(self.len).is_err() {
                self.poisoned = true;
            }
            return Err(AppendError::Io(e));
        }
        if let Err(e) = self.file.sync_data() {
            // After a failed sync the kernel may have dropped the data; only a reopen can tell.
            self.poisoned = true;
            return Err(AppendError::Io(e));
        }
        self.len += encoded.line.len() as u64;
        self.next_seq += 1;
        self.prev_line = encoded.digest;
        self.head = Some(encoded.hash);
        self.last_is_checkpoint = event.kind == KIND_CHECKPOINT;
        self.since_checkpoint += 1;
        Ok(seq)
    }

    /// Signs the head of the chain and appends the checkpoint entry. Signing happens under the
    /// log's lock so that the checkpoint directly follows the entry it covers.
    fn checkpoint(&mut self, signer: &dyn Signer, key_hex: &str) -> Result<u64, CheckpointError> {
        let Some(head) = self.head.clone() else {
            return Err(CheckpointError::Empty);
        };
        let upto = self.next_seq - 1;
        if self.last_is_checkpoint {
            return Ok(upto);
        }
        let message = entry::checkpoint_message(upto, &head);
        let sig = match signer.sign(KeyRole::AuditCheckpoint, &message) {
            Ok(sig) if keys::verify(signer.public_key(), &message, &sig) => sig,
            Ok(_) => {
                self.defer(
                    upto,
                    "signature does not verify against the key's public key",
                );
                return Err(CheckpointError::BadSignature);
            }
            Err(e) => {
                self.defer(upto, &e.to_string());
                return Err(CheckpointError::Sign(e));
            }
        };
        let event = Event::new(
            KIND_CHECKPOINT,
            SELF_ACTOR,
            KeyRole::AuditCheckpoint.name(),
            "ok",
        )
        .with("upto", upto)
        .with("head", head)
        .with("key", key_hex)
        .with("sig", entry::hex(&sig));
        let seq = self.write(&event)?;
        self.since_checkpoint = 0;
        self.pending = false;
        Ok(seq)
    }

    /// Marks the checkpoint pending; the first failure of an outage is recorded in the log.
    fn defer(&mut self, upto: u64, reason: &str) {
        if self.pending {
            return;
        }
        self.pending = true;
        let event = Event::new(
            KIND_CHECKPOINT_PENDING,
            SELF_ACTOR,
            KeyRole::AuditCheckpoint.name(),
            "error",
        )
        .with("upto", upto)
        .with("reason", reason);
        // If this write fails too, the state is poisoned or unchanged and the next append
        // reports it; the checkpoint stays pending either way.
        let _ = self.write(&event);
    }
}

/// Opens `path` for appending, creating it with mode 0600; a new file's directory entry is
/// synced so that the file itself survives a crash.
fn open_file(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).append(true).mode(0o600);
    match options.clone().create_new(true).open(path) {
        Ok(file) => {
            let dir = match path.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent,
                _ => Path::new("."),
            };
            File::open(dir)?.sync_all()?;
            Ok(file)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => options.open(path),
        Err(e) => Err(e),
    }
}
