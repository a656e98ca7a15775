//! Queue pages sort and filter on every field an agent narrows work by: priority, type,
//! language, channel and age, in urgency, oldest-first or newest-first order.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/harness.rs"]
mod support;

use casestore::{
    Channel, ImportedCase, Language, Priority, Sensitivity, StaffRole, Status, Timestamp, TypeCode,
};
use support::{Env, PARIS, Route, Session, new_case, row_numbers, unix_now};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// The rows of `path` in page order, as letters of the cases below.
async fn letters(session: &Session, path: &str, numbers: &[(char, String)]) -> String {
    let page = session.get(path).await;
    assert_eq!(page.status, 200, "{path}: {}", page.body);
    row_numbers(&page.body)
        .iter()
        .map(|n| {
            numbers
                .iter()
                .find(|(_, no)| no == n)
                .map_or('?', |(letter, _)| *letter)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_pages_sort_and_filter_on_every_field() {
    let env = Env::start().await;
    let now = i64::try_from(unix_now()).unwrap() * 1000;
    // letter, priority, type, language, channel, age
    let spec = [
        ('a', Priority::P1, "A1.1", "ro", Channel::Web, 10 * DAY),
        ('b', Priority::P3, "C1", "en", Channel::Email, 2 * DAY),
        ('c', Priority::P2, "D1", "fr", Channel::Im, 40 * DAY),
        ('d', Priority::P3, "A1.1", "en", Channel::WalkIn, HOUR),
    ];
    let batch: Vec<ImportedCase> = spec
        .iter()
        .map(|&(_, priority, code, language, channel, age)| {
            let mut case = new_case(PARIS, Sensitivity::Normal, priority, "Cerere.");
            case.case_type.code = TypeCode::new(code).unwrap();
            case.language = Language::new(language).unwrap();
            case.channel = channel;
            ImportedCase {
                received_at: Timestamp::from_unix_ms(now - age),
                case,
                status: Status::New,
                assignee: None,
            }
        })
        .collect();
    let created = env.store.bulk_import(&batch).unwrap();
    let numbers: Vec<(char, String)> = spec
        .iter()
        .zip(&created)
        .map(|(s, c)| (s.0, c.case_no.to_string()))
        .collect();
    let officer = env.account("off.ana", StaffRole::Officer, PARIS);
    let session = env.login(&officer, &Route::paris()).await;

    let expected = [
        ("", "acbd"),
        ("?sort=urgency", "acbd"),
        // Whatever the order, the P1 case comes first.
        ("?sort=oldest", "acbd"),
        ("?sort=newest", "adbc"),
        ("?priority=p3", "bd"),
        ("?type=C1", "b"),
        ("?language=en&sort=newest", "db"),
        ("?channel=im", "c"),
        ("?channel=walk_in", "d"),
        ("?older_than=7", "ac"),
        ("?older_than=7&sort=newest", "ac"),
        ("?older_than=30", "c"),
        ("?older_than=1&priority=p3", "b"),
    ];
    for (query, want) in expected {
        let path = format!("/queues/unassigned{query}");
        assert_eq!(letters(&session, &path, &numbers).await, want, "{path}");
    }
    // The page offers every channel and the age choices, and keeps the choice made.
    let page = session.get("/queues/unassigned?older_than=7").await.body;
    for option in ["value=\"walk_in\"", "value=\"api\"", "value=\"im\""] {
        assert!(page.contains(option), "no {option}: {page}");
    }
    assert!(page.contains("value=\"7\" selected"), "{page}");
    for bad in ["older_than=0", "older_than=week", "older_than=99999"] {
        let refused = session.get(&format!("/queues/unassigned?{bad}")).await;
        assert_eq!(refused.status, 400, "{bad}: {}", refused.body);
        assert!(
            refused.body.contains("unknown age"),
            "{bad}: {}",
            refused.body
        );
    }
}
