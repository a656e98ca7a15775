use std::sync::LazyLock;

use proptest::prelude::*;

use super::*;

static V1: LazyLock<Lexicon> = LazyLock::new(|| {
    Lexicon::load(LEXICON_V1, &Taxonomy::default_v1()).unwrap_or_else(|e| panic!("{e}"))
});

fn v1() -> Lexicon {
    V1.clone()
}

fn code(s: &str) -> TypeCode {
    TypeCode::parse(s).unwrap_or_else(|e| panic!("{e}"))
}

/// Messages as citizens write them, in Romanian (with and without diacritics, both comma and
/// cedilla forms) and English, with the type a person would give them.
const MESSAGES: &[(&str, &str)] = &[
    (
        "Bună ziua, fiul meu a fost arestat ieri la Lyon și nu știm unde este ținut.",
        "C1",
    ),
    (
        "buna ziua, fratele meu a fost retinut de politie in Italia",
        "C1",
    ),
    ("Soţul meu a fost reţinut la aeroport", "C1"),
    (
        "My brother was arrested in Madrid last night and is in police custody",
        "C1",
    ),
    (
        "My passport was stolen in Barcelona yesterday, what do I do?",
        "A1.4",
    ),
    ("Mi-au furat pașaportul din geantă în metrou", "A1.4"),
    ("am pierdut pasaportul in vacanta", "A1.4"),
    ("I lost my passport and my flight is on Friday", "A1.4"),
    (
        "Aș dori să îmi reînnoiesc pașaportul, expiră luna viitoare",
        "A1.1",
    ),
    ("I need to renew my passport, it expired in March", "A1.1"),
    ("Am nevoie de un pașaport temporar urgent", "A1.2"),
    (
        "I need an emergency travel document to fly home tomorrow",
        "A1.3",
    ),
    (
        "Vreau să fac o procură pentru vânzarea apartamentului",
        "A4.1",
    ),
    (
        "How do I get a power of attorney signed at the consulate?",
        "A4.1",
    ),
    (
        "I need a criminal record certificate for a job application",
        "A6.1",
    ),
    ("Am nevoie de cazier judiciar", "A6.1"),
    (
        "Cum pot vota prin corespondență la alegerile prezidențiale?",
        "A7.1",
    ),
    (
        "Where is the nearest polling station for the elections?",
        "A7.1",
    ),
    (
        "Vreau transcrierea certificatului de naștere al copilului născut în Franța",
        "A3.1",
    ),
    (
        "Transcrierea certificatului de căsătorie încheiate în Spania",
        "A3.2",
    ),
    ("Transcrierea certificatului de deces al bunicului", "A3.3"),
    (
        "I want to acquire Romanian citizenship, my grandparents were Romanian",
        "A5.1",
    ),
    (
        "Sora mea a dispărut de trei zile și nu mai răspunde la telefon",
        "C5",
    ),
    ("My daughter has been missing since Monday", "C5"),
    (
        "Tatăl meu a decedat la Madrid, cum se face repatrierea corpului?",
        "C2",
    ),
    (
        "My husband died in a car crash and we need to arrange the funeral",
        "C2",
    ),
    (
        "Mama a fost internată în spital după un accident rutier",
        "C3",
    ),
    (
        "I was attacked and robbed last night, the police took my statement",
        "C4",
    ),
    (
        "Am fost victima traficului de persoane, mi-au luat actele",
        "C6",
    ),
    (
        "They took my passport and force me to work without pay, I think it is trafficking",
        "C6",
    ),
    (
        "Fostul meu soț a luat copilul în Italia fără acordul meu, convenția de la Haga",
        "C7",
    ),
    (
        "Soțul mă bate, violență domestică, am nevoie de ordin de protecție",
        "C8",
    ),
    ("My son was kidnapped and they ask for a ransom", "C9"),
    ("The employer has not paid my salary for three months", "B2"),
    ("Angajatorul nu mi-a plătit salariul de două luni", "B2"),
    (
        "Am rămas fără bani și fără adăpost, am nevoie de ajutor",
        "B5",
    ),
    (
        "Is it safe to travel to this region? Any travel advice?",
        "D2",
    ),
    ("Nu reușesc să fac o programare pe econsulat", "D3"),
    (
        "What is the status of my application CSC-2026-0001234?",
        "D4",
    ),
    (
        "I want to file a complaint about how I was treated, staff were rude",
        "E",
    ),
    ("Cutremur puternic, suntem blocați, cerem evacuare", "F"),
];

#[test]
fn the_shipped_lexicon_loads() {
    let lexicon = v1();
    assert_eq!(lexicon.version(), 1);
    assert_eq!(lexicon.threshold(), 0.5);
}

#[test]
fn messages_are_classified_in_both_languages() {
    let lexicon = v1();
    let mut wrong = Vec::new();
    for (text, expected) in MESSAGES {
        let c = lexicon.classify(text);
        let got = c.type_code.as_ref().map(TypeCode::as_str);
        if c.triage || got != Some(*expected) {
            wrong.push(format!(
                "{text:?}: expected {expected}, got {got:?} at {:.2} (triage {}); candidates {:?}",
                c.confidence, c.triage, c.candidates
            ));
        }
    }
    assert!(wrong.is_empty(), "misclassified:\n{}", wrong.join("\n"));
}

#[test]
fn vague_or_unrelated_text_goes_to_triage() {
    let lexicon = v1();
    for text in [
        "",
        "Bună ziua, am o întrebare.",
        "Hello, can someone call me back?",
        "asdf qwerty 12345",
        // Two equally plausible types: not confident.
        "passport",
    ] {
        let c = lexicon.classify(text);
        assert!(c.triage, "{text:?} → {c:?}");
    }
    let empty = lexicon.classify("");
    assert_eq!((empty.type_code, empty.confidence), (None, 0.0));
    assert!(empty.matched.is_empty() && empty.candidates.is_empty());
}

#[test]
fn a_classification_explains_itself() {
    let c = v1().classify("Fiul meu a fost ARESTAT; is he still detained?");
    assert_eq!(c.type_code, Some(code("C1")));
    let terms: Vec<(&str, &str)> = c
        .matched
        .iter()
        .map(|m| (m.term.as_str(), m.found.as_str()))
        .collect();
    assert_eq!(terms, [("arest*", "arestat"), ("detained", "detained")]);
    // Two terms of one rule count once: the score is the rule's weight.
    assert!((c.confidence - 0.85).abs() < 1e-9, "{}", c.confidence);
    assert_eq!(c.candidates, [(code("C1"), c.confidence)]);
}

#[test]
fn the_threshold_is_configurable() {
    let text = "I need to renew my passport";
    let default = v1().classify(text);
    assert!(!default.triage);
    let strict = v1()
        .with_threshold(0.99)
        .unwrap_or_else(|e| panic!("{e}"))
        .classify(text);
    assert!(strict.triage);
    assert_eq!(
        strict.type_code, default.type_code,
        "the best guess is kept for the agent"
    );
    assert!(v1().with_threshold(1.5).is_err());
    assert!(v1().with_threshold(f64::NAN).is_err());
    assert!(
        v1().with_threshold(0.0)
            .is_ok_and(|l| !l.classify("vot").triage)
    );
}

/// Emergency words in Romanian (with and without diacritics, comma-below and cedilla forms,
/// inflected) and English, with the priority and reason they must give.
const EMERGENCIES: &[(&str, Priority, &str)] = &[
    (
        "My son was detained at the border",
        Priority::P1,
        "detention",
    ),
    ("He was arrested yesterday", Priority::P1, "detention"),
    ("Fiul meu a fost arestat", Priority::P1, "detention"),
    ("Fiica mea a fost arestată", Priority::P1, "detention"),
    ("fiica mea a fost arestata", Priority::P1, "detention"),
    ("Soțul meu a fost reținut", Priority::P1, "detention"),
    ("Soţul meu a fost reţinut", Priority::P1, "detention"),
    ("SOTUL MEU A FOST RETINUT", Priority::P1, "detention"),
    ("sunt reținuți de poliție", Priority::P1, "detention"),
    (
        "he is being tortured in prison",
        Priority::P0,
        "ill_treatment",
    ),
    ("a avut un accident de mașină", Priority::P1, "medical"),
    ("car accident on the motorway", Priority::P1, "medical"),
    ("She is in hospital in Rome", Priority::P1, "medical"),
    ("Este internat la spital", Priority::P1, "medical"),
    ("e la spitalul din Torino", Priority::P1, "medical"),
    ("My father is missing", Priority::P1, "missing"),
    ("Fratele meu a dispărut", Priority::P1, "missing"),
    ("fratele meu a disparut", Priority::P1, "missing"),
    ("Sora mea e dispărută de ieri", Priority::P1, "missing"),
    ("my mother died this morning", Priority::P1, "death"),
    ("he is dead", Priority::P1, "death"),
    ("Tatăl meu a decedat", Priority::P1, "death"),
    ("a murit ieri", Priority::P1, "death"),
    ("E mort", Priority::P1, "death"),
    ("there was violence at home", Priority::P1, "violence"),
    ("am fost victima violenței", Priority::P1, "violence"),
    ("violență domestică", Priority::P1, "violence"),
    ("violenţă", Priority::P1, "violence"),
    ("victim of human trafficking", Priority::P1, "trafficking"),
    ("trafic de persoane", Priority::P1, "trafficking"),
    ("Trafic de Persoane!", Priority::P1, "trafficking"),
    ("am fost traficată în Germania", Priority::P1, "trafficking"),
    ("my daughter was kidnapped", Priority::P0, "kidnapping"),
    ("Copilul a fost răpit", Priority::P0, "kidnapping"),
    ("copilul a fost rapit", Priority::P0, "kidnapping"),
    ("fetița a fost răpită", Priority::P0, "kidnapping"),
    ("they are holding him hostage", Priority::P0, "kidnapping"),
    ("she was raped", Priority::P1, "sexual_violence"),
    ("a fost violată", Priority::P1, "sexual_violence"),
    (
        "he says he will kill himself, suicide",
        Priority::P0,
        "life_threat",
    ),
    ("viața lui este în pericol", Priority::P0, "life_threat"),
    ("cutremur în zona noastră", Priority::P0, "crisis"),
    (
        "nu mă lasă să plec din casă",
        Priority::P0,
        "held_against_will",
    ),
];

#[test]
fn emergency_words_raise_the_priority_in_both_languages() {
    let lexicon = v1();
    let mut wrong = Vec::new();
    for (text, expected, reason) in EMERGENCIES {
        for declared in [Priority::P4, Priority::P3] {
            let a = lexicon.assess(text, declared);
            let reasons: Vec<&str> = a.reasons.iter().map(|r| r.reason.as_str()).collect();
            if !a.emergency || a.priority != *expected || !reasons.contains(reason) {
                wrong.push(format!("{text:?}: {a:?}"));
            }
        }
    }
    assert!(wrong.is_empty(), "missed:\n{}", wrong.join("\n"));
}

#[test]
fn emergency_words_never_lower_the_priority() {
    let lexicon = v1();
    let a = lexicon.assess("he was arrested", Priority::P0);
    assert_eq!((a.priority, a.emergency), (Priority::P0, true));
    let a = lexicon.assess("nothing urgent here", Priority::P2);
    assert_eq!(
        (a.priority, a.emergency, a.declared),
        (Priority::P2, false, Priority::P2)
    );
    assert!(a.reasons.is_empty() && a.sensitivity.is_none());
}

#[test]
fn the_most_urgent_word_wins_and_sensitivity_is_the_strictest() {
    let a = v1().assess(
        "După accident a fost arestat, apoi l-au bătut în arest și e torturat",
        Priority::P3,
    );
    assert_eq!(a.priority, Priority::P0);
    assert_eq!(a.sensitivity, Some(Sensitivity::Restricted));
    let reasons: Vec<&str> = a.reasons.iter().map(|r| r.reason.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "medical",
            "detention",
            "ill_treatment",
            "violence",
            "ill_treatment"
        ]
    );
    let found: Vec<&str> = a.reasons.iter().map(|r| r.found.as_str()).collect();
    assert_eq!(
        found,
        ["accident", "arestat", "batut in arest", "batut", "torturat"]
    );
}

#[test]
fn look_alike_words_are_not_emergencies() {
    let lexicon = v1();
    for text in [
        "What is the deadline for the application?",
        "I work in hospitality",
        "traffic was heavy, trafic intens pe autostradă",
        "I have a mortgage in Romania",
        "there is a disparity between the fees",
        "my rights as a consumer were violated by the bank",
        "a flu shot certificate",
        "programare pentru pașaport",
    ] {
        let a = lexicon.assess(text, Priority::P4);
        assert!(!a.emergency, "{text:?}: {:?}", a.reasons);
    }
}

const MINIMAL: &str = r#"
version = 1
threshold = 0.5

[[rule]]
type = "C1"
weight = 0.8
terms = ["arest*"]

[[emergency]]
reason = "detention"
priority = "P1"
terms = ["arest*"]
"#;

fn error(source: &str) -> String {
    match Lexicon::load(source, &Taxonomy::default_v1()) {
        Ok(_) => panic!("accepted:\n{source}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn errors_name_the_key() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "type = \"C1\"",
            "type = \"C10\"",
            "rule[0].type: C10 is not in taxonomy version 1",
        ),
        ("type = \"C1\"", "type = \"X\"", "rule[0].type"),
        (
            "weight = 0.8",
            "weight = 1.0",
            "rule[0].weight: must be above 0 and below 1",
        ),
        ("weight = 0.8", "weight = 0", "rule[0].weight"),
        (
            "terms = [\"arest*\"]",
            "terms = [\"ar*\"]",
            "rule[0].terms[0]",
        ),
        (
            "terms = [\"arest*\"]",
            "terms = []",
            "rule[0].terms: is empty",
        ),
        (
            "priority = \"P1\"",
            "priority = \"P2\"",
            "emergency[0].priority: emergency words raise to P0 or P1",
        ),
        (
            "reason = \"detention\"",
            "reason = \"De tention\"",
            "emergency[0].reason",
        ),
        (
            "threshold = 0.5",
            "threshold = 2.0",
            "threshold: must be between 0 and 1",
        ),
        (
            "threshold = 0.5",
            "treshold = 0.5",
            "unknown field `treshold`",
        ),
        (
            "priority = \"P1\"",
            "priority = \"P1\"\nlevel = 1",
            "emergency[0].level: unknown field `level`",
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
}

/// Emergency words that must be found wherever they stand in a text.
const SOME_EMERGENCY_WORDS: &[&str] = &[
    "arrested",
    "arestat",
    "reținut",
    "reţinut",
    "accident",
    "hospital",
    "spital",
    "missing",
    "dispărut",
    "died",
    "decedat",
    "violence",
    "violență",
    "violenţă",
    "trafficking",
    "trafic de persoane",
    "kidnapped",
    "răpit",
    "detained",
    "dead",
    "mort",
];

proptest! {
    #[test]
    fn classify_and_assess_never_panic(text in "\\PC{0,300}") {
        let lexicon = &*V1;
        let c = lexicon.classify(&text);
        prop_assert!((0.0..=1.0).contains(&c.confidence));
        prop_assert!(c.triage || c.type_code.is_some());
        for declared in Priority::ALL {
            let a = lexicon.assess(&text, declared);
            prop_assert!(a.priority <= declared, "lowered {:?} to {:?}", declared, a.priority);
            prop_assert_eq!(a.emergency, !a.reasons.is_empty());
        }
    }

    #[test]
    fn emergency_words_are_found_anywhere(
        before in "[a-z ]{0,40}",
        word in prop::sample::select(SOME_EMERGENCY_WORDS),
        after in "[a-z ]{0,40}",
        upper in any::<bool>(),
        declared in prop::sample::select(Priority::ALL.to_vec()),
    ) {
        let text = format!("{before} {word}, {after}");
        let text = if upper { text.to_uppercase() } else { text };
        let a = V1.assess(&text, declared);
        prop_assert!(a.emergency, "{:?}", text);
        prop_assert!(a.priority <= Priority::P1);
    }

    #[test]
    fn folding_does_not_change_the_answer(text in "[a-zA-ZăâîșțşţĂÂÎȘȚŞŢ ,.]{0,80}") {
        let lexicon = &*V1;
        let folded = crate::fold::fold(&text);
        prop_assert_eq!(lexicon.assess(&text, Priority::P4), lexicon.assess(&folded, Priority::P4));
        prop_assert_eq!(lexicon.classify(&text), lexicon.classify(&folded));
    }

    #[test]
    fn load_never_panics(s in "\\PC{0,200}") {
        let _ = Lexicon::load(&s, &Taxonomy::default_v1());
    }
}
