#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed expectation is a failed test

use super::*;

#[test]
fn a_status_file_is_read_with_its_state_and_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("provision.json");
    std::fs::write(
        &path,
        r#"{"state":"no-code","message":"not enrolled and no enrollment code: …","at_unix":1795850875}"#,
    )
    .unwrap();
    assert_eq!(
        Provision::read(&path),
        Provision::Said(Said {
            state: State::NoCode,
            message: "not enrolled and no enrollment code: …".into(),
            at_unix: Some(1_795_850_875),
        })
    );
}

#[test]
fn every_state_provisioning_writes_is_known() {
    for (name, state) in [
        ("not-configured", State::NotConfigured),
        ("bad-credential", State::BadCredential),
        ("state-full", State::StateFull),
        ("no-code", State::NoCode),
        ("enrolling", State::Enrolling),
        ("enrolled", State::Enrolled),
        ("enrolled-state-full", State::EnrolledStateFull),
    ] {
        let said = Said::parse(format!(r#"{{"state":"{name}","message":"m"}}"#).as_bytes())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(said.state, state);
        assert_eq!(state.name(), name);
    }
}

#[test]
fn no_file_is_missing_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        Provision::read(&dir.path().join("provision.json")),
        Provision::Missing
    );
}

#[test]
fn a_malformed_file_is_unreadable_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("provision.json");
    for bad in [
        &b""[..],
        b"{\"state\":\"no-code\"",
        b"{\"state\":\"on-fire\",\"message\":\"x\"}",
        b"{\"message\":\"no state\"}",
        b"\xff\xfe\x00garbage",
        b"[1,2,3]",
    ] {
        std::fs::write(&path, bad).unwrap();
        match Provision::read(&path) {
            Provision::Unreadable(why) => assert!(
                why.contains("provision.json") && why.contains("not a provisioning status"),
                "{why}"
            ),
            other => panic!("{bad:?} read as {other:?}"),
        }
    }
}

#[test]
fn a_huge_file_is_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("provision.json");
    std::fs::write(&path, vec![b' '; MAX_FILE as usize + 1]).unwrap();
    match Provision::read(&path) {
        Provision::Unreadable(why) => assert!(why.contains("larger than"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_directory_in_its_place_is_unreadable() {
    let dir = tempfile::tempdir().unwrap();
    match Provision::read(dir.path()) {
        Provision::Unreadable(why) => assert!(why.contains("cannot read"), "{why}"),
        other => panic!("{other:?}"),
    }
}
