//! Which case a call joins, on a real SQLite store.

use super::*;

fn store() -> (tempfile::TempDir, cs::Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = cs::Store::open(dir.path().join("cases.db"), cs::Options::default()).unwrap();
    (dir, store)
}

fn call<'a>(caller: &'a str, typed: Option<&'a str>, call_ref: &'a str) -> Started<'a> {
    Started {
        caller,
        display: Some("Ana Popescu"),
        queue: Some("200"),
        consulate: None,
        language: Some("ro"),
        emergency: false,
        typed,
        call_ref,
    }
}

fn digits(no: cs::CaseNumber) -> String {
    no.to_string()
        .chars()
        .filter(char::is_ascii_digit)
        .collect()
}

#[test]
fn a_first_call_opens_a_phone_case_with_the_callers_number() {
    let (_dir, store) = store();
    let intake = intake::Intake::default_v1();
    let no = case_for(&store, &intake, &call("+40721000111", None, "phone:a#1")).unwrap();
    let case = store
        .case(store.case_id(no).unwrap().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(case.channel, cs::Channel::Phone);
    assert_eq!(case.language.as_str(), "ro");
    let again = case_for(&store, &intake, &call("+40 721 000 111", None, "phone:b#2")).unwrap();
    assert_eq!(
        again, no,
        "the next call of the same number joins its open case"
    );
}

#[test]
fn a_typed_case_number_picks_among_the_callers_open_cases_only() {
    let (_dir, store) = store();
    let intake = intake::Intake::default_v1();
    let caller = "+40721000222";
    let older = open_case(&store, &intake, &call(caller, None, "phone:c#1"), None).unwrap();
    let newer = open_case(&store, &intake, &call(caller, None, "phone:c#2"), None).unwrap();
    let stranger = open_case(
        &store,
        &intake,
        &call("+40730999999", None, "phone:d#1"),
        None,
    )
    .unwrap();

    let plain = case_for(&store, &intake, &call(caller, None, "phone:e#1")).unwrap();
    assert_eq!(plain, newer, "without digits, the newest open case");
    let typed = digits(older);
    let chosen = case_for(&store, &intake, &call(caller, Some(&typed), "phone:e#2")).unwrap();
    assert_eq!(chosen, older, "the typed case, when it is the caller's");

    // Someone else's case number joins nothing of theirs.
    let theirs = digits(stranger);
    let chosen = case_for(&store, &intake, &call(caller, Some(&theirs), "phone:e#3")).unwrap();
    assert_eq!(chosen, newer);

    // A number with no open case gets a new one that says what was typed.
    let no = case_for(
        &store,
        &intake,
        &call("+40740555666", Some(&theirs), "phone:f#1"),
    )
    .unwrap();
    assert_ne!(no, stranger);
    let id = store.case_id(no).unwrap().unwrap();
    let said = store
        .messages(id, None)
        .unwrap()
        .iter()
        .any(|m| m.body.as_str().contains(&stranger.to_string()));
    assert!(said, "the new case names the typed number for the agent");
}

#[test]
fn only_eleven_digits_are_a_case_number() {
    assert_eq!(
        typed_case_number("20260001234").map(|n| n.to_string()),
        Some("CSC-2026-0001234".to_owned())
    );
    for bad in [
        "",
        "1",
        "2026000123",
        "202600012345",
        "2026000123#",
        "abcdefghijk",
    ] {
        assert!(typed_case_number(bad).is_none(), "{bad:?}");
    }
}
