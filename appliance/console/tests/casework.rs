//! Case work through the forms of the case page: each action lands in the store and on the
//! page; a stale form loses nothing; a merge can be taken back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/harness.rs"]
mod support;

use std::time::Duration;

use casestore::{Direction, EventKind, Priority, Sensitivity, StaffRole, Status, Visibility};
use support::{Case, Env, PARIS, Route, Session, element, field, tab_count};

/// Outbox events of `case` of `kind`, with their detail.
fn events(env: &Env, case: Case, kind: EventKind) -> Vec<serde_json::Value> {
    env.store
        .outbox_claim(1000, Duration::from_secs(3600))
        .unwrap()
        .into_iter()
        .filter(|e| e.case == case.id && e.kind == kind)
        .map(|e| e.detail)
        .collect()
}

fn staff_messages(env: &Env, case: Case) -> Vec<(Visibility, String)> {
    env.store
        .messages(case.id, None)
        .unwrap()
        .into_iter()
        .filter(|m| m.direction == Direction::Out)
        .map(|m| (m.visibility, m.body.as_str().to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_reply_and_note() {
    let env = Env::start().await;
    let case = env.case(PARIS, Sensitivity::Normal);
    let officer = env.account("off.ana", StaffRole::Officer, PARIS);
    let session = env.login(&officer, &Route::paris()).await;

    let (page, _) = session.open_case(case).await;
    assert!(page.body.contains("id=\"claim\""), "no claim button");
    session.act_ok(case, "claim", &[]).await;
    assert_eq!(
        env.case_now(case)
            .assignee
            .map(|a| a.to_string())
            .as_deref(),
        Some("off.ana")
    );
    let (page, _) = session.open_case(case).await;
    assert_eq!(element(&page.body, "assignee").as_deref(), Some("off.ana"));
    assert!(!page.body.contains("id=\"claim\""), "claim offered twice");
    let queue = session.get("/queues/mine").await;
    assert_eq!(tab_count(&queue.body, "mine"), 1);
    assert_eq!(tab_count(&queue.body, "unassigned"), 0);

    // A reply template starts the box in the citizen's language, naming the case and agent.
    let templated = session
        .get(&format!("{}?template=acknowledge", case.url()))
        .await;
    let draft = element(&templated.body, "reply").unwrap();
    assert!(draft.starts_with("Bună ziua, Ana Cetățean"), "{draft}");
    assert!(draft.contains(&case.number.to_string()));
    assert!(draft.contains("Test off.ana"));

    let reply = "Bună ziua, vă rugăm să aduceți pașaportul vechi.";
    session.act_ok(case, "reply", &[("body", reply)]).await;
    let note = "Citizen called twice; be patient.";
    session.act_ok(case, "note", &[("body", note)]).await;

    assert_eq!(
        staff_messages(&env, case),
        [
            (Visibility::External, reply.to_owned()),
            (Visibility::Internal, note.to_owned())
        ]
    );
    // The reply is announced for delivery to the citizen; the note is marked internal.
    let announced = events(&env, case, EventKind::MessageAdded);
    let visibilities: Vec<&str> = announced
        .iter()
        .map(|d| d["visibility"].as_str().unwrap())
        .collect();
    assert_eq!(visibilities, ["external", "internal"]);

    let (page, _) = session.open_case(case).await;
    // Answering the citizen means someone is on it: no longer "new".
    assert_eq!(env.case_now(case).status, Status::InProgress);
    assert_eq!(
        element(&page.body, "status").as_deref(),
        Some("in_progress")
    );
    // The priority form starts at the case's own priority, never at P0.
    let priority = env.case_now(case).priority.code().to_lowercase();
    assert!(
        page.body
            .contains(&format!("<option value=\"{priority}\" selected>")),
        "the priority form does not start at {priority}"
    );
    let timeline = element_block(&page.body, "timeline");
    assert!(timeline.contains(reply), "{timeline}");
    assert!(timeline.contains("Reply sent by"), "{timeline}");
    assert!(timeline.contains(note));
    assert!(timeline.contains("Internal note by off.ana"));
    let changes = env.audit_of("console.case.change");
    let actions: Vec<&str> = changes
        .iter()
        .map(|e| e["detail"]["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["claim", "reply", "note"]);
}

/// The HTML of the element with `id` up to its closing tag of the same name.
fn element_block(page: &str, id: &str) -> String {
    let at = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id}"));
    let open = page[..at].rfind('<').unwrap();
    let tag: String = page[open + 1..]
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .collect();
    let end = page[at..].find(&format!("</{tag}>")).unwrap();
    page[open..at + end].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_priority_referral_link_and_closing() {
    let env = Env::start().await;
    let case = env.case(PARIS, Sensitivity::Normal);
    let other = env.case(PARIS, Sensitivity::Normal);
    let officer = env.account("off.ana", StaffRole::Officer, PARIS);
    let session = env.login(&officer, &Route::paris()).await;

    let documents = "Vă rugăm să încărcați copia cărții de identitate.";
    session
        .act_ok(case, "request-documents", &[("body", documents)])
        .await;
    assert_eq!(env.case_now(case).status, Status::WaitingCitizen);
    assert!(staff_messages(&env, case).contains(&(Visibility::External, documents.to_owned())));
    let (page, _) = session.open_case(case).await;
    assert_eq!(
        element(&page.body, "status").as_deref(),
        Some("waiting_citizen")
    );
    let queue = session.get("/queues/waiting").await;
    assert_eq!(tab_count(&queue.body, "waiting"), 1);

    session
        .act_ok(
            case,
            "priority",
            &[
                ("priority", "p1"),
                ("reason", "the passport expires tomorrow"),
            ],
        )
        .await;
    assert_eq!(env.case_now(case).priority, Priority::P1);
    let (page, _) = session.open_case(case).await;
    let timeline = element_block(&page.body, "timeline");
    assert!(
        timeline.contains("priority P3 → P1 by off.ana"),
        "{timeline}"
    );
    // The header shows the new priority and the form offers it as the current one.
    assert!(page.body.contains("<small class=\"p1\">P1</small>"));
    assert!(page.body.contains("<option value=\"p1\" selected>"));
    assert!(timeline.contains("the passport expires tomorrow"));

    session
        .act_ok(
            case,
            "refer",
            &[("referral_body", "Prefectura Ilfov"), ("due_days", "7")],
        )
        .await;
    assert_eq!(env.store.referrals(case.id).unwrap().len(), 1);
    let (page, _) = session.open_case(case).await;
    assert!(
        page.body
            .contains("Referred to Prefectura Ilfov, answer due")
    );
    // The body's acknowledgement and its answer are recorded against that referral.
    let referral = env.store.referrals(case.id).unwrap()[0]
        .id
        .get()
        .to_string();
    session
        .act_ok(case, "referral", &[("referral_id", &referral)])
        .await;
    session
        .act_ok(
            case,
            "referral",
            &[
                ("referral_id", &referral),
                ("referral_outcome", "Actul a fost eliberat"),
            ],
        )
        .await;
    let done = &env.store.referrals(case.id).unwrap()[0];
    assert!(done.acknowledged_at.is_some());
    assert_eq!(
        done.outcome.as_ref().map(|o| o.as_str()),
        Some("Actul a fost eliberat")
    );
    let (page, _) = session.open_case(case).await;
    assert!(
        page.body.contains("outcome: Actul a fost eliberat"),
        "{}",
        page.body
    );
    // A referral of another case is not this case's to update.
    let foreign = session
        .act(
            other,
            "referral",
            &[("referral_id", &referral), ("referral_outcome", "x")],
        )
        .await;
    assert_eq!(foreign.status, 404);

    let other_no = other.number.to_string();
    session
        .act_ok(
            case,
            "link",
            &[("other", &other_no), ("link_kind", "same_family")],
        )
        .await;
    let links = env.store.links(case.id).unwrap();
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].other, other.id);
    let (page, _) = session.open_case(case).await;
    assert!(
        page.body
            .contains(&format!("Linked as same_family {other_no} by off.ana")),
        "{}",
        element_block(&page.body, "timeline")
    );

    session
        .act_ok(
            case,
            "close",
            &[
                ("outcome", "documents_issued"),
                ("reason", "passport issued"),
            ],
        )
        .await;
    assert_eq!(env.case_now(case).status, Status::Closed);
    let (page, _) = session.open_case(case).await;
    assert_eq!(element(&page.body, "status").as_deref(), Some("closed"));
    assert!(
        page.body
            .contains("outcome: documents_issued — passport issued")
    );
    // An outcome the console does not know is refused and changes nothing.
    let closed_version = env.case_now(case).version;
    let refused = session
        .act(other, "close", &[("outcome", "vanished")])
        .await;
    assert_eq!(refused.status, 400);
    assert_eq!(env.case_now(other).status, Status::New);
    assert_eq!(env.case_now(case).version, closed_version);
}

/// Two agents on the same case version: the first change wins; the second agent sees the
/// case as it is now, told why, with their text still in the box it was typed in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_second_of_two_concurrent_changes_is_refused_and_keeps_its_text() {
    let env = Env::start().await;
    let case = env.case(PARIS, Sensitivity::Normal);
    let ana = env.account("off.ana", StaffRole::Officer, PARIS);
    let dan = env.account("off.dan", StaffRole::Officer, PARIS);
    let first = env.login(&ana, &Route::paris()).await;
    let second = env.login(&dan, &Route::paris()).await;

    for (action, box_id, first_text, second_text) in [
        (
            "reply",
            "reply",
            "Answer from Ana.",
            "A longer answer from Dan <with care>.",
        ),
        (
            "note",
            "note",
            "Note from Ana.",
            "Note from Dan: never send this.",
        ),
        (
            "request-documents",
            "docs",
            "Ana asks: birth certificate.",
            "Dan asks: marriage certificate.",
        ),
    ] {
        let (_, seen_by_first) = first.open_case(case).await;
        let (_, seen_by_second) = second.open_case(case).await;
        assert_eq!(seen_by_first, seen_by_second);
        let version = seen_by_first.to_string();
        let url = format!("{}/{action}", case.url());

        let won = first
            .post(&url, &[("version", &version), ("body", first_text)])
            .await;
        assert!(won.status.is_redirection(), "{action}: {}", won.body);
        let lost = second
            .post(&url, &[("version", &version), ("body", second_text)])
            .await;
        assert_eq!(lost.status, 409, "{action}: {}", lost.body);
        let notice = element(&lost.body, "notice").expect("a notice");
        assert!(notice.contains("Someone changed this case"), "{notice}");
        let escaped = second_text.replace('<', "&lt;").replace('>', "&gt;");
        assert_eq!(
            element(&lost.body, box_id).as_deref(),
            Some(escaped.as_str()),
            "{action}: the text is not back in its box"
        );
        // Nowhere else: a note must never come back in the reply box.
        assert_eq!(lost.body.matches(&escaped).count(), 1, "{action}");
        // The page shows the winner's change and carries the new version for a retry.
        assert!(lost.body.contains(first_text), "{action}");
        let fresh = field(&lost.body, "version").unwrap();
        assert_eq!(fresh, env.case_now(case).version.to_string());

        let bodies: Vec<String> = staff_messages(&env, case)
            .into_iter()
            .map(|(_, body)| body)
            .collect();
        assert!(bodies.contains(&first_text.to_owned()));
        assert!(!bodies.contains(&second_text.to_owned()), "{action}");
    }
    assert_eq!(staff_messages(&env, case).len(), 3);
}

fn counts(page: &str) -> (u64, u64, u64) {
    (
        tab_count(page, "unassigned"),
        tab_count(page, "mine"),
        tab_count(page, "consulate"),
    )
}

async fn queue_counts(session: &Session) -> (u64, u64, u64) {
    let page = session.get("/queues/unassigned").await;
    assert_eq!(page.status, 200);
    counts(&page.body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_can_be_undone_and_restores_both_cases() {
    let env = Env::start().await;
    let source = env.case_with(
        PARIS,
        Sensitivity::Normal,
        Priority::P3,
        "Mesajul cazului sursă despre pașaport.",
    );
    let target = env.case_with(
        PARIS,
        Sensitivity::Normal,
        Priority::P2,
        "Mesajul cazului țintă.",
    );
    let officer = env.account("off.ana", StaffRole::Officer, PARIS);
    let session = env.login(&officer, &Route::paris()).await;
    session.act_ok(source, "claim", &[]).await;
    let source_before = env.case_now(source);
    let target_before = env.case_now(target);
    let counts_before = queue_counts(&session).await;
    assert_eq!(counts_before, (1, 1, 2));

    let target_no = target.number.to_string();
    session
        .act_ok(
            source,
            "merge",
            &[("other", &target_no), ("reason", "the same request twice")],
        )
        .await;
    assert_eq!(env.case_now(source).status, Status::Merged);
    assert_eq!(queue_counts(&session).await, (1, 0, 1));
    let (page, _) = session.open_case(target).await;
    let timeline = element_block(&page.body, "timeline");
    assert!(
        timeline.contains("Mesajul cazului sursă despre pașaport."),
        "the target does not show the source's messages: {timeline}"
    );
    assert!(timeline.contains(&format!("from {}", source.number)));
    let merge_id = field(&page.body, "merge_id").expect("an un-merge form");

    session
        .act_ok(
            target,
            "unmerge",
            &[
                ("merge_id", &merge_id),
                ("reason", "different passports after all"),
            ],
        )
        .await;
    let source_after = env.case_now(source);
    let target_after = env.case_now(target);
    assert_eq!(source_after.status, source_before.status);
    assert_eq!(source_after.assignee, source_before.assignee);
    assert_eq!(target_after.status, target_before.status);
    assert_eq!(target_after.assignee, target_before.assignee);
    assert_eq!(queue_counts(&session).await, counts_before);

    let (page, _) = session.open_case(target).await;
    let timeline = element_block(&page.body, "timeline");
    assert!(
        !timeline.contains("Mesajul cazului sursă"),
        "the source's messages stay on the target after un-merging: {timeline}"
    );
    assert!(timeline.contains("Mesajul cazului țintă."));
    let (page, _) = session.open_case(source).await;
    assert!(page.body.contains("Mesajul cazului sursă despre pașaport."));
    assert_eq!(element(&page.body, "assignee").as_deref(), Some("off.ana"));
}

/// Asking for documents sends a message and makes the case wait: a second request while it
/// waits is sent like the first, and a case that cannot wait sends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_can_be_asked_for_again_and_never_from_a_closed_case() {
    let env = Env::start().await;
    let case = env.case(PARIS, Sensitivity::Normal);
    let closed = env.case(PARIS, Sensitivity::Normal);
    let officer = env.account("off.ana", StaffRole::Officer, PARIS);
    let session = env.login(&officer, &Route::paris()).await;

    session
        .act_ok(
            case,
            "request-documents",
            &[("body", "Copia pașaportului.")],
        )
        .await;
    session
        .act_ok(
            case,
            "request-documents",
            &[("body", "Și certificatul de naștere.")],
        )
        .await;
    assert_eq!(env.case_now(case).status, Status::WaitingCitizen);
    assert_eq!(
        staff_messages(&env, case),
        [
            (Visibility::External, "Copia pașaportului.".to_owned()),
            (
                Visibility::External,
                "Și certificatul de naștere.".to_owned()
            )
        ]
    );

    session
        .act_ok(closed, "close", &[("outcome", "withdrawn")])
        .await;
    let refused = session
        .act(closed, "request-documents", &[("body", "Too late.")])
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(
        staff_messages(&env, closed).is_empty(),
        "a message went out although the request was refused"
    );
    assert_eq!(env.case_now(closed).status, Status::Closed);
}

/// A consul hands a case to an officer and to another, reclassifies it within the taxonomy
/// and restricts it; each change is on the timeline, and the officer's reach follows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assign_reassign_retype_and_restrict() {
    let env = Env::start().await;
    let case = env.case(PARIS, Sensitivity::Normal);
    let consul = env.account("cons.maria", StaffRole::Consul, PARIS);
    let ana = env.account("off.ana", StaffRole::Officer, PARIS);
    env.account("off.dan", StaffRole::Officer, PARIS);
    let session = env.login(&consul, &Route::paris()).await;
    let officer = env.login(&ana, &Route::paris()).await;

    session
        .act_ok(case, "assign", &[("assignee", "off.ana")])
        .await;
    assert_eq!(env.case_now(case).assignee.unwrap().as_str(), "off.ana");
    assert_eq!(
        tab_count(&officer.get("/queues/mine").await.body, "mine"),
        1
    );
    // An officer takes work but does not hand it out.
    let (page, _) = officer.open_case(case).await;
    assert!(!page.body.contains("/assign\""), "{}", page.body);
    let refused = officer
        .act(case, "assign", &[("assignee", "off.dan")])
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);

    session
        .act_ok(case, "assign", &[("assignee", "off.dan")])
        .await;
    assert_eq!(env.case_now(case).assignee.unwrap().as_str(), "off.dan");
    assert_eq!(
        tab_count(&officer.get("/queues/mine").await.body, "mine"),
        0
    );
    let nobody = session
        .act(case, "assign", &[("assignee", "off.ghost")])
        .await;
    assert_eq!(nobody.status, 400);
    assert!(
        nobody.body.contains("no active account off.ghost"),
        "{}",
        nobody.body
    );
    session.act_ok(case, "assign", &[("assignee", "")]).await;
    assert_eq!(env.case_now(case).assignee, None);

    // Types come from the taxonomy, and bring their family.
    let (page, _) = session.open_case(case).await;
    assert!(page.body.contains("<option value=\"C1\" "), "{}", page.body);
    let unknown = session
        .act(case, "type", &[("case_type", "Z9"), ("reason", "guess")])
        .await;
    assert_eq!(unknown.status, 400);
    assert!(
        unknown.body.contains("not a request type"),
        "{}",
        unknown.body
    );
    session
        .act_ok(
            case,
            "type",
            &[("case_type", "C1"), ("reason", "a child taken abroad")],
        )
        .await;
    let now = env.case_now(case);
    assert_eq!(now.case_type.code.as_str(), "C1");
    assert_eq!(now.case_type.family.code(), "protection");

    session
        .act_ok(
            case,
            "sensitivity",
            &[("sensitivity", "restricted"), ("reason", "a minor")],
        )
        .await;
    assert_eq!(env.case_now(case).sensitivity, Sensitivity::Restricted);
    let (page, _) = session.open_case(case).await;
    let timeline = element_block(&page.body, "timeline");
    for change in [
        "assignee — → off.ana by cons.maria",
        "assignee off.ana → off.dan by cons.maria",
        "assignee off.dan → — by cons.maria",
        "type A1.1 → C1 by cons.maria",
        "sensitivity normal → restricted by cons.maria",
    ] {
        assert!(timeline.contains(change), "no {change:?}: {timeline}");
    }
    // A restricted case no longer assigned to the officer is out of their reach.
    assert_eq!(officer.get(&case.url()).await.status, 404);
}
