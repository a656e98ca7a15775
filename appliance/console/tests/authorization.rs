//! The console applies the attribute rules of `access` on every page: cases out of reach look
//! missing, queues and their counts hold only what the agent may open, restricted reads are
//! audited, and forms naming another case cannot reach past the rules.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/harness.rs"]
mod support;

use casestore::{Priority, Sensitivity, StaffRole, Status};
use support::{BERLIN, CENTRAL, Case, Env, PARIS, Route, row_numbers, tab_count};

/// A case number of this year that no case has.
fn missing_number(existing: Case) -> String {
    format!("CSC-{:04}-9999999", existing.number.year())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_consulates_case_answers_exactly_like_a_missing_one() {
    let env = Env::start().await;
    let berliner = env.account("off.weber", StaffRole::Officer, BERLIN);
    let case = env.case(PARIS, Sensitivity::Normal);
    let session = env.login(&berliner, &Route::berlin()).await;

    let theirs = session.get(&case.url()).await;
    let missing = session
        .get(&format!("/cases/{}", missing_number(case)))
        .await;
    assert_eq!(theirs.status, 404);
    assert_eq!(missing.status, 404);
    assert_eq!(theirs.body, missing.body, "the two 404s differ");
    assert!(!theirs.body.contains(&case.number.to_string()));

    // Acting on it through a hand-made form answers the same.
    let theirs = session
        .post(
            &format!("{}/reply", case.url()),
            &[("version", "1"), ("body", "Hello")],
        )
        .await;
    let missing = session
        .post(
            &format!("/cases/{}/reply", missing_number(case)),
            &[("version", "1"), ("body", "Hello")],
        )
        .await;
    assert_eq!(theirs.status, 404);
    assert_eq!(theirs.body, missing.body);
    assert_eq!(env.case_now(case).version, 1);

    let denied = env.audit_of("console.case.denied");
    assert!(
        denied
            .iter()
            .any(|e| e["subject"] == case.number.to_string()
                && e["actor"] == "staff:off.weber@appliance:ro-emb-berlin/BER-01"),
        "the refused read is not audited: {denied:?}"
    );
}

/// Cases of every sensitivity in two consulates.
struct Spread {
    paris_normal: Case,
    paris_sensitive: Case,
    paris_restricted: Case,
    berlin_normal: Case,
    berlin_sensitive: Case,
}

fn spread(env: &Env) -> Spread {
    Spread {
        paris_normal: env.case(PARIS, Sensitivity::Normal),
        paris_sensitive: env.case_with(PARIS, Sensitivity::Sensitive, Priority::P1, "Accident."),
        paris_restricted: env.case_with(PARIS, Sensitivity::Restricted, Priority::P0, "Arrest."),
        berlin_normal: env.case(BERLIN, Sensitivity::Normal),
        berlin_sensitive: env.case_with(BERLIN, Sensitivity::Sensitive, Priority::P1, "Unfall."),
    }
}

fn numbers(cases: &[Case]) -> Vec<String> {
    let mut out: Vec<String> = cases.iter().map(|c| c.number.to_string()).collect();
    out.sort();
    out
}

fn sorted(mut rows: Vec<String>) -> Vec<String> {
    rows.sort();
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queues_and_their_counts_hold_only_what_the_agent_may_open() {
    let env = Env::start().await;
    let cases = spread(&env);
    let operator = env.account("op.ioana", StaffRole::Operator, CENTRAL);
    let officer = env.account("off.ana", StaffRole::Officer, PARIS);
    let consul = env.account("cons.maria", StaffRole::Consul, PARIS);

    // The central operator: every consulate, normal cases only.
    let session = env.login(&operator, &Route::Central).await;
    let page = session.get("/queues/unassigned").await;
    assert_eq!(page.status, 200);
    assert_eq!(
        sorted(row_numbers(&page.body)),
        numbers(&[cases.paris_normal, cases.berlin_normal])
    );
    assert_eq!(tab_count(&page.body, "unassigned"), 2);
    assert_eq!(tab_count(&page.body, "consulate"), 2);
    assert_eq!(tab_count(&page.body, "emergency"), 0);
    let emergency = session.get("/queues/emergency").await;
    assert_eq!(row_numbers(&emergency.body), Vec::<String>::new());
    // The live fragment is the same list.
    let fragment = session.get("/queues/unassigned/rows").await;
    assert_eq!(
        sorted(row_numbers(&fragment.body)),
        numbers(&[cases.paris_normal, cases.berlin_normal])
    );
    assert_eq!(tab_count(&fragment.body, "unassigned"), 2);
    // Narrowed to one consulate, still only normal cases.
    let paris_only = session
        .get("/queues/unassigned?consulate=ro-emb-paris")
        .await;
    assert_eq!(
        row_numbers(&paris_only.body),
        numbers(&[cases.paris_normal])
    );
    assert_eq!(tab_count(&paris_only.body, "unassigned"), 1);

    // The Paris officer: Paris only, restricted left out.
    let session = env.login(&officer, &Route::paris()).await;
    let page = session.get("/queues/unassigned").await;
    assert_eq!(
        sorted(row_numbers(&page.body)),
        numbers(&[cases.paris_normal, cases.paris_sensitive])
    );
    assert_eq!(tab_count(&page.body, "unassigned"), 2);
    assert_eq!(tab_count(&page.body, "emergency"), 1);
    let emergency = session.get("/queues/emergency").await;
    assert_eq!(
        row_numbers(&emergency.body),
        numbers(&[cases.paris_sensitive])
    );
    // Asking for Berlin's queue is refused, not answered with Berlin's cases.
    let berlin = session
        .get("/queues/unassigned?consulate=ro-emb-berlin")
        .await;
    assert_eq!(berlin.status, 403);
    assert!(
        !berlin
            .body
            .contains(&cases.berlin_normal.number.to_string())
    );
    // Each case out of reach is also out of reach by its number.
    for case in [cases.paris_restricted, cases.berlin_sensitive] {
        assert_eq!(session.get(&case.url()).await.status, 404);
    }

    // The Paris consul sees the restricted case too, in the rows and the counts.
    let session = env.login(&consul, &Route::paris()).await;
    let page = session.get("/queues/emergency").await;
    assert_eq!(
        sorted(row_numbers(&page.body)),
        numbers(&[cases.paris_sensitive, cases.paris_restricted])
    );
    assert_eq!(tab_count(&page.body, "unassigned"), 3);
    assert_eq!(tab_count(&page.body, "emergency"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_a_restricted_case_is_audited() {
    let env = Env::start().await;
    let restricted = env.case_with(PARIS, Sensitivity::Restricted, Priority::P0, "Arrest.");
    let normal = env.case(PARIS, Sensitivity::Normal);
    let consul = env.account("cons.maria", StaffRole::Consul, PARIS);
    let session = env.login(&consul, &Route::paris()).await;

    let page = session.get(&normal.url()).await;
    assert_eq!(page.status, 200);
    assert!(env.audit_of("console.case.read").is_empty());

    let page = session.get(&restricted.url()).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Arrest."));
    // Not kept by the browser of a shared computer, not framed by another page.
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert!(
        page.header("content-security-policy")
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    let reads = env.audit_of("console.case.read");
    assert_eq!(reads.len(), 1, "{reads:?}");
    assert_eq!(reads[0]["subject"], restricted.number.to_string());
    assert_eq!(
        reads[0]["actor"],
        "staff:cons.maria@appliance:ro-emb-paris/PAR-01"
    );
    assert_eq!(reads[0]["outcome"], "ok");
    assert_eq!(reads[0]["detail"]["sensitivity"], "restricted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_has_no_queues_and_no_cases() {
    let env = Env::start().await;
    let case = env.case(PARIS, Sensitivity::Normal);
    let admin = env.account("adm.elena", StaffRole::Administrator, CENTRAL);
    let session = env.login(&admin, &Route::Central).await;

    for queue in ["unassigned", "mine", "emergency", "consulate"] {
        let page = session.get(&format!("/queues/{queue}")).await;
        assert_eq!(page.status, 403, "{queue}");
        assert!(!page.body.contains("data-case"));
    }
    assert_eq!(session.get("/queues/unassigned/rows").await.status, 403);
    assert_eq!(session.get(&case.url()).await.status, 404);
    // Signing in lands on a page the administrator can use, not on a refusal.
    let home = session.get("/").await;
    assert!(home.status.is_redirection());
    let landing = session.get(home.location().unwrap()).await;
    assert_eq!(landing.status, 200, "{}", landing.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_naming_a_case_out_of_reach_changes_nothing() {
    let env = Env::start().await;
    let ours = env.case(PARIS, Sensitivity::Normal);
    let berlin = env.case(BERLIN, Sensitivity::Normal);
    let restricted = env.case_with(PARIS, Sensitivity::Restricted, Priority::P2, "Private.");
    let officer = env.account("off.ana", StaffRole::Officer, PARIS);
    let session = env.login(&officer, &Route::paris()).await;

    for other in [berlin, restricted] {
        let other_no = other.number.to_string();
        let merge = session
            .act(
                ours,
                "merge",
                &[("other", &other_no), ("reason", "same person")],
            )
            .await;
        assert_eq!(merge.status, 404, "merge into {other_no}: {}", merge.body);
        let link = session
            .act(
                ours,
                "link",
                &[("other", &other_no), ("link_kind", "related")],
            )
            .await;
        assert_eq!(link.status, 404, "link to {other_no}: {}", link.body);
        // Nothing moved on either side.
        assert_eq!(env.case_now(other).version, 1);
        assert_eq!(env.case_now(other).status, Status::New);
    }
    let after = env.case_now(ours);
    assert_eq!(after.version, 1);
    assert_eq!(after.status, Status::New);
    assert!(env.store.links(ours.id).unwrap().is_empty());
    assert!(env.store.merges_of(ours.id).unwrap().is_empty());
}

/// A supervisor may merge a Berlin case into a Paris one. A Paris officer then sees the Paris
/// case without the Berlin case's entries or number, and cannot pull the Berlin case back out:
/// un-merging changes both cases, so it needs both within reach.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merged_case_out_of_reach_is_neither_shown_nor_unmerged() {
    let env = Env::start().await;
    let paris = env.case_with(PARIS, Sensitivity::Normal, Priority::P3, "Mesaj din Paris.");
    let berlin = env.case_with(
        BERLIN,
        Sensitivity::Normal,
        Priority::P3,
        "Mesaj din Berlin.",
    );
    let linked = env.case_with(BERLIN, Sensitivity::Normal, Priority::P3, "Alt caz.");
    let supervisor = env.account("sup.mihai", StaffRole::Supervisor, CENTRAL);
    let central = env.login(&supervisor, &Route::Central).await;
    let paris_no = paris.number.to_string();
    central
        .act_ok(
            berlin,
            "merge",
            &[("other", &paris_no), ("reason", "the same family")],
        )
        .await;
    let linked_no = linked.number.to_string();
    central
        .act_ok(
            paris,
            "link",
            &[("other", &linked_no), ("link_kind", "related")],
        )
        .await;
    let (page, _) = central.open_case(paris).await;
    assert!(page.body.contains("Mesaj din Berlin."), "{}", page.body);
    assert!(support::field(&page.body, "merge_id").is_some());

    let officer = env.account("off.ana", StaffRole::Officer, PARIS);
    let session = env.login(&officer, &Route::paris()).await;
    let (page, _) = session.open_case(paris).await;
    assert!(page.body.contains("Mesaj din Paris."), "{}", page.body);
    for secret in ["Mesaj din Berlin.", &berlin.number.to_string(), &linked_no] {
        assert!(!page.body.contains(secret), "{secret} shown: {}", page.body);
    }
    assert!(
        support::element(&page.body, "hidden-entries").is_some(),
        "{}",
        page.body
    );
    assert_eq!(support::field(&page.body, "merge_id"), None);

    // The form the page does not offer, posted anyway.
    let merge_id = env.store.merges_of(paris.id).unwrap()[0]
        .id
        .get()
        .to_string();
    let refused = session
        .act(
            paris,
            "unmerge",
            &[("merge_id", &merge_id), ("reason", "not the same")],
        )
        .await;
    assert_eq!(refused.status, 404, "{}", refused.body);
    assert_eq!(env.case_now(berlin).status, Status::Merged);
    assert!(env.store.merges_of(paris.id).unwrap()[0].undone.is_none());

    // Whoever may open both cases can.
    central
        .act_ok(
            paris,
            "unmerge",
            &[("merge_id", &merge_id), ("reason", "not the same")],
        )
        .await;
    assert_eq!(env.case_now(berlin).status, Status::New);
}
