//! Tampering with a log: each case asserts that the verifier names the first broken entry.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/signer.rs"]
mod signer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use audit::{AuditLog, Fault, VerifyError, verify};
use signer::{TestSigner, append_events, read_lines, rechain, rehash, relink, write_lines};

/// A log of 14 lines, line n holding seq n: events 1–5, checkpoint 6 (upto 5), events 7–11,
/// checkpoint 12 (upto 11), events 13–14.
fn sample() -> (tempfile::TempDir, PathBuf, Arc<TestSigner>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let key = TestSigner::new();
    let log = AuditLog::open(&path, key.clone(), 5).unwrap();
    append_events(&log, 12);
    assert_eq!(read_lines(&path).len(), 14);
    (dir, path, key)
}

fn broken_at(path: &Path, key: &TestSigner) -> (u64, Option<u64>, Fault) {
    match verify(path, &key.trusted()) {
        Err(VerifyError::Broken { line, seq, fault }) => (line, seq, fault),
        other => panic!("expected a broken log, got {other:?}"),
    }
}

#[test]
fn changing_one_byte_of_a_detail_is_a_hash_mismatch_there() {
    let (_dir, path, key) = sample();
    let mut lines = read_lines(&path);
    lines[2] = lines[2].replace("\"serial\":\"0002\"", "\"serial\":\"0003\"");
    write_lines(&path, &lines);
    assert_eq!(broken_at(&path, &key), (3, Some(3), Fault::HashMismatch));
}

#[test]
fn deleting_an_entry_is_a_gap_where_it_was() {
    let (_dir, path, key) = sample();
    let mut lines = read_lines(&path);
    lines.remove(2);
    write_lines(&path, &lines);
    assert_eq!(
        broken_at(&path, &key),
        (
            3,
            Some(4),
            Fault::SeqGap {
                expected: 3,
                found: 4
            }
        )
    );
}

#[test]
fn swapping_two_entries_is_a_gap_at_the_first() {
    let (_dir, path, key) = sample();
    let mut lines = read_lines(&path);
    lines.swap(7, 8);
    write_lines(&path, &lines);
    assert_eq!(
        broken_at(&path, &key),
        (
            8,
            Some(9),
            Fault::SeqGap {
                expected: 8,
                found: 9
            }
        )
    );
}

#[test]
fn a_changed_checkpoint_signature_is_caught() {
    let (_dir, path, key) = sample();
    let mut lines = read_lines(&path);
    let original = lines[5].clone();
    let at = original.find("\"sig\":\"").unwrap() + "\"sig\":\"".len() + 20;
    let flipped = if &original[at..=at] == "0" { "1" } else { "0" };
    let mut forged = original.clone();
    forged.replace_range(at..=at, flipped);
    lines[5] = forged.clone();
    write_lines(&path, &lines);
    assert_eq!(broken_at(&path, &key), (6, Some(6), Fault::HashMismatch));
    // Re-hashed by a forger: the entry is consistent, the signature is not.
    lines[5] = rehash(&forged);
    write_lines(&path, &lines);
    assert_eq!(
        broken_at(&path, &key),
        (6, Some(6), Fault::BadCheckpointSignature)
    );
}

#[test]
fn a_checkpoint_by_an_untrusted_key_is_rejected() {
    let (_dir, path, _key) = sample();
    let stranger = TestSigner::new();
    assert_eq!(
        broken_at(&path, &stranger),
        (6, Some(6), Fault::UntrustedKey)
    );
}

#[test]
fn a_cut_in_the_middle_of_a_line_is_named() {
    let (_dir, path, key) = sample();
    let text = std::fs::read_to_string(&path).unwrap();
    let start_of_8: usize = read_lines(&path)[..7].iter().map(|l| l.len() + 1).sum();
    std::fs::write(&path, &text[..start_of_8 + 40]).unwrap();
    assert_eq!(broken_at(&path, &key), (8, Some(8), Fault::Truncated));
}

#[test]
fn a_forged_entry_appended_at_the_end_is_reported_as_uncovered() {
    let (_dir, path, key) = sample();
    let mut lines = read_lines(&path);
    let forged = lines[13]
        .replace("\"seq\":14", "\"seq\":15")
        .replace("ro-paris-11", "ro-paris-99");
    lines.push(relink(&forged, &lines[13]));
    write_lines(&path, &lines);
    let report = verify(&path, &key.trusted()).unwrap();
    assert_eq!(report.last_seq, 15);
    assert_eq!(report.last_checkpoint.map(|c| c.upto), Some(11));
    // Only a signature makes an entry trustworthy: these three are not covered by one.
    assert_eq!(report.after_last_checkpoint, 3);
}

#[test]
fn a_forged_entry_inserted_in_the_middle_breaks_the_chain() {
    let (_dir, path, key) = sample();
    let mut lines = read_lines(&path);
    let forged = lines[2]
        .replace("\"seq\":3", "\"seq\":4")
        .replace("ro-paris-02", "ro-paris-66");
    let forged = relink(&forged, &lines[2]);
    lines.insert(3, forged);
    write_lines(&path, &lines);
    // The forgery itself links; the real entry after it no longer does.
    assert_eq!(
        broken_at(&path, &key),
        (
            5,
            Some(4),
            Fault::SeqGap {
                expected: 5,
                found: 4
            }
        )
    );
}

#[test]
fn a_rewritten_entry_with_a_recomputed_hash_breaks_the_next_link() {
    let (_dir, path, key) = sample();
    let mut lines = read_lines(&path);
    lines[8] = rehash(&lines[8].replace("ro-paris-07", "ro-paris-77"));
    write_lines(&path, &lines);
    assert_eq!(broken_at(&path, &key), (10, Some(10), Fault::BrokenLink));
}

#[test]
fn a_rewritten_chain_is_caught_at_the_next_checkpoint() {
    let (_dir, path, key) = sample();
    let mut lines = read_lines(&path);
    lines[8] = lines[8].replace("ro-paris-07", "ro-paris-77");
    rechain(&mut lines, 8);
    write_lines(&path, &lines);
    assert_eq!(
        broken_at(&path, &key),
        (12, Some(12), Fault::CheckpointMismatch)
    );

    // With the checkpoint's head updated too, the signature no longer matches.
    let forged_head = {
        let entry: serde_json::Value = serde_json::from_str(&lines[10]).unwrap();
        entry["hash"].as_str().unwrap().to_owned()
    };
    let checkpoint: serde_json::Value = serde_json::from_str(&lines[11]).unwrap();
    let old_head = checkpoint["detail"]["head"].as_str().unwrap();
    lines[11] = lines[11].replace(old_head, &forged_head);
    rechain(&mut lines, 11);
    write_lines(&path, &lines);
    assert_eq!(
        broken_at(&path, &key),
        (12, Some(12), Fault::BadCheckpointSignature)
    );
}

#[test]
fn an_overlong_line_is_an_error_not_a_panic() {
    let (_dir, path, key) = sample();
    let mut lines = read_lines(&path);
    lines.insert(4, "x".repeat(70_000));
    write_lines(&path, &lines);
    assert_eq!(broken_at(&path, &key), (5, None, Fault::TooLong));
}

#[test]
fn a_missing_log_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = verify(dir.path().join("absent.log"), &[]).unwrap_err();
    assert!(matches!(err, VerifyError::Io { .. }));
}
