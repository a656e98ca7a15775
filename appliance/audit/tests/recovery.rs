//! Opening a log after a crash: torn last lines, and tails that must not be appended to.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/signer.rs"]
mod signer;

use std::io::Write as _;

use audit::{AuditLog, Fault, OpenError, verify};
use serde_json::Value;
use signer::{TestSigner, append_events, read_lines, write_lines};

fn last_entry(path: &std::path::Path) -> Value {
    serde_json::from_str(read_lines(path).last().unwrap()).unwrap()
}

#[test]
fn a_torn_partial_line_is_cut_off_and_the_recovery_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let key = TestSigner::new();
    let log = AuditLog::open(&path, key.clone(), 100).unwrap();
    append_events(&log, 4);
    drop(log);
    let intact = std::fs::metadata(&path).unwrap().len();
    // A crash in the middle of writing the fifth line.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    let torn = b"{\"seq\":5,\"time\":\"2025-03-01T";
    file.write_all(torn).unwrap();
    drop(file);
    assert!(matches!(
        verify(&path, &key.trusted()),
        Err(audit::VerifyError::Broken {
            line: 5,
            fault: Fault::Truncated,
            ..
        })
    ));

    let log = AuditLog::open(&path, key.clone(), 100).unwrap();
    let recovered = last_entry(&path);
    assert_eq!(recovered["seq"], 5);
    assert_eq!(recovered["kind"], "log.recovered");
    assert_eq!(recovered["detail"]["action"], "truncated");
    assert_eq!(recovered["detail"]["offset"], intact);
    assert_eq!(recovered["detail"]["bytes"], torn.len());
    assert_eq!(log.append(signer::event(9)).unwrap(), 6);
    assert_eq!(verify(&path, &key.trusted()).unwrap().last_seq, 6);
}

#[test]
fn a_complete_entry_missing_only_its_newline_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let key = TestSigner::new();
    let log = AuditLog::open(&path, key.clone(), 100).unwrap();
    append_events(&log, 3);
    drop(log);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.trim_end_matches('\n')).unwrap();

    let _log = AuditLog::open(&path, key.clone(), 100).unwrap();
    let lines = read_lines(&path);
    assert_eq!(lines.len(), 4);
    let kept: Value = serde_json::from_str(&lines[2]).unwrap();
    assert_eq!(kept["kind"], "cert.issued");
    let recovered = last_entry(&path);
    assert_eq!(recovered["detail"]["action"], "completed");
    assert_eq!(recovered["detail"]["seq"], 3);
    assert_eq!(verify(&path, &key.trusted()).unwrap().entries, 4);
}

#[test]
fn a_log_with_a_broken_tail_is_not_appended_to() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let key = TestSigner::new();
    let log = AuditLog::open(&path, key.clone(), 100).unwrap();
    append_events(&log, 3);
    drop(log);
    let mut lines = read_lines(&path);
    lines[2] = lines[2].replace("ro-paris-02", "ro-paris-22");
    write_lines(&path, &lines);
    let before = std::fs::read(&path).unwrap();

    let err = AuditLog::open(&path, key.clone(), 100).unwrap_err();
    assert!(
        matches!(
            err,
            OpenError::BrokenTail {
                seq: Some(3),
                fault: Fault::HashMismatch,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);

    // A last entry that is intact but does not follow the one before is refused too.
    let first = read_lines(&path)[0].clone();
    write_lines(&path, &[first.clone(), first]);
    let err = AuditLog::open(&path, key, 100).unwrap_err();
    assert!(
        matches!(
            err,
            OpenError::BrokenTail {
                fault: Fault::SeqGap { .. },
                ..
            }
        ),
        "{err:?}"
    );
}
