use std::sync::Arc;

use super::*;
use crate::testkit::{self, T0};
use crate::{Options, Store};

pub(crate) const PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";

/// An officer at RO-PAR working in Romanian and French, with a second factor.
pub(crate) fn new_staff(id: &str) -> NewStaff {
    NewStaff {
        id: AgentId::new(id).unwrap(),
        display_name: Name::new("Ana Popescu").unwrap(),
        role: StaffRole::Officer,
        consulate: testkit::consulate("RO-PAR"),
        languages: vec![Language::new("ro").unwrap(), Language::new("fr").unwrap()],
        password_phc: PasswordHash::new(PHC).unwrap(),
        totp_secret: Some(TotpSecret::new(*b"0123456789abcdef0123").unwrap()),
    }
}

fn agent(id: &str) -> AgentId {
    AgentId::new(id).unwrap()
}

fn at(offset_ms: i64) -> Timestamp {
    Timestamp::from_unix_ms(T0 + offset_ms)
}

fn account(t: &testkit::TestStore, id: &str) -> StaffAccount {
    t.store.staff(&agent(id)).unwrap().unwrap()
}

#[test]
fn an_account_reads_back_as_created_and_survives_a_reopen() {
    let t = testkit::store();
    let mut new = new_staff("ana.popescu");
    new.languages.push(Language::new("ro").unwrap());
    t.store.create_staff(&new).unwrap();
    let mut consul = new_staff("ion");
    consul.role = StaffRole::Consul;
    consul.totp_secret = None;
    consul.languages.clear();
    t.store.create_staff(&consul).unwrap();

    let ana = account(&t, "ana.popescu");
    assert_eq!(ana.id, new.id);
    assert_eq!(ana.display_name, new.display_name);
    assert_eq!(ana.role, StaffRole::Officer);
    assert_eq!(ana.consulate.as_str(), "RO-PAR");
    assert_eq!(
        ana.languages,
        vec![Language::new("ro").unwrap(), Language::new("fr").unwrap()],
        "a repeated language is kept once, in order"
    );
    assert_eq!(ana.password_phc.as_str(), PHC);
    assert_eq!(ana.totp_secret, new.totp_secret);
    assert_eq!(ana.totp_last_step, None);
    assert_eq!((ana.failed_logins, ana.locked_until), (0, None));
    assert!(!ana.disabled && !ana.is_locked(at(0)));
    assert_eq!(
        (ana.created_at, ana.updated_at, ana.version),
        (at(0), at(0), 1)
    );

    let ion = account(&t, "ion");
    assert_eq!(
        (ion.role, ion.totp_secret, ion.languages),
        (StaffRole::Consul, None, vec![])
    );
    assert_eq!(t.store.staff(&agent("nobody")).unwrap(), None);
    assert_eq!(
        t.store.staff(&agent("ANA.POPESCU")).unwrap(),
        None,
        "ids are exact"
    );

    let listed: Vec<_> = t
        .store
        .list_staff()
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(listed, vec![agent("ana.popescu"), agent("ion")]);

    drop(t.store);
    let again = Store::open(t.dir.path().join("cases.db"), Options::default()).unwrap();
    assert_eq!(again.staff(&agent("ana.popescu")).unwrap(), Some(ana));
}

#[test]
fn a_taken_id_is_refused_also_in_another_letter_case() {
    let t = testkit::store();
    t.store.create_staff(&new_staff("ana")).unwrap();
    let mut other = new_staff("ana");
    other.role = StaffRole::Administrator;
    for id in ["ana", "Ana", "ANA"] {
        other.id = agent(id);
        let err = t.store.create_staff(&other).unwrap_err();
        assert!(
            matches!(&err, StaffError::Duplicate(taken) if taken.as_str() == id),
            "{err}"
        );
        assert!(err.to_string().contains("already taken"), "{err}");
    }
    assert_eq!(
        account(&t, "ana").role,
        StaffRole::Officer,
        "the first stays as it was"
    );
    assert_eq!(t.store.list_staff().unwrap().len(), 1);
}

#[test]
fn debug_output_never_shows_the_secrets() {
    let t = testkit::store();
    t.store.create_staff(&new_staff("ana")).unwrap();
    let shown = format!("{:?} {:?}", account(&t, "ana"), new_staff("ana"));
    assert!(
        shown.contains("ana") && shown.contains("<redacted>"),
        "{shown}"
    );
    assert!(
        !shown.contains("argon2id") && !shown.contains("aGFzaGhh"),
        "{shown}"
    );
    assert!(
        !shown.contains("0123456789") && !shown.contains("48, 49"),
        "{shown}"
    );
}

#[test]
fn the_last_allowed_failure_locks_the_account_and_starts_the_count_again() {
    let t = testkit::store();
    t.store.create_staff(&new_staff("ana")).unwrap();
    let ana = agent("ana");
    let fail = |ms| t.store.login_failed(&ana, at(ms), 3, 60_000).unwrap();
    assert_eq!(
        fail(0),
        LoginState {
            failures: 1,
            locked_until: None
        }
    );
    assert_eq!(
        fail(1),
        LoginState {
            failures: 2,
            locked_until: None
        }
    );
    let locked = fail(2);
    assert_eq!(
        locked,
        LoginState {
            failures: 0,
            locked_until: Some(at(60_002))
        }
    );
    assert!(locked.is_locked());
    let stored = account(&t, "ana");
    assert!(stored.is_locked(at(60_001)) && !stored.is_locked(at(60_002)));
    assert_eq!(stored.failed_logins, 0);

    // Failing while locked neither counts nor extends the lockout.
    assert_eq!(fail(30_000), locked);
    assert_eq!(fail(59_000), locked);
    // After it expires the count starts from nothing.
    assert_eq!(
        fail(60_002),
        LoginState {
            failures: 1,
            locked_until: None
        }
    );
    assert_eq!(account(&t, "ana").failed_logins, 1);
    assert_eq!(
        account(&t, "ana").version,
        1,
        "sign-in bookkeeping is no account change"
    );

    let unknown = t.store.login_failed(&agent("nobody"), at(0), 3, 60_000);
    assert!(matches!(unknown, Err(StaffError::NoSuchStaff(_))));
    for (max, lock) in [(0, 60_000), (3, 0), (3, -1)] {
        let err = t
            .store
            .login_failed(&ana, at(70_000), max, lock)
            .unwrap_err();
        assert!(
            matches!(err, StaffError::Write(WriteError::Invalid(_))),
            "{err}"
        );
    }
    assert_eq!(
        account(&t, "ana").failed_logins,
        1,
        "a refused policy counted nothing"
    );
}

#[test]
fn a_success_records_the_step_and_a_replayed_code_is_refused() {
    let t = testkit::store();
    t.store.create_staff(&new_staff("ana")).unwrap();
    let ana = agent("ana");
    t.store.login_failed(&ana, at(0), 5, 60_000).unwrap();
    t.store.login_failed(&ana, at(1), 5, 60_000).unwrap();
    t.store.login_succeeded(&ana, 1000, at(2)).unwrap();
    let stored = account(&t, "ana");
    assert_eq!(stored.totp_last_step, Some(1000));
    assert_eq!(stored.failed_logins, 0);
    assert_eq!(stored.last_login_at, Some(at(2)));

    for step in [1000, 999, 0] {
        let err = t.store.login_succeeded(&ana, step, at(3)).unwrap_err();
        assert!(
            matches!(err, StaffError::ReplayedCode { step: s, last: 1000 } if s == step),
            "{err}"
        );
    }
    assert_eq!(
        account(&t, "ana").last_login_at,
        Some(at(2)),
        "a replay records nothing"
    );
    t.store.login_succeeded(&ana, 1001, at(30_000)).unwrap();
    assert_eq!(account(&t, "ana").totp_last_step, Some(1001));

    let huge = t
        .store
        .login_succeeded(&ana, u64::MAX, at(30_001))
        .unwrap_err();
    assert!(
        matches!(huge, StaffError::Write(WriteError::Invalid(_))),
        "{huge}"
    );
    let unknown = t.store.login_succeeded(&agent("nobody"), 5, at(0));
    assert!(matches!(unknown, Err(StaffError::NoSuchStaff(_))));
}

#[test]
fn a_locked_or_disabled_account_cannot_record_a_success() {
    let t = testkit::store();
    t.store.create_staff(&new_staff("ana")).unwrap();
    let ana = agent("ana");
    t.store.login_failed(&ana, at(0), 1, 60_000).unwrap();
    let err = t.store.login_succeeded(&ana, 7, at(59_999)).unwrap_err();
    assert!(
        matches!(err, StaffError::Locked { until } if until == at(60_000)),
        "{err}"
    );
    assert_eq!(
        account(&t, "ana").totp_last_step,
        None,
        "the step was not spent"
    );

    // Once the lockout has passed, a success clears it.
    t.store.login_succeeded(&ana, 7, at(60_000)).unwrap();
    assert_eq!(account(&t, "ana").locked_until, None);

    t.store.set_disabled(&ana, true).unwrap();
    let err = t.store.login_succeeded(&ana, 8, at(70_000)).unwrap_err();
    assert!(matches!(err, StaffError::Disabled), "{err}");
    t.store.set_disabled(&ana, false).unwrap();
    t.store.login_succeeded(&ana, 8, at(70_000)).unwrap();
}

#[test]
fn racing_sign_ins_with_one_code_succeed_once() {
    let t = testkit::store();
    t.store.create_staff(&new_staff("ana")).unwrap();
    let store = Arc::new(t.store);
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || store.login_succeeded(&agent("ana"), 42, at(0)))
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(results.iter().all(|r| matches!(
        r,
        Ok(()) | Err(StaffError::ReplayedCode { step: 42, last: 42 })
    )));
}

#[test]
fn account_changes_bump_the_version_and_reach_the_account() {
    let t = testkit::store();
    t.store.create_staff(&new_staff("ana")).unwrap();
    let ana = agent("ana");
    let phc2 = PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$bmV3c2FsdA$bmV3aGFzaA").unwrap();

    t.clock.advance_ms(1000);
    t.store.set_password(&ana, &phc2).unwrap();
    let stored = account(&t, "ana");
    assert_eq!(
        (stored.password_phc, stored.version, stored.updated_at),
        (phc2, 2, at(1000))
    );
    assert_eq!(stored.created_at, at(0));

    t.store.set_totp(&ana, None).unwrap();
    assert_eq!(account(&t, "ana").totp_secret, None);
    let secret = TotpSecret::new([7u8; 32]).unwrap();
    t.store.set_totp(&ana, Some(&secret)).unwrap();
    assert_eq!(account(&t, "ana").totp_secret, Some(secret));

    t.store.set_disabled(&ana, true).unwrap();
    let stored = account(&t, "ana");
    assert!(stored.disabled);
    assert_eq!(stored.version, 5);

    let nobody = agent("nobody");
    assert!(matches!(
        t.store.set_password(&nobody, &stored.password_phc),
        Err(StaffError::NoSuchStaff(_))
    ));
    assert!(matches!(
        t.store.set_totp(&nobody, None),
        Err(StaffError::NoSuchStaff(_))
    ));
    assert!(matches!(
        t.store.set_disabled(&nobody, true),
        Err(StaffError::NoSuchStaff(_))
    ));
}

#[test]
fn too_many_languages_are_refused() {
    let t = testkit::store();
    let mut new = new_staff("ana");
    new.languages = (0..=MAX_STAFF_LANGUAGES)
        .map(|i| Language::new(format!("l{}", char::from(b'a' + i as u8))).unwrap())
        .collect();
    let err = t.store.create_staff(&new).unwrap_err();
    assert!(
        matches!(err, StaffError::Write(WriteError::Invalid(_))),
        "{err}"
    );
    assert_eq!(t.store.staff(&agent("ana")).unwrap(), None);
    new.languages.pop();
    t.store.create_staff(&new).unwrap();
    assert_eq!(account(&t, "ana").languages.len(), MAX_STAFF_LANGUAGES);
}
