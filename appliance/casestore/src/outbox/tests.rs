use std::time::Duration;

use crate::testkit::{self, new_case};
use crate::{EventKind, OutboxId, Timestamp, WriteError};

#[test]
fn events_are_leased_retried_and_leave_only_when_done() {
    let t = testkit::store();
    for body in ["a", "b", "c"] {
        t.store.create_case(&new_case(body)).unwrap();
    }
    let lease = Duration::from_secs(30);
    let first = t.store.outbox_claim(2, lease).unwrap();
    assert_eq!(first.len(), 2);
    assert!(
        first
            .iter()
            .all(|e| e.kind == EventKind::CaseCreated && e.attempts == 0)
    );
    let second = t.store.outbox_claim(10, lease).unwrap();
    assert_eq!(second.len(), 1, "leased events are not handed out twice");
    assert!(second[0].id > first[1].id);

    t.store.outbox_done(first[0].id).unwrap();
    let retry_at = Timestamp::from_unix_ms(testkit::T0 + 60_000);
    t.store
        .outbox_failed(first[1].id, &"smtp 451 ".repeat(500), retry_at)
        .unwrap();
    assert_eq!(t.store.outbox_len().unwrap(), 2);

    // The third event's worker died: its lease runs out and it comes back.
    t.clock.advance_ms(31_000);
    let again = t.store.outbox_claim(10, lease).unwrap();
    assert_eq!(
        again.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![second[0].id]
    );

    t.clock.set(retry_at);
    let retried = t.store.outbox_claim(10, lease).unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!((retried[0].id, retried[0].attempts), (first[1].id, 1));
    assert_eq!(
        retried[0].last_error.as_ref().map(|e| e.chars().count()),
        Some(1000)
    );

    assert!(matches!(
        t.store.outbox_done(first[0].id),
        Err(WriteError::NotFound { .. })
    ));
    assert!(matches!(
        t.store.outbox_failed(OutboxId::from_raw(77), "x", retry_at),
        Err(WriteError::NotFound { .. })
    ));
    for e in again.iter().chain(&retried) {
        t.store.outbox_done(e.id).unwrap();
    }
    assert_eq!(t.store.outbox_len().unwrap(), 0);
}
