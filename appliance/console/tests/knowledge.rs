//! The knowledge base: found without diacritics, edited by those who may with a version
//! check, and inserted into a reply from the case page.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/harness.rs"]
mod support;

use casestore::{Language, Sensitivity, Slug, StaffRole};
use support::{CENTRAL, Env, PARIS, Route, element, field};

fn article_id(env: &Env, slug: &str, language: &str) -> i64 {
    env.store
        .article_by_slug(&Slug::new(slug).unwrap(), &Language::new(language).unwrap())
        .unwrap()
        .unwrap()
        .id
        .get()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_without_diacritics_finds_the_article_and_it_goes_into_a_reply() {
    let env = Env::start().await;
    console::demo::seed_articles(&env.store).unwrap();
    let case = env.case(PARIS, Sensitivity::Normal);
    let officer = env.account("off.ana", StaffRole::Officer, PARIS);
    let session = env.login(&officer, &Route::paris()).await;
    let id = article_id(&env, "passport-renewal", "ro");

    for query in ["pasaport", "pașaport", "PAȘAPORT"] {
        let page = session
            .get(&format!("/kb?q={}", support::http::percent(query)))
            .await;
        assert_eq!(page.status, 200);
        let list = &page.body[page.body.find("id=\"articles\"").unwrap()..];
        let list = &list[..list.find("</ul>").unwrap()];
        assert!(
            list.contains("Reînnoirea pașaportului"),
            "{query:?} did not find the article: {list}"
        );
        assert!(
            list.contains("<mark>"),
            "no highlighted match for {query:?}"
        );
        assert!(
            !list.contains("Detention"),
            "{query:?} found an unrelated article"
        );
    }

    // From the case page to an article and back, as an agent clicks through.
    let search = session
        .get(&format!("/kb?case={}&q=pasaport", case.number))
        .await;
    let link = format!("/kb/{id}?case={}", case.number);
    assert!(
        search.body.contains(&format!("href=\"{link}\"")),
        "{}",
        search.body
    );
    let article = session.get(&link).await;
    assert_eq!(article.status, 200);
    let back = format!("/cases/{}?kb={id}", case.number);
    assert!(article.body.contains(&format!("href=\"{back}\"")));
    let page = session.get(&back).await;
    assert_eq!(page.status, 200);
    let body = env
        .store
        .article(casestore::ArticleId::from_raw(id))
        .unwrap()
        .unwrap()
        .body;
    assert_eq!(
        element(&page.body, "reply").as_deref(),
        Some(body.as_str()),
        "the reply box does not start with the article"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_writes_articles_an_officer_cannot_and_stale_edits_are_refused() {
    let env = Env::start().await;
    let admin = env.account("adm.elena", StaffRole::Administrator, CENTRAL);
    let officer = env.account("off.ana", StaffRole::Officer, PARIS);
    let session = env.login(&admin, &Route::Central).await;

    let index = session.get("/kb").await;
    assert!(index.body.contains("New article"));
    let created = session
        .post(
            "/kb",
            &[
                ("slug", "consular-fees"),
                ("language", "en"),
                ("country", "fr"),
                ("topic", "fees"),
                ("title", "Consular fees"),
                ("body", "A passport costs 50 EUR."),
                ("public", "1"),
            ],
        )
        .await;
    assert!(created.status.is_redirection(), "{}", created.body);
    let url = created.location().unwrap().to_owned();
    let page = session.get(&url).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<h1>Consular fees</h1>"));
    assert!(page.body.contains("en, FR · fees · public"));
    let version = field(&page.body, "version").unwrap();
    assert_eq!(version, "1");

    let edit = |title: &'static str, version: String| {
        let session = session.clone();
        async move {
            session
                .post(
                    "/kb",
                    &[
                        ("slug", "consular-fees"),
                        ("language", "en"),
                        ("version", &version),
                        ("country", "FR"),
                        ("topic", "fees"),
                        ("title", title),
                        ("body", "A passport costs 55 EUR from January."),
                    ],
                )
                .await
        }
    };
    let saved = edit("Consular fees 2027", version.clone()).await;
    assert!(saved.status.is_redirection(), "{}", saved.body);
    assert_eq!(saved.location(), Some(url.as_str()));
    let page = session.get(&url).await;
    assert!(page.body.contains("<h1>Consular fees 2027</h1>"));
    assert!(page.body.contains("55 EUR"));
    assert!(
        !page.body.contains("· public"),
        "unticked public stays public"
    );

    // A second editor still holding version 1.
    let stale = edit("Consular fees (old copy)", version).await;
    assert_eq!(stale.status, 409, "{}", stale.body);
    assert!(stale.body.contains("Someone changed this article"));
    assert!(
        session
            .get(&url)
            .await
            .body
            .contains("<h1>Consular fees 2027</h1>")
    );

    // A new article under a slug that is taken says so instead of blaming an edit.
    let taken = session
        .post(
            "/kb",
            &[
                ("slug", "consular-fees"),
                ("language", "en"),
                ("topic", "fees"),
                ("title", "Fees"),
                ("body", "Other text."),
            ],
        )
        .await;
    assert_eq!(taken.status, 409);
    assert!(taken.body.contains("exists already"), "{}", taken.body);
    assert_eq!(env.audit_of("console.kb.save").len(), 2);

    // An officer reads articles but cannot write one.
    let session = env.login(&officer, &Route::paris()).await;
    let index = session.get("/kb").await;
    assert_eq!(index.status, 200);
    assert!(index.body.contains("Consular fees 2027"));
    assert!(!index.body.contains("New article"));
    let refused = session
        .post(
            "/kb",
            &[
                ("slug", "officer-notes"),
                ("language", "en"),
                ("topic", "misc"),
                ("title", "Mine"),
                ("body", "Text."),
            ],
        )
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(env.store.list_articles(None, false).unwrap().len(), 1);
}

/// The list and the search narrow to a country (with the articles about every country) and
/// to a topic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn articles_are_narrowed_by_country_and_topic() {
    let env = Env::start().await;
    console::demo::seed_articles(&env.store).unwrap();
    let officer = env.account("off.ana", StaffRole::Officer, PARIS);
    let session = env.login(&officer, &Route::paris()).await;
    let titles = |body: &str| {
        let list = &body[body.find("id=\"articles\"").unwrap()..];
        let list = &list[..list.find("</ul>").unwrap()];
        let mut found: Vec<&str> = [
            ("passport-ro", "Reînnoirea pașaportului"),
            ("passport-en", "Renewing a passport"),
            ("detention", "Detention: first steps"),
            ("birth-fr", "Transcrierea certificatului"),
        ]
        .iter()
        .filter(|(_, title)| list.contains(title))
        .map(|(name, _)| *name)
        .collect();
        found.sort_unstable();
        found.join(" ")
    };
    let expected = [
        ("", "birth-fr detention passport-en passport-ro"),
        ("country=DE", "detention passport-en passport-ro"),
        ("country=fr", "birth-fr detention passport-en passport-ro"),
        ("topic=passports", "passport-en passport-ro"),
        ("country=FR&topic=civil_status", "birth-fr"),
        ("q=nastere&country=FR", "birth-fr"),
        ("q=nastere&country=DE", ""),
        ("q=pasaport&topic=protection", ""),
    ];
    for (query, want) in expected {
        let page = session.get(&format!("/kb?{query}")).await;
        assert_eq!(page.status, 200, "{query}: {}", page.body);
        assert_eq!(titles(&page.body), want, "{query}");
    }
    for bad in ["country=FRA", "topic=Not%20a%20topic"] {
        let page = session.get(&format!("/kb?{bad}")).await;
        assert_eq!(page.status, 400, "{bad}: {}", page.body);
    }
}
