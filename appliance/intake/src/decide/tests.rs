use super::*;

fn request<'a>(
    declared_type: Option<&'a str>,
    text: &'a str,
    country: &'a str,
    city: &'a str,
) -> Request<'a> {
    Request {
        declared_type,
        declared_priority: None,
        text,
        country,
        city,
    }
}

#[test]
fn a_form_request_keeps_its_type_and_is_routed() {
    let intake = Intake::default_v1();
    let d = intake.decide(&request(
        Some("A1.1"),
        "Pașaportul meu expiră în mai.",
        "FR",
        "Lyon",
    ));
    assert_eq!(d.case_type.as_ref().map(TypeCode::as_str), Some("A1.1"));
    assert_eq!(d.family, Some(Family::Service));
    assert_eq!(
        (d.priority, d.sensitivity, d.queue),
        (Priority::P3, Sensitivity::Normal, Queue::Standard)
    );
    assert_eq!(d.consulate.as_str(), "ro-cg-lyon");
    assert_eq!(d.route_basis, RouteBasis::City);
    assert_eq!(d.taxonomy_version, 1);
    assert!(
        d.classification.is_none(),
        "the form's type is not second-guessed"
    );
    assert!(!d.is_emergency());
}

#[test]
fn emergency_words_override_the_form() {
    let intake = Intake::default_v1();
    let d = intake.decide(&request(
        Some("A1.1"),
        "I need a new passport because my son was arrested and they kept his papers",
        "IT",
        "Milano",
    ));
    assert_eq!(d.case_type.as_ref().map(TypeCode::as_str), Some("A1.1"));
    assert_eq!((d.priority, d.queue), (Priority::P1, Queue::Emergency));
    assert_eq!(d.sensitivity, Sensitivity::Restricted);
    assert!(d.is_emergency());
    assert_eq!(d.consulate.as_str(), "ro-cg-milano");
}

#[test]
fn text_without_a_form_is_classified() {
    let intake = Intake::default_v1();
    let d = intake.decide(&request(
        None,
        "Am nevoie de cazier judiciar pentru angajare",
        "ES",
        "Zaragoza",
    ));
    assert_eq!(d.case_type.as_ref().map(TypeCode::as_str), Some("A6.1"));
    assert_eq!((d.priority, d.queue), (Priority::P3, Queue::Standard));
    assert!(d.classification.as_ref().is_some_and(|c| !c.triage));
    assert_eq!(d.consulate.as_str(), "ro-c-zaragoza");

    let d = intake.decide(&request(None, "Copilul meu a fost răpit!", "JP", "Tokyo"));
    assert_eq!(d.case_type.as_ref().map(TypeCode::as_str), Some("C9"));
    assert_eq!(
        (d.priority, d.queue, d.sensitivity),
        (Priority::P0, Queue::Emergency, Sensitivity::Restricted)
    );
    assert_eq!(
        (d.consulate.as_str(), d.route_basis),
        ("ro-ccscrs", RouteBasis::Fallback)
    );
}

#[test]
fn unclear_text_goes_to_triage() {
    let intake = Intake::default_v1();
    let d = intake.decide(&request(None, "Bună ziua, vă rog să mă sunați.", "DE", ""));
    assert_eq!(d.case_type, None);
    assert_eq!((d.priority, d.queue), (UNTYPED_PRIORITY, Queue::Triage));
    assert_eq!(
        (d.consulate.as_str(), d.route_basis),
        ("ro-emb-berlin", RouteBasis::Country)
    );
    // An unknown type from a tampered form is ignored, not trusted.
    let d = intake.decide(&request(Some("Z9"), "hello", "DE", "Bonn"));
    assert_eq!((d.case_type, d.queue), (None, Queue::Triage));
    // Untyped but urgent: the emergency queue, where the duty officer types it.
    let d = intake.decide(&request(None, "he is in hospital", "DE", "Bonn"));
    assert_eq!(d.queue, Queue::Emergency);
}

#[test]
fn a_declared_priority_never_lowers_the_type_default() {
    let intake = Intake::default_v1();
    let mut r = request(Some("C1"), "", "GB", "London");
    r.declared_priority = Some(Priority::P4);
    let d = intake.decide(&r);
    assert_eq!((d.priority, d.queue), (Priority::P1, Queue::Emergency));
    r.declared_type = Some("D1");
    r.declared_priority = Some(Priority::P0);
    assert_eq!(intake.decide(&r).priority, Priority::P0);
    r.declared_priority = Some(Priority::P2);
    assert_eq!(intake.decide(&r).priority, Priority::P2);
}
