use proptest::prelude::*;

use super::*;

fn demo() -> Circumscriptions {
    Circumscriptions::load(CIRCUMSCRIPTIONS_DEMO).unwrap_or_else(|e| panic!("{e}"))
}

fn routed(table: &Circumscriptions, country: &str, city: &str) -> (String, RouteBasis) {
    let route = table.resolve(country, city);
    (route.consulate.id.to_string(), route.basis)
}

#[test]
fn cities_route_to_their_consulate() {
    let t = demo();
    let cases: &[(&str, &str, &str)] = &[
        ("FR", "Paris", "ro-emb-paris"),
        ("FR", "Lyon", "ro-cg-lyon"),
        ("FR", "Marseille", "ro-cg-marseille"),
        ("FR", "Nice", "ro-cg-marseille"),
        ("FR", "Strasbourg", "ro-cg-strasbourg"),
        ("IT", "Roma", "ro-emb-roma"),
        ("IT", "Milano", "ro-cg-milano"),
        ("IT", "Milan", "ro-cg-milano"),
        ("IT", "Turin", "ro-cg-torino"),
        ("IT", "Bologna", "ro-cg-bologna"),
        ("IT", "Trieste", "ro-cg-trieste"),
        ("IT", "Bari", "ro-cg-bari"),
        ("IT", "Palermo", "ro-c-catania"),
        ("ES", "Barcelona", "ro-cg-barcelona"),
        ("ES", "Castellón", "ro-cg-castellon"),
        ("DE", "München", "ro-cg-muenchen"),
        ("DE", "Munich", "ro-cg-muenchen"),
        ("DE", "Köln", "ro-cg-bonn"),
        ("GB", "Glasgow", "ro-cg-edinburgh"),
        ("GB", "Manchester", "ro-cg-manchester"),
        ("US", "New York", "ro-cg-new-york"),
        ("US", "Los Angeles", "ro-cg-los-angeles"),
        ("MD", "Bălți", "ro-cg-balti"),
    ];
    for (country, city, expected) in cases {
        assert_eq!(
            t.route(country, city).as_str(),
            *expected,
            "{country} {city}"
        );
    }
}

#[test]
fn city_matching_ignores_case_diacritics_and_punctuation() {
    let t = demo();
    for city in [
        "Saint-Étienne",
        "saint etienne",
        "SAINT ETIENNE",
        "Saint–Etienne",
        "  saint-étienne  ",
        "Saint-E\u{301}tienne",
    ] {
        assert_eq!(
            routed(&t, "FR", city),
            ("ro-cg-lyon".into(), RouteBasis::City),
            "{city:?}"
        );
    }
    for city in ["Veneția", "Venetia", "VENEŢIA", "venezia", "Venice"] {
        assert_eq!(t.route("IT", city).as_str(), "ro-cg-trieste", "{city:?}");
    }
    for city in ["Balti", "BĂLŢI", "bălți"] {
        assert_eq!(t.route("MD", city).as_str(), "ro-cg-balti", "{city:?}");
    }
    assert_eq!(t.route("DE", "Muenchen").as_str(), "ro-cg-muenchen");
    assert_eq!(
        t.route("de", "munchen").as_str(),
        "ro-cg-muenchen",
        "country code in any case"
    );
    assert_eq!(t.route(" fr ", "lyon").as_str(), "ro-cg-lyon");
}

#[test]
fn a_city_inside_a_longer_field_still_matches() {
    let t = demo();
    assert_eq!(
        routed(&t, "FR", "69003 Lyon"),
        ("ro-cg-lyon".into(), RouteBasis::City)
    );
    assert_eq!(
        routed(&t, "FR", "Lyon 3e arrondissement"),
        ("ro-cg-lyon".into(), RouteBasis::City)
    );
    assert_eq!(t.route("US", "New York City").as_str(), "ro-cg-new-york");
    assert_eq!(
        t.route("US", "Brooklyn, New York").as_str(),
        "ro-cg-new-york"
    );
    // The longest name wins: "Reggio Calabria" (Bari) is not "Reggio Emilia" (Bologna).
    assert_eq!(t.route("IT", "Reggio Calabria").as_str(), "ro-cg-bari");
    assert_eq!(t.route("IT", "Reggio Emilia").as_str(), "ro-cg-bologna");
    assert_eq!(t.route("DE", "Frankfurt am Main").as_str(), "ro-cg-bonn");
}

#[test]
fn unknown_cities_use_the_country_default_and_unknown_countries_the_fallback() {
    let t = demo();
    assert_eq!(
        routed(&t, "FR", "Bordeaux"),
        ("ro-emb-paris".into(), RouteBasis::Country)
    );
    assert_eq!(
        routed(&t, "FR", ""),
        ("ro-emb-paris".into(), RouteBasis::Country)
    );
    assert_eq!(
        routed(&t, "IT", "Napoli"),
        ("ro-emb-roma".into(), RouteBasis::Country)
    );
    assert_eq!(
        routed(&t, "MC", "Monaco"),
        ("ro-cg-marseille".into(), RouteBasis::Country)
    );
    assert_eq!(
        routed(&t, "US", "Houston"),
        ("ro-emb-washington".into(), RouteBasis::Country)
    );
    // A city of another country does not leak across: Lyon in Italy is Rome's.
    assert_eq!(t.route("IT", "Lyon").as_str(), "ro-emb-roma");
    assert_eq!(
        routed(&t, "JP", "Tokyo"),
        ("ro-ccscrs".into(), RouteBasis::Fallback)
    );
    assert_eq!(
        routed(&t, "France", "Lyon"),
        ("ro-ccscrs".into(), RouteBasis::Fallback)
    );
    assert_eq!(
        routed(&t, "", ""),
        ("ro-ccscrs".into(), RouteBasis::Fallback)
    );
    assert_eq!(t.fallback().kind, MissionKind::ContactCentre);
}

#[test]
fn consulate_details() {
    let t = demo();
    let lyon = t
        .consulate(&ConsulateId::parse("ro-cg-lyon").unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|| panic!("ro-cg-lyon"));
    assert_eq!(lyon.kind, MissionKind::ConsulateGeneral);
    assert_eq!(lyon.timezone, "Europe/Paris");
    assert_eq!(lyon.name.get("en"), "Consulate General of Romania in Lyon");
    assert!(t.consulates().len() > 30);
}

const MINIMAL: &str = r#"
version = 1
fallback = "centre"

[[consulate]]
id = "centre"
kind = "contact_centre"
country = "RO"
city = "București"
timezone = "Europe/Bucharest"
name = { ro = "Centrul", en = "The centre" }

[[consulate]]
id = "paris"
kind = "embassy"
country = "FR"
city = "Paris"
timezone = "Europe/Paris"
name = { ro = "Paris", en = "Paris" }

[[country]]
code = "FR"
default = "paris"

[country.cities]
centre = ["Lyon"]
"#;

fn error(source: &str) -> String {
    match Circumscriptions::load(source) {
        Ok(_) => panic!("accepted:\n{source}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn errors_name_the_key() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "fallback = \"centre\"",
            "fallback = \"nowhere\"",
            "fallback: no [[consulate]] with id `nowhere`",
        ),
        (
            "default = \"paris\"",
            "default = \"lyon\"",
            "country[FR].default: no [[consulate]] with id `lyon`",
        ),
        (
            "centre = [\"Lyon\"]",
            "lyon = [\"Lyon\"]",
            "country[FR].cities.lyon: no [[consulate]]",
        ),
        (
            "centre = [\"Lyon\"]",
            "centre = [\"Lyon\", \"LYON\"]",
            "`LYON` is already listed under centre",
        ),
        (
            "centre = [\"Lyon\"]",
            "centre = [\"--\"]",
            "`--` has no letters",
        ),
        ("code = \"FR\"", "code = \"fr\"", "country[fr].code"),
        (
            "country = \"FR\"",
            "country = \"France\"",
            "consulate[paris].country",
        ),
        (
            "timezone = \"Europe/Paris\"",
            "timezone = \"CET; rm\"",
            "consulate[paris].timezone",
        ),
        (
            "kind = \"embassy\"",
            "kind = \"palace\"",
            "consulate[1].kind",
        ),
        (
            "kind = \"embassy\"",
            "kind = \"embassy\"\nphone = \"1\"",
            "unknown field `phone`",
        ),
        ("id = \"paris\"", "id = \"Paris\"", "consulate[1].id"),
        (
            "id = \"paris\"",
            "id = \"centre\"",
            "consulate[centre].id: listed twice",
        ),
        (
            ", en = \"Paris\" }",
            " }",
            "consulate[paris].name: missing the `en` text",
        ),
    ];
    for (from, to, expected) in cases {
        let source = MINIMAL.replacen(from, to, 1);
        assert_ne!(source, MINIMAL, "{from:?} not found");
        let message = error(&source);
        assert!(
            message.contains(expected),
            "{expected:?} not in {message:?}"
        );
    }
    let twice = format!("{MINIMAL}\n[[country]]\ncode = \"FR\"\ndefault = \"paris\"\n");
    assert!(error(&twice).contains("country[FR]: listed twice"));
}

#[test]
fn a_consulate_may_own_cities_of_another_country() {
    let t = Circumscriptions::load(MINIMAL).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.route("FR", "Lyon").as_str(), "centre");
    assert_eq!(t.route("FR", "Nantes").as_str(), "paris");
}

proptest! {
    #[test]
    fn route_never_panics(country in "\\PC{0,4}", city in "\\PC{0,60}") {
        let t = demo();
        let route = t.resolve(&country, &city);
        prop_assert!(t.consulate(&route.consulate.id).is_some());
    }

    #[test]
    fn long_city_fields_never_panic(words in prop::collection::vec("[a-zA-Zéș]{1,8}", 0..40)) {
        let _ = demo().route("IT", &words.join(" "));
    }

    #[test]
    fn load_never_panics(s in "\\PC{0,200}") {
        let _ = Circumscriptions::load(&s);
    }
}
