use proptest::prelude::*;

use super::*;

fn v1() -> Taxonomy {
    Taxonomy::load(TAXONOMY_V1).unwrap_or_else(|e| panic!("{e}"))
}

/// Every code of the reference taxonomy (consular-casework.md §1.2), A3.1–3 expanded.
const REFERENCE_CODES: &[&str] = &[
    "A1.1", "A1.2", "A1.3", "A1.4", "A2.1", "A2.2", "A2.3", "A3.1", "A3.2", "A3.3", "A3.4", "A3.5",
    "A3.6", "A4.1", "A4.2", "A4.3", "A5.1", "A5.2", "A6.1", "A6.2", "A6.3", "A7.1", "A8", "B1",
    "B2", "B3", "B4", "B5", "B6", "C1", "C2", "C3", "C4", "C5", "C6", "C7", "C8", "C9", "D1", "D2",
    "D3", "D4", "E", "F",
];

#[test]
fn the_shipped_taxonomy_loads_and_covers_the_reference() {
    let t = v1();
    assert_eq!(t.version(), 1);
    let codes: Vec<&str> = t.types().iter().map(|t| t.code.as_str()).collect();
    assert_eq!(codes, REFERENCE_CODES);
    assert_eq!(t.groups().len(), 6);
    for case_type in t.types() {
        assert!(!case_type.name.get("ro").is_empty());
        assert!(!case_type.name.get("en").is_empty());
        assert_ne!(
            case_type.name.get("ro"),
            case_type.name.get("en"),
            "{}",
            case_type.code
        );
    }
    assert!(t.common_fields().iter().any(|f| f.kind == FieldKind::Cnp));
}

#[test]
fn classes_follow_the_reference() {
    let t = v1();
    let class = |code: &str| {
        t.lookup(code)
            .map(|t| (t.family, t.priority, t.sensitivity))
    };
    assert_eq!(
        class("A1.1"),
        Some((Family::Service, Priority::P3, Sensitivity::Normal))
    );
    assert_eq!(
        class("A1.3"),
        Some((Family::Service, Priority::P2, Sensitivity::Normal))
    );
    assert_eq!(
        class("B5"),
        Some((Family::Assistance, Priority::P2, Sensitivity::Sensitive))
    );
    assert_eq!(
        class("C1"),
        Some((Family::Protection, Priority::P1, Sensitivity::Restricted))
    );
    assert_eq!(
        class("C6"),
        Some((Family::Protection, Priority::P1, Sensitivity::Restricted))
    );
    assert_eq!(
        class("C9"),
        Some((Family::Protection, Priority::P0, Sensitivity::Restricted))
    );
    assert_eq!(
        class("D1"),
        Some((Family::Info, Priority::P4, Sensitivity::Normal))
    );
    assert_eq!(
        class("E"),
        Some((Family::Complaint, Priority::P3, Sensitivity::Normal))
    );
    assert_eq!(
        class("F"),
        Some((Family::Crisis, Priority::P0, Sensitivity::Sensitive))
    );
    for t in t.types() {
        let expected = match t.code.group() {
            'A' => Family::Service,
            'B' => Family::Assistance,
            'C' => Family::Protection,
            'D' => Family::Info,
            'E' => Family::Complaint,
            _ => Family::Crisis,
        };
        assert_eq!(t.family, expected, "{}", t.code);
    }
}

#[test]
fn the_portal_form_is_described() {
    let t = v1();
    let lost = t.lookup("A1.4").unwrap_or_else(|| panic!("A1.4"));
    assert!(
        lost.documents
            .iter()
            .any(|d| d.key == "police_report" && d.required)
    );
    assert!(
        lost.fields
            .iter()
            .any(|f| f.key == "lost_on" && f.kind == FieldKind::Date)
    );
    assert_eq!(
        lost.documents[0].label.get("ro"),
        "Declarația la poliția locală"
    );
    assert_eq!(
        lost.documents[0].label.get("de"),
        "Local police report",
        "falls back to English"
    );
    assert!(
        !t.portal_types().any(|t| t.code.as_str() == "F"),
        "crisis cases are opened by staff"
    );
    assert_eq!(t.portal_types().count(), t.types().len() - 1);
    assert!(t.lookup("C9").is_some());
    assert!(t.lookup("c9").is_none());
    assert!(t.lookup("Z9").is_none());
    assert!(t.lookup("A1.9").is_none());
}

const MINIMAL: &str = r#"
version = 2
[[group]]
code = "A"
name = { ro = "Servicii", en = "Services" }
[[type]]
code = "A1"
family = "service"
priority = "P3"
sensitivity = "normal"
name = { ro = "Pașaport", en = "Passport", fr = "Passeport" }
"#;

fn error(source: &str) -> String {
    match Taxonomy::load(source) {
        Ok(_) => panic!("accepted:\n{source}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_minimal_taxonomy_loads_and_more_languages_are_data() {
    let t = Taxonomy::load(MINIMAL).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.version(), 2);
    let passport = t.lookup("A1").unwrap_or_else(|| panic!("A1"));
    assert_eq!(passport.name.get("fr"), "Passeport");
    assert!(passport.on_portal);
    assert!(passport.documents.is_empty());
}

#[test]
fn errors_name_the_key() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "sensitivity = \"normal\"",
            "sensitivity = \"normal\"\nsensitivty = \"x\"",
            "sensitivty",
        ),
        ("priority = \"P3\"", "priority = \"P9\"", "type[0].priority"),
        (
            "family = \"service\"",
            "family = \"services\"",
            "type[0].family",
        ),
        (
            "code = \"A1\"",
            "code = \"A1.\"",
            "`A1.` is not a taxonomy code",
        ),
        (
            "code = \"A1\"",
            "code = \"B1\"",
            "type[B1].code: no [[group]] with code B",
        ),
        (
            "en = \"Passport\", ",
            "",
            "type[A1].name: missing the `en` text",
        ),
        (
            "ro = \"Pașaport\"",
            "ro = \" \"",
            "type[A1].name: the `ro` text is empty",
        ),
        ("version = 2", "version = 0", "version: must be 1 or more"),
        ("version = 2", "", "missing field `version`"),
        ("code = \"A\"", "code = \"G\"", "group[G].code"),
        (
            "fr = \"Passeport\"",
            "FR = \"Passeport\"",
            "`FR` is not a language code",
        ),
    ];
    for (from, to, expected) in cases {
        let source = MINIMAL.replacen(from, to, 1);
        let message = error(&source);
        assert!(
            message.contains(expected),
            "{expected:?} not in {message:?}"
        );
    }
}

#[test]
fn inconsistencies_are_rejected() {
    let twice = format!(
        "{MINIMAL}{}",
        &MINIMAL[MINIMAL.find("[[type]]").unwrap_or(0)..]
    );
    assert!(error(&twice).contains("type[A1].code: listed twice"));

    let field =
        "\n[[type.field]]\nkey = \"KEY\"\nkind = \"text\"\nlabel = { ro = \"a\", en = \"b\" }\n";
    assert!(error(&format!("{MINIMAL}{field}")).contains("type[A1].field[KEY].key"));
    let kind = field.replace("KEY", "ok").replace("\"text\"", "\"colour\"");
    assert!(error(&format!("{MINIMAL}{kind}")).contains("type[0].field[0].kind"));
    let dup = field.replace("KEY", "surname");
    let common = "\n[[common_field]]\nkey = \"surname\"\nkind = \"text\"\nlabel = { ro = \"a\", en = \"b\" }\n";
    let with_common = MINIMAL.replacen("[[type]]", &format!("{common}\n[[type]]"), 1);
    assert!(error(&format!("{with_common}{dup}")).contains("key used twice"));
    let zero = field
        .replace("KEY", "ok")
        .replace("kind", "max_len = 0\nkind");
    assert!(error(&format!("{MINIMAL}{zero}")).contains("max_len: must be 1 or more"));
    let doc = "\n[[type.document]]\nkey = \"id\"\nlabel = { ro = \"a\", en = \"b\" }\n";
    assert!(error(&format!("{MINIMAL}{doc}{doc}")).contains("type[A1].document[id]: listed twice"));
}

#[test]
fn syntax_errors_give_the_line() {
    let message = error("version = 1\n[[group]\n");
    assert!(message.starts_with("taxonomy line 2:"), "{message}");
}

proptest! {
    #[test]
    fn load_never_panics(s in "\\PC{0,200}") {
        let _ = Taxonomy::load(&s);
    }

    #[test]
    fn load_never_panics_on_mutations(at in 0usize..400, cut in 0usize..40, insert in "[\\[\\]=\"{},.a-z0-9\n ]{0,8}") {
        let mut source = MINIMAL.to_owned();
        let at = at.min(source.len());
        let end = (at + cut).min(source.len());
        if source.is_char_boundary(at) && source.is_char_boundary(end) {
            source.replace_range(at..end, &insert);
            let _ = Taxonomy::load(&source);
        }
    }

    #[test]
    fn lookup_never_panics(s in "\\PC{0,12}") {
        let _ = v1().lookup(&s);
    }
}
