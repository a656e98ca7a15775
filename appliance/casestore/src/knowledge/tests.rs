use super::*;
use crate::model::AgentId;
use crate::testkit::{self, T0};

fn new_article(slug: &str, language: &str, title: &str, body: &str) -> NewArticle {
    NewArticle {
        slug: Slug::new(slug).unwrap(),
        country: None,
        topic: Topic::new("passport").unwrap(),
        language: Language::new(language).unwrap(),
        title: Title::new(title).unwrap(),
        body: Body::new(body).unwrap(),
        public: true,
    }
}

fn admin() -> Actor {
    Actor::Agent(AgentId::new("maria").unwrap())
}

fn put(t: &testkit::TestStore, article: &NewArticle) -> ArticleId {
    t.store.put_article(article, &admin(), None).unwrap()
}

fn found(t: &testkit::TestStore, query: &ArticleQuery) -> Vec<ArticleId> {
    let hits = t.store.search_articles(query).unwrap();
    hits.into_iter().map(|h| h.id).collect()
}

fn sorted(mut ids: Vec<ArticleId>) -> Vec<ArticleId> {
    ids.sort();
    ids
}

#[test]
fn an_article_reads_back_by_id_and_by_slug_with_its_translations_apart() {
    let t = testkit::store();
    let mut ro = new_article(
        "passport-lost",
        "ro",
        "Pașaport pierdut",
        "Anunțați poliția.",
    );
    ro.country = Some(CountryCode::new("fr").unwrap());
    let ro_id = put(&t, &ro);
    let en_id = put(
        &t,
        &new_article("passport-lost", "en", "Lost passport", "Tell the police."),
    );
    assert_ne!(ro_id, en_id, "a translation is its own article");

    let stored = t.store.article(ro_id).unwrap().unwrap();
    assert_eq!(
        (stored.slug.as_str(), stored.language.as_str()),
        ("passport-lost", "ro")
    );
    assert_eq!(stored.country.as_ref().map(CountryCode::as_str), Some("FR"));
    assert_eq!(
        (stored.title.as_str(), stored.body.as_str()),
        ("Pașaport pierdut", "Anunțați poliția.")
    );
    assert_eq!(
        (stored.public, stored.version, stored.updated_at),
        (true, 1, Timestamp::from_unix_ms(T0))
    );
    assert_eq!(stored.updated_by, admin());

    let slug = Slug::new("passport-lost").unwrap();
    let en = t
        .store
        .article_by_slug(&slug, &Language::new("en").unwrap())
        .unwrap()
        .unwrap();
    assert_eq!((en.id, en.country), (en_id, None));
    assert_eq!(
        t.store
            .article_by_slug(&slug, &Language::new("de").unwrap())
            .unwrap(),
        None
    );
    assert_eq!(t.store.article(ArticleId::from_raw(999)).unwrap(), None);
}

#[test]
fn a_stale_edit_is_refused_and_changes_nothing() {
    let t = testkit::store();
    let mut article = new_article("visa-work", "ro", "Viză de muncă", "Prima versiune.");
    let id = put(&t, &article);

    // Creating what exists is a conflict, not an overwrite.
    let err = t.store.put_article(&article, &admin(), None).unwrap_err();
    assert!(
        matches!(
            err,
            ArticleError::Conflict {
                expected: None,
                current: Some(1),
                ..
            }
        ),
        "{err}"
    );

    t.clock.advance_ms(1000);
    article.body = Body::new("A doua versiune.").unwrap();
    let editor = Actor::Agent(AgentId::new("ion").unwrap());
    assert_eq!(t.store.put_article(&article, &editor, Some(1)).unwrap(), id);
    let stored = t.store.article(id).unwrap().unwrap();
    assert_eq!(
        (stored.version, stored.body.as_str()),
        (2, "A doua versiune.")
    );
    assert_eq!(
        (stored.updated_by, stored.updated_at),
        (editor, Timestamp::from_unix_ms(T0 + 1000))
    );

    article.body = Body::new("Scrisă peste alta.").unwrap();
    let err = t
        .store
        .put_article(&article, &admin(), Some(1))
        .unwrap_err();
    assert!(
        matches!(
            err,
            ArticleError::Conflict {
                expected: Some(1),
                current: Some(2),
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("changed meanwhile"), "{err}");
    assert_eq!(
        t.store.article(id).unwrap().unwrap().body.as_str(),
        "A doua versiune."
    );

    let missing = new_article("visa-study", "ro", "Viză de studii", "Text.");
    let err = t
        .store
        .put_article(&missing, &admin(), Some(1))
        .unwrap_err();
    assert!(
        matches!(err, ArticleError::Conflict { current: None, .. }),
        "{err}"
    );
    assert_eq!(t.store.list_articles(None, false).unwrap().len(), 1);
}

#[test]
fn search_folds_romanian_diacritics_in_both_encodings() {
    let t = testkit::store();
    let comma = put(
        &t,
        &new_article("a", "ro", "Pașaport pierdut", "Ce faceți."),
    );
    let cedilla = put(
        &t,
        &new_article("b", "ro", "Paşaport expirat", "Reînnoire."),
    );
    let decomposed = put(
        &t,
        &new_article("c", "ro", "Acte", "Pas\u{0326}aportul copilului."),
    );
    let other = put(
        &t,
        &new_article("d", "ro", "Viză", "Nimic despre acte de călătorie."),
    );
    let all = sorted(vec![comma, cedilla, decomposed]);
    for q in [
        "pasaport",
        "PASAPORT",
        "pașaport",
        "paşaport",
        "PAȘAPORT",
        "Pa\u{015E}aport",
    ] {
        assert_eq!(
            sorted(found(&t, &ArticleQuery::public(q))),
            all,
            "query {q:?}"
        );
    }
    assert_eq!(found(&t, &ArticleQuery::public("viza")), vec![other]);
    assert_eq!(found(&t, &ArticleQuery::public("calatorie")), vec![other]);
    assert!(
        found(&t, &ArticleQuery::public("pas")).is_empty(),
        "short words are whole words"
    );
}

#[test]
fn the_best_match_comes_first() {
    let t = testkit::store();
    let body_once = put(
        &t,
        &new_article(
            "a",
            "ro",
            "Acte",
            "Despre pașaport, pe scurt, și alte acte.",
        ),
    );
    let title = put(
        &t,
        &new_article(
            "b",
            "ro",
            "Pașaport pierdut",
            "Ce faceți dacă l-ați pierdut.",
        ),
    );
    let both_words = put(
        &t,
        &new_article(
            "c",
            "ro",
            "Pașaport pierdut în Franța",
            "Pașaport pierdut: poliția.",
        ),
    );
    assert_eq!(
        found(&t, &ArticleQuery::public("pasaport pierdut")),
        vec![both_words, title, body_once]
    );
    assert_eq!(
        found(&t, &ArticleQuery::public("pasaport")).last(),
        Some(&body_once)
    );
}

#[test]
fn filters_by_language_country_and_visibility() {
    let t = testkit::store();
    let general = put(
        &t,
        &new_article("fees", "ro", "Taxe consulare", "Taxe pentru pașaport."),
    );
    let mut in_france = new_article("fees-fr", "ro", "Taxe în Franța", "Taxe pentru pașaport.");
    in_france.country = Some(CountryCode::new("FR").unwrap());
    let in_france = put(&t, &in_france);
    let mut in_spain = new_article("fees-es", "ro", "Taxe în Spania", "Taxe pentru pașaport.");
    in_spain.country = Some(CountryCode::new("ES").unwrap());
    let in_spain = put(&t, &in_spain);
    let english = put(
        &t,
        &new_article("fees", "en", "Consular fees", "Fees for a pasaport."),
    );
    let mut internal = new_article("fees-internal", "ro", "Taxe: excepții", "Pașaport gratuit.");
    internal.public = false;
    let internal = put(&t, &internal);

    let q = |language: Option<&str>, country: Option<&str>, public_only| ArticleQuery {
        language: language.map(|l| Language::new(l).unwrap()),
        country: country.map(|c| CountryCode::new(c).unwrap()),
        public_only,
        ..ArticleQuery::public("pasaport")
    };
    assert_eq!(
        sorted(found(&t, &q(None, None, false))),
        sorted(vec![general, in_france, in_spain, english, internal])
    );
    assert_eq!(
        sorted(found(&t, &q(None, None, true))),
        sorted(vec![general, in_france, in_spain, english]),
        "citizens never see internal articles"
    );
    assert_eq!(found(&t, &q(Some("en"), None, true)), vec![english]);
    assert_eq!(
        sorted(found(&t, &q(Some("ro"), Some("fr"), true))),
        sorted(vec![general, in_france]),
        "a country's articles and the general ones"
    );
    assert!(
        ArticleQuery::public("x").public_only,
        "public unless asked otherwise"
    );
}

#[test]
fn an_edit_reindexes_and_a_deletion_unindexes() {
    let t = testkit::store();
    let mut article = new_article("a", "ro", "Viză", "Formular vechi.");
    let id = put(&t, &article);
    assert_eq!(found(&t, &ArticleQuery::public("vechi")), vec![id]);
    article.body = Body::new("Formular nou.").unwrap();
    t.store.put_article(&article, &admin(), Some(1)).unwrap();
    assert!(found(&t, &ArticleQuery::public("vechi")).is_empty());
    assert_eq!(found(&t, &ArticleQuery::public("nou")), vec![id]);

    t.store.delete_article(id).unwrap();
    assert!(found(&t, &ArticleQuery::public("formular")).is_empty());
    assert_eq!(t.store.article(id).unwrap(), None);
    let err = t.store.delete_article(id).unwrap_err();
    assert!(
        matches!(err, ArticleError::NoSuchArticle(gone) if gone == id),
        "{err}"
    );
    // The slug and language are free again.
    put(&t, &article);
}

#[test]
fn snippets_mark_the_matched_words_and_articles_cannot_fake_a_mark() {
    let t = testkit::store();
    put(
        &t,
        &new_article(
            "a",
            "ro",
            "Acte",
            "Pentru un paşaport nou aduceți \u{E000}fals\u{E001} actul vechi.",
        ),
    );
    let hits = t
        .store
        .search_articles(&ArticleQuery::public("pasaport"))
        .unwrap();
    let snippet = &hits[0].snippet;
    let marked: Vec<_> = snippet
        .parts
        .iter()
        .filter(|p| p.matched)
        .map(|p| p.text.as_str())
        .collect();
    assert_eq!(marked, vec!["pașaport"]);
    assert_eq!(
        snippet.text(),
        "Pentru un pașaport nou aduceți fals actul vechi."
    );
}

#[test]
fn typed_text_is_never_query_syntax_and_searches_are_bounded() {
    let t = testkit::store();
    for i in 0..120 {
        put(
            &t,
            &new_article(
                &format!("a{i}"),
                "ro",
                "Pașaport",
                &format!("Varianta {i}."),
            ),
        );
    }
    for q in [
        "\"",
        "a\" OR \"b",
        "NEAR(a b)",
        "x AND",
        "*",
        "-x",
        "^x",
        "title:x",
        "(",
        "\u{0}",
    ] {
        assert!(
            t.store.search_articles(&ArticleQuery::public(q)).is_ok(),
            "query {q:?}"
        );
    }
    assert!(found(&t, &ArticleQuery::public(" ,.; ")).is_empty());
    let many = ArticleQuery {
        limit: 500,
        ..ArticleQuery::public("pasaport")
    };
    assert_eq!(found(&t, &many).len(), usize::from(MAX_ARTICLE_HITS));
    assert!(
        found(
            &t,
            &ArticleQuery {
                limit: 0,
                ..many.clone()
            }
        )
        .is_empty()
    );
    let huge = ArticleQuery::public(format!("pasaport {}", "x".repeat(1_000_000)));
    assert_eq!(found(&t, &huge).len(), 20);

    assert_eq!(
        search::fts_query("a\"b pașaport* NEAR"),
        Some("\"a\" OR \"b\" OR \"pașaport\"* OR \"NEAR\"*".to_owned())
    );
    let words = search::fts_query(&"ab ".repeat(40)).unwrap();
    assert_eq!(words.matches('"').count(), 2 * 16);
    let at_bound = |commas| search::fts_query(&format!("ab{} pasaport", ",".repeat(commas)));
    assert_eq!(
        at_bound(MAX_ARTICLE_QUERY_CHARS - 2),
        Some("\"ab\"".to_owned()),
        "text past the bound is ignored"
    );
    assert!(
        at_bound(MAX_ARTICLE_QUERY_CHARS - 20)
            .unwrap()
            .contains("pasaport")
    );
}

#[test]
fn lists_are_ordered_and_filtered() {
    let t = testkit::store();
    let mut fr = new_article("b-fees", "ro", "Taxe Franța", "Text.");
    fr.country = Some(CountryCode::new("FR").unwrap());
    let fr = put(&t, &fr);
    let general_en = put(&t, &new_article("a-hours", "en", "Opening hours", "Text."));
    let general_ro = put(&t, &new_article("a-hours", "ro", "Program", "Text."));
    let mut hidden = new_article("c-internal", "ro", "Intern", "Text.");
    hidden.public = false;
    let hidden = put(&t, &hidden);

    let ids = |list: Vec<ArticleSummary>| list.into_iter().map(|a| a.id).collect::<Vec<_>>();
    assert_eq!(
        ids(t.store.list_articles(None, false).unwrap()),
        vec![general_en, general_ro, hidden, fr]
    );
    assert_eq!(
        ids(t.store.list_articles(None, true).unwrap()),
        vec![general_en, general_ro, fr]
    );
    let ro = Language::new("ro").unwrap();
    assert_eq!(
        ids(t.store.list_articles(Some(&ro), true).unwrap()),
        vec![general_ro, fr]
    );
}
