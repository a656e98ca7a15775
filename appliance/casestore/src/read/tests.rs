//! Reads are exercised by every other test module; this one covers what only they touch.

use crate::testkit::{self, new_case};

#[test]
fn a_store_edited_behind_its_back_reports_corruption() {
    let t = testkit::store();
    let case = t.store.create_case(&new_case("cerere")).unwrap().case_id;
    let conn = rusqlite::Connection::open(t.store.path()).unwrap();
    conn.execute(
        "UPDATE cases SET status = 'lost' WHERE id = ?1",
        [case.get()],
    )
    .unwrap();
    let err = t.store.case(case).unwrap_err();
    assert!(matches!(err, crate::ReadError::Corrupt(_)), "{err}");
    assert!(err.to_string().contains("lost"));
}

#[test]
fn unknown_ids_read_as_nothing() {
    let t = testkit::store();
    let nobody = crate::CaseId::from_raw(5);
    assert_eq!(t.store.case(nobody).unwrap(), None);
    assert!(t.store.messages(nobody, None).unwrap().is_empty());
    assert_eq!(
        t.store
            .case_id(crate::CaseNumber::new(2026, 5).unwrap())
            .unwrap(),
        None
    );
}
