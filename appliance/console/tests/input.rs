//! Hostile and careless input: markup is shown as text wherever it appears, pages are
//! bounded, and parameters, bodies and case numbers the console cannot use are refused
//! plainly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/harness.rs"]
mod support;

use casestore::{ImportedCase, Priority, Sensitivity, StaffRole, Status, Timestamp, Visibility};
use support::http::percent;
use support::{Env, PARIS, Req, Route, element, field, new_case, row_numbers, same_origin};

const SCRIPT: &str = "<script>alert(1)</script>";
const ATTRIBUTE: &str = "\"><img src=x onerror=alert(2)>";

/// The page shows the hostile text, if at all, only as text.
fn assert_inert(what: &str, body: &str) {
    assert!(!body.contains("<script>alert"), "{what}: a live <script>");
    assert!(!body.contains("<img src=x"), "{what}: a live <img>");
    assert!(
        !body.contains("\"><img"),
        "{what}: an attribute broken out of"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markup_is_shown_as_text_on_every_page() {
    let env = Env::start().await;
    let case = env.case(PARIS, Sensitivity::Normal);
    // A consul both works on cases and edits articles.
    let consul = env.account("cons.maria", StaffRole::Consul, PARIS);
    let session = env.login(&consul, &Route::paris()).await;
    let hostile = format!("{SCRIPT} {ATTRIBUTE}");

    session.act_ok(case, "reply", &[("body", &hostile)]).await;
    session.act_ok(case, "note", &[("body", &hostile)]).await;
    let (page, _) = session.open_case(case).await;
    assert_inert("case page", &page.body);
    assert_eq!(
        page.body.matches("&lt;script&gt;alert(1)").count(),
        2,
        "the reply and the note are not both shown as text"
    );

    let saved = session
        .post(
            "/kb",
            &[
                ("slug", "hostile"),
                ("language", "en"),
                ("topic", "tests"),
                ("title", &format!("Title {hostile}")),
                ("body", &format!("Body alert {hostile}")),
            ],
        )
        .await;
    assert!(saved.status.is_redirection(), "{}", saved.body);
    let article = saved.location().unwrap().to_owned();
    let id = article.trim_start_matches("/kb/");
    let pages = [
        ("article", article.clone()),
        ("article list", "/kb".to_owned()),
        ("article search", "/kb?q=alert".to_owned()),
        ("reply from article", format!("{}?kb={id}", case.url())),
        ("filter: q", format!("/kb?q={}", percent(&hostile))),
        ("filter: case", format!("/kb?case={}", percent(&hostile))),
        (
            "filter: case on article",
            format!("{article}?case={}", percent(&hostile)),
        ),
        (
            "filter: language",
            format!("/kb?language={}", percent(SCRIPT)),
        ),
        (
            "filter: type",
            format!("/queues/unassigned?type={}", percent(&hostile)),
        ),
        (
            "filter: language on queue",
            format!("/queues/unassigned?language={}", percent(&hostile)),
        ),
        (
            "filter: consulate",
            format!("/queues/unassigned?consulate={}", percent(&hostile)),
        ),
        (
            "filter: sort",
            format!("/queues/unassigned?sort={}", percent(&hostile)),
        ),
        ("case number", format!("/cases/{}", percent(&hostile))),
    ];
    for (what, path) in pages {
        let page = session.get(&path).await;
        assert_inert(what, &page.body);
    }
    let search = session.get("/kb?q=alert").await;
    assert!(
        search.body.contains("Title &lt;script&gt;"),
        "{}",
        search.body
    );
    let prefilled = session.get(&format!("{}?kb={id}", case.url())).await;
    assert!(
        element(&prefilled.body, "reply")
            .unwrap()
            .starts_with("Body alert &lt;script&gt;")
    );

    // A hostile value typed into a form field is refused without being echoed raw.
    for (what, fields) in [
        (
            "link",
            vec![("other", hostile.as_str()), ("link_kind", "related")],
        ),
        (
            "merge",
            vec![("other", hostile.as_str()), ("reason", "same")],
        ),
    ] {
        let response = session.act(case, what, &fields).await;
        assert_eq!(response.status, 400, "{what}");
        assert_inert(what, &response.body);
    }
    let response = session
        .post(
            "/break-glass",
            &[("case", &hostile), ("reason", "0123456789 long enough")],
        )
        .await;
    assert_eq!(response.status, 400);
    assert_inert("break-glass", &response.body);
}

/// The "next page" link's target, unescaped as a browser would.
fn next_link(page: &str) -> Option<String> {
    let at = page.find("rel=\"next\"")?;
    let start = page[..at].rfind("href=\"")? + "href=\"".len();
    let end = start + page[start..].find('"')?;
    Some(
        page[start..end]
            .replace("&#x2f;", "/")
            .replace("&#x3d;", "=")
            .replace("&amp;", "&"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_pages_are_bounded_and_bad_parameters_are_refused() {
    let env = Env::start().await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let now = i64::try_from(now).unwrap();
    let batch: Vec<ImportedCase> = (0..205)
        .map(|i| ImportedCase {
            received_at: Timestamp::from_unix_ms(now - 60_000 * (i + 1)),
            case: new_case(
                PARIS,
                Sensitivity::Normal,
                Priority::P3,
                "Imported request.",
            ),
            status: Status::New,
            assignee: None,
        })
        .collect();
    env.store.bulk_import(&batch).unwrap();
    env.case_with(PARIS, Sensitivity::Normal, Priority::P2, "A P2 request.");
    let officer = env.account("off.ana", StaffRole::Officer, PARIS);
    let session = env.login(&officer, &Route::paris()).await;

    let page = session.get("/queues/unassigned?size=100000").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let first = row_numbers(&page.body);
    assert_eq!(first.len(), 200);
    let next = next_link(&page.body).expect("a link to the next page");
    assert!(next.contains("after="), "{next}");
    let rest = session.get(&next).await;
    assert_eq!(rest.status, 200, "{}: {}", next, rest.body);
    let second = row_numbers(&rest.body);
    assert_eq!(second.len(), 6);
    assert!(second.iter().all(|n| !first.contains(n)), "pages overlap");

    assert_eq!(
        row_numbers(&session.get("/queues/unassigned?size=5").await.body).len(),
        5
    );
    let p2 = session.get("/queues/unassigned?priority=p2").await;
    assert_eq!(p2.status, 200);
    assert_eq!(row_numbers(&p2.body).len(), 1);

    for (path, status) in [
        ("/queues/unassigned?after=garbage", 400),
        ("/queues/unassigned?after=%00%FF", 400),
        ("/queues/unassigned?sort=sideways", 400),
        ("/queues/unassigned?priority=p9", 400),
        ("/queues/unassigned?channel=pigeon", 400),
        ("/queues/nonsense", 404),
        ("/queues/nonsense/rows", 404),
        ("/cases/not-a-case", 404),
        ("/cases/CSC-2026-12", 404),
        ("/cases/CSC-2026-00000001", 404),
    ] {
        let response = session.get(path).await;
        assert_eq!(response.status, status, "{path}: {}", response.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_and_unknown_actions_change_nothing() {
    let env = Env::start().await;
    let case = env.case(PARIS, Sensitivity::Normal);
    let officer = env.account("off.ana", StaffRole::Officer, PARIS);
    let session = env.login(&officer, &Route::paris()).await;
    let (page, version) = session.open_case(case).await;
    let version = version.to_string();
    assert!(field(&page.body, "csrf").is_some());
    let url = format!("{}/reply", case.url());

    // Over the request limit: refused before the form is read.
    let huge = "a".repeat(300 * 1024);
    let response = session
        .post(&url, &[("version", &version), ("body", &huge)])
        .await;
    assert_eq!(response.status, 413);
    // Within the request limit but longer than any reply may be.
    let long = "a".repeat(100 * 1024);
    let response = session
        .post(&url, &[("version", &version), ("body", &long)])
        .await;
    assert_eq!(response.status, 400);
    assert!(response.body.contains("longer than"), "{}", response.body);
    // An empty reply is no reply.
    let response = session
        .post(&url, &[("version", &version), ("body", "   ")])
        .await;
    assert_eq!(response.status, 400);

    // Unknown actions, and actions on things that are not case numbers.
    for path in [
        format!("{}/explode", case.url()),
        "/cases/not-a-case/reply".to_owned(),
        "/cases/CSC-2026-12/claim".to_owned(),
    ] {
        let response = session
            .send(same_origin(Req::form(
                &path,
                &[
                    ("csrf", &session.csrf),
                    ("version", &version),
                    ("body", "x"),
                ],
            )))
            .await;
        assert_eq!(response.status, 404, "{path}");
    }
    assert_eq!(env.case_now(case).version.to_string(), version);
    assert!(
        env.store
            .messages(case.id, Some(Visibility::External))
            .unwrap()
            .iter()
            .all(|m| m.direction == casestore::Direction::In)
    );
}
