use std::time::Duration;

use crate::testkit::{self, agent, new_case, note};
use crate::{
    CaseType, ChangedField, EventKind, Expect, Family, QueueFilter, QueueKind, QueueQuery,
    Sensitivities, Sensitivity, TypeCode, WriteError,
};

fn c1() -> CaseType {
    CaseType {
        code: TypeCode::new("C1").unwrap(),
        subtype: Some(TypeCode::new("C1.2").unwrap()),
        taxonomy_version: 2,
        family: Family::Protection,
    }
}

#[test]
fn a_new_type_moves_the_case_to_that_types_filter_and_is_logged() {
    let t = testkit::store();
    let case = t.store.create_case(&new_case("cerere")).unwrap().case_id;
    let filtered = |code: &str| {
        let query = QueueQuery {
            filter: QueueFilter {
                case_type: Some(TypeCode::new(code).unwrap()),
                ..QueueFilter::default()
            },
            ..QueueQuery::first(Some(testkit::consulate("RO-PAR")), QueueKind::Open)
        };
        t.store.queue(&query).unwrap().cases.len()
    };
    assert_eq!((filtered("A1.1"), filtered("C1")), (1, 0));
    for e in t.store.outbox_claim(10, Duration::from_secs(1)).unwrap() {
        t.store.outbox_done(e.id).unwrap();
    }
    let why = note("de fapt, cetățean arestat");
    t.store
        .change_type(case, &c1(), &agent("ana"), &why, Expect::Version(1))
        .unwrap();
    assert_eq!((filtered("A1.1"), filtered("C1")), (0, 1));
    let stored = t.store.case(case).unwrap().unwrap();
    assert_eq!(stored.case_type, c1());
    let log = t.store.changes(case).unwrap();
    assert_eq!(
        (log[0].field, log[0].from.as_deref(), log[0].to.as_deref()),
        (ChangedField::Type, Some("A1.1"), Some("C1"))
    );
    assert_eq!(log[0].note.as_ref(), Some(&why));
    let kinds: Vec<_> = t
        .store
        .outbox_claim(10, Duration::from_secs(1))
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, vec![EventKind::TypeChanged]);
    assert!(matches!(
        t.store
            .change_type(case, &c1(), &agent("ana"), &why, Expect::Any),
        Err(WriteError::Unchanged(_))
    ));
    assert_eq!(t.store.check_counters().unwrap(), vec![]);
}

#[test]
fn a_new_sensitivity_moves_the_case_between_readers() {
    let t = testkit::store();
    let case = t.store.create_case(&new_case("cerere")).unwrap().case_id;
    let paris = testkit::consulate("RO-PAR");
    let open_for = |set: Sensitivities| {
        let query = QueueQuery {
            sensitivities: set,
            ..QueueQuery::first(Some(paris.clone()), QueueKind::Open)
        };
        let page = t.store.queue(&query).unwrap().cases.len() as u64;
        let counted = t
            .store
            .queue_counts(Some(&paris), set)
            .unwrap()
            .get(QueueKind::Open);
        assert_eq!(page, counted, "{set:?}: pages and counts agree");
        page
    };
    let everyday = Sensitivities::only(Sensitivity::Normal).with(Sensitivity::Sensitive);
    assert_eq!(open_for(everyday), 1);
    // An agent answered: the time to that answer is counted where the case can be read.
    t.clock.advance_ms(120_000);
    let answer = crate::NewMessage {
        direction: crate::Direction::Out,
        channel: crate::Channel::Email,
        author: agent("ana"),
        visibility: crate::Visibility::External,
        language: crate::Language::new("ro").unwrap(),
        body: crate::Body::new("Vă sunăm azi.").unwrap(),
        attachments: Vec::new(),
    };
    t.store.add_message(case, &answer, Expect::Any).unwrap();
    let now = crate::Clock::now(&*t.clock);
    let answered = |set| {
        t.store
            .response_stats(
                Some(&paris),
                set,
                crate::StatMetric::FirstResponse,
                now,
                now,
            )
            .unwrap()
            .count
    };
    assert_eq!(answered(everyday), 1);
    let why = note("victimă a traficului");
    t.store
        .change_sensitivity(
            case,
            Sensitivity::Restricted,
            &agent("ana"),
            &why,
            Expect::Any,
        )
        .unwrap();
    assert_eq!(open_for(everyday), 0, "gone for readers without restricted");
    assert_eq!(answered(everyday), 0, "its answer time too");
    assert_eq!(answered(Sensitivities::only(Sensitivity::Restricted)), 1);
    assert_eq!(open_for(Sensitivities::only(Sensitivity::Restricted)), 1);
    assert_eq!(open_for(Sensitivities::ALL), 1);
    assert_eq!(open_for(Sensitivities::NONE), 0);
    assert_eq!(
        t.store.case(case).unwrap().unwrap().sensitivity,
        Sensitivity::Restricted
    );
    assert!(matches!(
        t.store.change_sensitivity(
            case,
            Sensitivity::Restricted,
            &agent("ana"),
            &why,
            Expect::Any
        ),
        Err(WriteError::Unchanged(_))
    ));
    assert_eq!(t.store.check_counters().unwrap(), vec![]);
}
