use crate::testkit::{self, agent, attachment, message, new_case, note};
use crate::{
    CaseId, Direction, Expect, LinkKind, NewReferral, Priority, ScanVerdict, Status, TimelineItem,
    Visibility,
};

/// A short name per entry, for comparing whole timelines.
fn names(items: &[TimelineItem]) -> Vec<(String, CaseId)> {
    items
        .iter()
        .map(|item| {
            let name = match item {
                TimelineItem::Message { message, .. } => format!("message {}", message.body),
                TimelineItem::StatusChange { change, .. } => format!("status {}", change.to),
                TimelineItem::FieldChange { change, .. } => format!("change {}", change.field),
                TimelineItem::Attachment { attachment, .. } => {
                    format!("attachment {}", attachment.verdict)
                }
                TimelineItem::Referral { referral, .. } => format!("referral {}", referral.body),
                TimelineItem::Link { link, .. } => format!("link {}", link.kind),
                TimelineItem::Merge { merge, .. } => format!("merge {}", merge.source),
                TimelineItem::Unmerge { merge, .. } => format!("unmerge {}", merge.source),
            };
            (name, item.case())
        })
        .collect()
}

#[test]
fn everything_that_happened_to_a_case_oldest_first() {
    let t = testkit::store();
    let case = t.store.create_case(&new_case("cerere")).unwrap().case_id;
    let other = t.store.create_case(&new_case("alta")).unwrap().case_id;
    let step = || t.clock.advance_ms(1000);
    step();
    let why = note("spital");
    t.store
        .change_priority(case, Priority::P1, &agent("ana"), &why, Expect::Any)
        .unwrap();
    step();
    let file = t
        .store
        .add_attachment(case, None, &attachment(b"scan"), Expect::Any)
        .unwrap();
    step();
    let reply = message(Direction::Out, Visibility::External, "răspuns");
    t.store.add_message(case, &reply, Expect::Any).unwrap();
    step();
    let referral = NewReferral {
        body: note("Spitalul din Lyon"),
        sent_at: None,
        due_at: None,
    };
    t.store
        .add_referral(case, &referral, &agent("ana"), Expect::Any)
        .unwrap();
    step();
    t.store
        .link_cases(
            other,
            case,
            LinkKind::SameFamily,
            &agent("ana"),
            Expect::Any,
        )
        .unwrap();
    step();
    t.store
        .change_status(case, Status::Resolved, &agent("ana"), None, Expect::Any)
        .unwrap();
    // A verdict arriving later shows on the attachment where it was added.
    t.store.set_scan_verdict(file, ScanVerdict::Clean).unwrap();

    let items = t.store.timeline(case).unwrap();
    let want: Vec<(String, CaseId)> = [
        "status new",
        "message cerere",
        "change priority",
        "attachment clean",
        // The answer moves the case on in the same instant; status rows sort first.
        "status in_progress",
        "message răspuns",
        "referral Spitalul din Lyon",
        "link same_family",
        "status resolved",
    ]
    .iter()
    .map(|n| ((*n).to_owned(), case))
    .collect();
    assert_eq!(names(&items), want);
    assert!(items.windows(2).all(|w| w[0].at() <= w[1].at()));
    let Some(TimelineItem::Referral { referral, .. }) = items.get(6) else {
        panic!("{items:?}");
    };
    assert_eq!(referral.actor, Some(agent("ana")));
    assert!(t.store.timeline(CaseId::from_raw(99)).unwrap().is_empty());
}

#[test]
fn a_merged_cases_entries_show_in_the_target_while_the_merge_stands() {
    let t = testkit::store();
    let into = t
        .store
        .create_case(&new_case("prima cerere"))
        .unwrap()
        .case_id;
    t.clock.advance_ms(1000);
    let source = t
        .store
        .create_case(&new_case("a doua cerere"))
        .unwrap()
        .case_id;
    t.clock.advance_ms(1000);
    let why = note("duplicat");
    let merge = t
        .store
        .merge(source, into, &agent("ana"), &why, Expect::Any, Expect::Any)
        .unwrap();
    t.clock.advance_ms(1000);
    let late = message(Direction::In, Visibility::External, "completare");
    t.store.add_message(source, &late, Expect::Any).unwrap();

    let merged = names(&t.store.timeline(into).unwrap());
    let own = |n: &str| (n.to_owned(), into);
    let theirs = |n: &str| (n.to_owned(), source);
    let merge_name = format!("merge {source}");
    assert_eq!(
        merged,
        vec![
            own("status new"),
            own("message prima cerere"),
            theirs("status new"),
            theirs("message a doua cerere"),
            theirs("status merged"),
            own(&merge_name),
            theirs("message completare"),
        ],
        "the source's entries, named as its own, and the merge once"
    );

    t.clock.advance_ms(1000);
    t.store
        .unmerge(
            merge,
            &agent("sup"),
            &note("greșit"),
            Expect::Any,
            Expect::Any,
        )
        .unwrap();
    let after = names(&t.store.timeline(into).unwrap());
    let unmerge_name = format!("unmerge {source}");
    assert_eq!(
        after,
        vec![
            own("status new"),
            own("message prima cerere"),
            own(&merge_name),
            own(&unmerge_name),
        ],
        "un-merged, the source's entries leave; the merge stays on record"
    );
    let source_side = names(&t.store.timeline(source).unwrap());
    assert!(source_side.contains(&(merge_name, source)));
    assert!(source_side.contains(&(unmerge_name, source)));
    assert!(source_side.contains(&("status new".to_owned(), source)));
}
