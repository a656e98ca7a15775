//! Writing the log: appends, checkpoints, key outages, reopening and concurrency.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/signer.rs"]
mod signer;

use std::os::unix::fs::PermissionsExt as _;
use std::sync::Arc;

use audit::{
    AppendError, AuditLog, CheckpointError, CheckpointInfo, Event, OpenError, Report, verify,
};
use keys::KeyRole;
use serde_json::Value;
use signer::{TestSigner, append_events, event, read_lines};

fn kinds(path: &std::path::Path) -> Vec<String> {
    read_lines(path)
        .iter()
        .map(|line| {
            let entry: Value = serde_json::from_str(line).unwrap();
            entry["kind"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[test]
fn appended_events_verify_with_checkpoints_every_n() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let key = TestSigner::new();
    let log = AuditLog::open(&path, key.clone(), 5).unwrap();
    for i in 0..12 {
        let seq = log.append(event(i)).unwrap();
        // Every fifth event is followed by a checkpoint, which takes a seq of its own.
        assert_eq!(seq, i + 1 + i / 5);
    }
    assert_eq!(log.last_seq(), 14);

    let report = verify(&path, &key.trusted()).unwrap();
    let checkpoint = CheckpointInfo {
        seq: 12,
        upto: 11,
        key: key.public_key_vec(),
    };
    let expected = Report {
        entries: 14,
        checkpoints: 2,
        last_seq: 14,
        last_checkpoint: Some(checkpoint),
        after_last_checkpoint: 2,
    };
    assert_eq!(report, expected);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let first: Value = serde_json::from_str(&read_lines(&path)[0]).unwrap();
    assert_eq!(first["prev"], "0".repeat(64));
    assert_eq!(first["detail"]["serial"], "0000");
}

#[test]
fn checkpoint_on_demand_covers_everything_so_far() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let key = TestSigner::new();
    let log = AuditLog::open(&path, key.clone(), 100).unwrap();
    assert!(matches!(log.checkpoint(), Err(CheckpointError::Empty)));
    append_events(&log, 3);
    assert_eq!(log.checkpoint().unwrap(), 4);
    // Nothing new since: the same checkpoint, no second signature.
    assert_eq!(log.checkpoint().unwrap(), 4);
    assert_eq!(key.signatures.load(std::sync::atomic::Ordering::SeqCst), 1);
    let report = verify(&path, &key.trusted()).unwrap();
    assert_eq!(report.last_checkpoint.map(|c| c.upto), Some(3));
    assert_eq!(report.after_last_checkpoint, 0);
}

#[test]
fn an_unavailable_key_loses_no_event_and_the_checkpoint_comes_later() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let key = TestSigner::new();
    let log = AuditLog::open(&path, key.clone(), 3).unwrap();
    key.set_available(false);
    append_events(&log, 7);
    assert!(log.checkpoint_pending());
    assert!(matches!(
        log.checkpoint(),
        Err(CheckpointError::Sign(keys::SignError::Unavailable(_)))
    ));
    // Seven events and one note that the checkpoint is pending; no checkpoint yet.
    let report = verify(&path, &key.trusted()).unwrap();
    assert_eq!(
        (
            report.entries,
            report.checkpoints,
            report.after_last_checkpoint
        ),
        (8, 0, 8)
    );
    assert_eq!(
        kinds(&path)
            .iter()
            .filter(|k| *k == "checkpoint.pending")
            .count(),
        1
    );
    assert_eq!(
        kinds(&path).iter().filter(|k| *k == "cert.issued").count(),
        7
    );

    key.set_available(true);
    let seq = log.append(event(7)).unwrap();
    assert!(!log.checkpoint_pending());
    let report = verify(&path, &key.trusted()).unwrap();
    assert_eq!(report.checkpoints, 1);
    assert_eq!(report.last_checkpoint.map(|c| c.upto), Some(seq));
    assert_eq!(report.after_last_checkpoint, 0);
}

#[test]
fn reopening_continues_the_chain_and_the_checkpoint_count() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let key = TestSigner::new();
    {
        let log = AuditLog::open(&path, key.clone(), 5).unwrap();
        append_events(&log, 3);
    }
    let log = AuditLog::open(&path, key.clone(), 5).unwrap();
    assert_eq!(log.last_seq(), 3);
    append_events(&log, 2);
    drop(log);
    // Three before the reopen and two after make five: the checkpoint follows the fifth.
    let report = verify(&path, &key.trusted()).unwrap();
    assert_eq!(report.last_checkpoint.map(|c| c.seq), Some(6));
    assert_eq!(report.last_seq, 6);
}

#[test]
fn a_log_is_opened_for_appending_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let key = TestSigner::new();
    let _log = AuditLog::open(&path, key.clone(), 5).unwrap();
    assert!(matches!(
        AuditLog::open(&path, key, 5),
        Err(OpenError::Locked { .. })
    ));
}

#[test]
fn open_refuses_another_role_and_a_zero_interval() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let receipts = TestSigner::with_role(KeyRole::ReceiptSigning);
    let err = AuditLog::open(&path, receipts, 5).unwrap_err();
    assert!(matches!(
        err,
        OpenError::WrongRole {
            role: KeyRole::ReceiptSigning
        }
    ));
    assert!(matches!(
        AuditLog::open(&path, TestSigner::new(), 0),
        Err(OpenError::ZeroInterval)
    ));
}

#[test]
fn callers_cannot_write_the_logs_own_kinds_or_oversized_entries() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let key = TestSigner::new();
    let log = AuditLog::open(&path, key.clone(), 5).unwrap();
    for kind in ["checkpoint", "checkpoint.pending", "log.recovered"] {
        let err = log
            .append(Event::new(kind, "operator", "x", "ok"))
            .unwrap_err();
        assert!(matches!(err, AppendError::ReservedKind(_)), "{kind}");
    }
    let huge =
        Event::new("operator.action", "operator", "x", "ok").with("blob", "a".repeat(70_000));
    assert!(matches!(
        log.append(huge),
        Err(AppendError::TooLarge { .. })
    ));
    assert_eq!(log.append(event(1)).unwrap(), 1);
    assert_eq!(verify(&path, &key.trusted()).unwrap().entries, 1);
}

#[test]
fn concurrent_appends_from_eight_threads_form_one_valid_chain() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<AuditLog>();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let key = TestSigner::new();
    let log = Arc::new(AuditLog::open(&path, key.clone(), 10).unwrap());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                (0..40)
                    .map(|i| log.append(event(t * 100 + i)).unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut seqs: Vec<u64> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), 320);
    let report = verify(&path, &key.trusted()).unwrap();
    assert_eq!(report.checkpoints, 32);
    assert_eq!(report.entries, 352);
    assert_eq!(report.after_last_checkpoint, 0);
}
