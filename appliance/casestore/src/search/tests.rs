use super::*;
use crate::testkit::{self, new_case};
use crate::{Actor, AgentId, Body, Channel, Direction, Language, NewMessage, Visibility};

fn open_with(bodies: &[&str]) -> (testkit::TestStore, Vec<crate::CaseId>) {
    let t = testkit::store();
    let ids = bodies
        .iter()
        .map(|b| {
            t.clock.advance_ms(1000);
            t.store.create_case(&new_case(b)).unwrap().case_id
        })
        .collect();
    (t, ids)
}

fn found(t: &testkit::TestStore, text: &str) -> Vec<crate::CaseId> {
    let mut ids: Vec<_> = t
        .store
        .search(&SearchQuery::recent(text))
        .unwrap()
        .into_iter()
        .map(|h| h.case.id)
        .collect();
    ids.sort();
    ids
}

#[test]
fn romanian_diacritics_match_bare_letters_in_both_encodings() {
    let (t, ids) = open_with(&[
        "Copilul merge la \u{0219}coal\u{0103} \u{00ee}n Lyon", // ș comma below, ă, î
        "Copilul merge la \u{015f}coal\u{0103} \u{00ee}n Lyon", // ş cedilla
        "Cerere pentru \u{021b}ar\u{0103}",                     // ț comma below
        "Cerere pentru \u{0163}ar\u{0103}",                     // ţ cedilla
        "Copilul merge la s\u{0326}coala",                      // decomposed: s + comma below
        "\u{00ce}nc\u{0103} m\u{00e2}ine, p\u{00e2}n\u{0103} la consulat", // Î, ă, â
        "\u{0218}TEFAN \u{015e}I \u{021a}U\u{0162}U",           // capitals, both forms
    ]);
    let school = vec![ids[0], ids[1], ids[4]];
    for q in [
        "scoala",
        "SCOALA",
        "\u{0219}coal\u{0103}",
        "\u{015f}coal\u{0103}",
        "\u{0218}COAL\u{0102}",
        "s\u{0327}coala",
    ] {
        assert_eq!(found(&t, q), school, "query {q:?}");
    }
    let country = vec![ids[2], ids[3]];
    for q in [
        "tara",
        "\u{021b}ar\u{0103}",
        "\u{0163}ar\u{0103}",
        "\u{021a}AR\u{0102}",
        "\u{0162}ara",
    ] {
        assert_eq!(found(&t, q), country, "query {q:?}");
    }
    for q in [
        "inca maine pana",
        "\u{00ee}nc\u{0103}",
        "m\u{00e2}ine",
        "MAINE",
        "p\u{0103}na",
    ] {
        assert_eq!(found(&t, q), vec![ids[5]], "query {q:?}");
    }
    for q in [
        "stefan si tutu",
        "\u{015f}tefan \u{0219}i \u{0163}u\u{021b}u",
    ] {
        assert_eq!(found(&t, q), vec![ids[6]], "query {q:?}");
    }
}

#[test]
fn normalize_maps_cedillas_to_commas_and_drops_combining_marks() {
    assert_eq!(
        normalize("\u{015f}\u{015e}\u{0163}\u{0162}"),
        "\u{0219}\u{0218}\u{021b}\u{021a}"
    );
    assert_eq!(normalize("s\u{0326}t\u{0327}a\u{0306}"), "sta");
    assert_eq!(
        normalize("pașaport"),
        "pașaport",
        "comma forms and precomposed letters stay"
    );
}

#[test]
fn newest_first_one_hit_per_case_within_the_limit() {
    let t = testkit::store();
    let mut ids = Vec::new();
    for i in 0..60 {
        t.clock.advance_ms(1000);
        ids.push(
            t.store
                .create_case(&new_case(&format!("cerere pașaport numărul {i}")))
                .unwrap()
                .case_id,
        );
    }
    // The oldest case gets a newer matching message: it comes first, once.
    t.clock.advance_ms(1000);
    let msg = NewMessage {
        direction: Direction::Out,
        channel: Channel::Email,
        author: Actor::Agent(AgentId::new("ana").unwrap()),
        visibility: Visibility::External,
        language: Language::new("ro").unwrap(),
        body: Body::new("pașaportul este gata").unwrap(),
        attachments: Vec::new(),
    };
    let reply = t
        .store
        .add_message(ids[0], &msg, crate::Expect::Any)
        .unwrap();
    let hits = t.store.search(&SearchQuery::recent("pasaport*")).unwrap();
    assert_eq!(hits.len(), 50);
    assert_eq!((hits[0].case.id, hits[0].message), (ids[0], reply));
    let rest: Vec<_> = hits[1..].iter().map(|h| h.case.id).collect();
    let expected: Vec<_> = ids[11..].iter().rev().copied().collect();
    assert_eq!(rest, expected);
    assert!(hits.windows(2).all(|w| w[0].message > w[1].message));

    let relevant = t
        .store
        .search(&SearchQuery {
            order: SearchOrder::Relevance,
            ..SearchQuery::recent("numărul 7")
        })
        .unwrap();
    assert_eq!(relevant.len(), 1);
    assert_eq!(relevant[0].case.id, ids[7]);
}

#[test]
fn search_can_be_scoped_to_a_consulate() {
    let t = testkit::store();
    let mut london = new_case("viză de muncă");
    london.consulate = testkit::consulate("RO-LON");
    let in_london = t.store.create_case(&london).unwrap().case_id;
    t.store.create_case(&new_case("viză de muncă")).unwrap();
    let query = SearchQuery {
        consulate: Some(testkit::consulate("RO-LON")),
        ..SearchQuery::recent("viza")
    };
    let hits = t.store.search(&query).unwrap();
    assert_eq!(
        hits.iter().map(|h| h.case.id).collect::<Vec<_>>(),
        vec![in_london]
    );
}

#[test]
fn typed_text_is_never_query_syntax() {
    let (t, ids) = open_with(&["NEAR OR AND NOT col tot"]);
    for q in [
        "\"",
        "a\" OR \"b",
        "NEAR(a b)",
        "x AND",
        "*",
        "-x",
        "^x",
        "body:x",
        "(",
        "'; DROP TABLE cases; --",
        "\u{0}",
    ] {
        assert!(
            t.store.search(&SearchQuery::recent(q)).is_ok(),
            "query {q:?}"
        );
    }
    assert_eq!(found(&t, "NEAR OR"), vec![ids[0]], "operators are words");
    assert!(found(&t, "  ,.;  ").is_empty());
    assert_eq!(
        fts_query("a\"b c*", None),
        Some("{body} : (\"a\" \"b\" \"c\"*)".to_owned())
    );
    let scoped = fts_query("x", Some(&testkit::consulate("RO-PAR")));
    assert_eq!(
        scoped,
        Some("{body} : (\"x\") AND {scope} : \"zc524f2d504152\"".to_owned())
    );
    let many = fts_query(&"x ".repeat(40), None);
    assert_eq!(many.map(|q| q.matches('"').count()), Some(2 * MAX_TERMS));
    // The scope token cannot be reached from what an agent types.
    assert!(found(&t, "zc524f2d504152").is_empty());
}

#[test]
fn the_recency_plan_walks_the_index_without_sorting() {
    let t = testkit::store();
    let conn = rusqlite::Connection::open(t.store.path()).unwrap();
    let sql = format!("EXPLAIN QUERY PLAN {}", search_sql(SearchOrder::Recency));
    let mut stmt = conn.prepare(&sql).unwrap();
    let plan: Vec<String> = stmt
        .query_map(["\"x\""], |r| r.get(3))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let plan = plan.join("\n");
    assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    assert!(plan.contains("VIRTUAL TABLE INDEX"), "{plan}");
}
