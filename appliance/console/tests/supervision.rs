//! What consuls and supervisors see beyond the queues: break-glass access to a case outside
//! a consul's reach, its log, and the dashboard with its CSV export.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/harness.rs"]
mod support;

use casestore::{
    Actor, Expect, Priority, QueueKind, Sensitivities, Sensitivity, StaffRole, Status, Timestamp,
};
use support::{BERLIN, CENTRAL, Env, PARIS, Route};

const REASON: &str = "Citizen detained in Berlin; the family called the Paris duty line.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consul_breaks_glass_with_a_reason_and_it_is_seen() {
    let env = Env::start().await;
    let case = env.case_with(BERLIN, Sensitivity::Sensitive, Priority::P1, "Verhaftet.");
    let consul = env.account("cons.maria", StaffRole::Consul, PARIS);
    let officer = env.account("off.ana", StaffRole::Officer, PARIS);
    let supervisor = env.account("sup.mihai", StaffRole::Supervisor, CENTRAL);
    let number = case.number.to_string();
    let grants = || {
        env.store
            .grants_since(Timestamp::from_unix_ms(0))
            .unwrap()
            .len()
    };

    let session = env.login(&consul, &Route::paris()).await;
    assert_eq!(session.get(&case.url()).await.status, 404);
    let form = session.get("/break-glass").await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("action=\"/break-glass\""));

    // A reason too short to mean anything is refused, and nothing is granted.
    let short = session
        .post(
            "/break-glass",
            &[("case", &number), ("reason", "urgent"), ("minutes", "30")],
        )
        .await;
    assert_eq!(short.status, 400, "{}", short.body);
    assert_eq!(grants(), 0);
    assert_eq!(session.get(&case.url()).await.status, 404);

    let granted = session
        .post(
            "/break-glass",
            &[("case", &number), ("reason", REASON), ("minutes", "30")],
        )
        .await;
    assert!(granted.status.is_redirection(), "{}", granted.body);
    assert_eq!(granted.location(), Some(case.url().as_str()));
    assert_eq!(grants(), 1);
    let page = session.get(&case.url()).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Verhaftet."));
    assert!(
        page.body.contains("through break-glass access"),
        "the page does not say how it was opened"
    );

    let outcomes: Vec<String> = env
        .audit_of("console.break_glass")
        .iter()
        .map(|e| e["outcome"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(outcomes, ["denied", "ok"]);
    let ok = &env.audit_of("console.break_glass")[1];
    assert_eq!(ok["subject"], number);
    assert_eq!(ok["detail"]["reason"], REASON);
    let reads = env.audit_of("console.case.read");
    assert!(
        reads
            .iter()
            .any(|e| e["subject"] == number && e["detail"]["via_break_glass"] == true),
        "the read through break-glass is not audited: {reads:?}"
    );

    // A grant opens the case for reading and writing to it, not for taking it over.
    let claim = session.act(case, "claim", &[]).await;
    assert_eq!(claim.status, 403, "{}", claim.body);
    assert_eq!(env.case_now(case).assignee, None);
    session
        .act_ok(case, "note", &[("body", "Called the Berlin police.")])
        .await;
    let change = env.audit_of("console.case.change");
    assert_eq!(change.len(), 1);
    assert_eq!(change[0]["detail"]["via_break_glass"], true);

    // The supervisor sees who opened what, and why.
    let central = env.login(&supervisor, &Route::Central).await;
    let log = central.get("/break-glass").await;
    assert_eq!(log.status, 200);
    let table = &log.body[log.body.find("id=\"grants\"").unwrap()..];
    assert!(table.contains("cons.maria"));
    assert!(table.contains(&number));
    assert!(table.contains("Citizen detained in Berlin"));
    // The supervisor cannot break glass: no form.
    assert!(!log.body.contains("action=\"/break-glass\""));

    // An officer may not break glass at all, and learns nothing about the case.
    let officer = env.login(&officer, &Route::paris()).await;
    let refused = officer
        .post(
            "/break-glass",
            &[("case", &number), ("reason", REASON), ("minutes", "30")],
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(grants(), 1);
    assert_eq!(officer.get(&case.url()).await.status, 404);
    assert_eq!(officer.get("/break-glass").await.status, 403);
}

/// A consulate's "by status and priority" table, each priority's column (P0–P4) summed over
/// the statuses; `None` when the table is not shown.
fn by_priority(page: &str, consulate: &str) -> Option<[u64; 5]> {
    let at = page.find(&format!("<h3>{consulate}</h3>"))?;
    let table = &page[at..at + page[at..].find("</table>").unwrap()];
    let mut sums = [0; 5];
    for row in table.split("<th scope=\"row\">").skip(1) {
        for (sum, cell) in sums.iter_mut().zip(row.split("<td>").skip(1)) {
            *sum += cell[..cell.find('<').unwrap()].parse::<u64>().unwrap();
        }
    }
    Some(sums)
}

/// One CSV data row as (consulate, open, emergency, oldest open case).
fn csv_rows(csv: &str) -> Vec<(String, u64, u64, String)> {
    csv.lines()
        .skip(1)
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            assert_eq!(cells.len(), 17, "{line}");
            (
                cells[0].to_owned(),
                cells[1].parse().unwrap(),
                cells[3].parse().unwrap(),
                cells[8].to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_counts_what_its_viewer_may_see() {
    let env = Env::start().await;
    // The oldest case in Paris is restricted: it must not show in a supervisor's figures.
    let restricted = env.case_with(PARIS, Sensitivity::Restricted, Priority::P0, "Arrest.");
    let normal = env.case(PARIS, Sensitivity::Normal);
    env.case_with(PARIS, Sensitivity::Sensitive, Priority::P1, "Accident.");
    let closed = env.case(PARIS, Sensitivity::Normal);
    env.store
        .change_status(closed.id, Status::Closed, &Actor::System, None, Expect::Any)
        .unwrap();
    env.case(BERLIN, Sensitivity::Normal);
    let supervisor = env.account("sup.mihai", StaffRole::Supervisor, CENTRAL);
    let consul = env.account("cons.maria", StaffRole::Consul, PARIS);
    let officer = env.account("off.ana", StaffRole::Officer, PARIS);

    let session = env.login(&supervisor, &Route::Central).await;
    let page = session.get("/dashboard").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("id=\"dashboard\""));
    assert!(!page.body.contains(&restricted.number.to_string()));
    // The status-by-priority table is shown, counted within the supervisor's reach: the
    // sensitive P1 and the normal P3 case, not the restricted P0 one, nor the closed one.
    assert_eq!(
        by_priority(&page.body, PARIS),
        Some([0, 1, 0, 1, 0]),
        "the table is withheld, or the restricted P0 case is counted"
    );
    assert_eq!(by_priority(&page.body, BERLIN), Some([0, 0, 0, 1, 0]));
    assert!(!page.body.contains("by-status-withheld"));

    let csv = session.get("/dashboard.csv").await;
    assert_eq!(csv.status, 200);
    assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
    assert_eq!(csv.header("cache-control"), Some("no-store"));
    assert!(
        csv.body
            .starts_with("consulate,open,unassigned,emergency,unacknowledged_emergencies,")
    );
    let rows = csv_rows(&csv.body);
    assert_eq!(
        rows,
        [
            (BERLIN.to_owned(), 1, 0, rows[0].3.clone()),
            (PARIS.to_owned(), 2, 1, normal.number.to_string()),
        ]
    );
    // The same figures as the store's counters within the supervisor's reach.
    let within = Sensitivities::of(&[Sensitivity::Normal, Sensitivity::Sensitive]);
    for (consulate, open, ..) in &rows {
        let counts = env
            .store
            .queue_counts(
                Some(&casestore::ConsulateId::new(consulate).unwrap()),
                within,
            )
            .unwrap();
        assert_eq!(*open, counts.get(QueueKind::Open), "{consulate}");
        let in_table: u64 = by_priority(&page.body, consulate).unwrap().iter().sum();
        assert_eq!(in_table, *open, "{consulate}");
    }
    assert_eq!(env.audit_of("console.export").len(), 1);

    // The Paris consul: their consulate only, restricted cases included.
    let session = env.login(&consul, &Route::paris()).await;
    let csv = session.get("/dashboard.csv").await;
    assert_eq!(csv.status, 200);
    assert_eq!(
        csv_rows(&csv.body),
        [(PARIS.to_owned(), 3, 2, restricted.number.to_string())]
    );
    let page = session.get("/dashboard").await;
    assert_eq!(page.status, 200);
    assert_eq!(
        by_priority(&page.body, PARIS),
        Some([1, 1, 0, 1, 0]),
        "the consul's table counts the restricted P0 case"
    );

    assert!(
        page.body.contains("href=\"/dashboard\""),
        "the consul's menu"
    );

    let session = env.login(&officer, &Route::paris()).await;
    assert_eq!(session.get("/dashboard").await.status, 403);
    assert_eq!(session.get("/dashboard.csv").await.status, 403);
    // The menu offers none of the pages the officer is refused.
    let home = session.get("/queues/unassigned").await.body;
    for refused in [
        "/dashboard",
        "/outbox/dead",
        "/phone/queues",
        "/break-glass",
    ] {
        assert!(
            !home.contains(&format!("href=\"{refused}\"")),
            "{refused} offered: {home}"
        );
    }
}
