use super::*;

#[test]
fn case_numbers_print_and_parse_the_public_form() {
    let no = CaseNumber::new(2026, 1234).unwrap();
    assert_eq!(no.to_string(), "CSC-2026-0001234");
    assert_eq!("CSC-2026-0001234".parse::<CaseNumber>().unwrap(), no);
    assert_eq!(" csc-2026-0001234 ".parse::<CaseNumber>().unwrap(), no);
    for bad in [
        "CSC-2026-001234",
        "CSC-2026-00012345",
        "CSC-26-0001234",
        "XSC-2026-0001234",
        "CSC-2026-0000000",
        "CSC-1999-0000001",
        "CSC-2026-00O1234",
        "CSC-2026-+001234",
        "ȘSC-2026-0001234",
        "",
    ] {
        assert!(bad.parse::<CaseNumber>().is_err(), "{bad:?} parsed");
    }
    assert!(CaseNumber::new(2026, i64::from(CaseNumber::MAX_SEQ) + 1).is_err());
}

#[test]
fn every_code_round_trips_and_codes_are_unique() {
    fn check<T: Copy + PartialEq + std::fmt::Debug>(
        all: &[T],
        code: fn(T) -> &'static str,
        from: fn(&str) -> Option<T>,
    ) {
        let mut seen = std::collections::HashSet::new();
        for &v in all {
            assert_eq!(from(code(v)), Some(v));
            assert!(seen.insert(code(v)), "duplicate code {}", code(v));
        }
        assert_eq!(from("no-such-code"), None);
    }
    check(Family::ALL, Family::code, Family::from_code);
    check(Priority::ALL, Priority::code, Priority::from_code);
    check(Sensitivity::ALL, Sensitivity::code, Sensitivity::from_code);
    check(Status::ALL, Status::code, Status::from_code);
    check(Channel::ALL, Channel::code, Channel::from_code);
    check(Direction::ALL, Direction::code, Direction::from_code);
    check(Visibility::ALL, Visibility::code, Visibility::from_code);
    check(ScanVerdict::ALL, ScanVerdict::code, ScanVerdict::from_code);
    check(Role::ALL, Role::code, Role::from_code);
    check(
        Relationship::ALL,
        Relationship::code,
        Relationship::from_code,
    );
    check(ContactKind::ALL, ContactKind::code, ContactKind::from_code);
    check(
        Verification::ALL,
        Verification::code,
        Verification::from_code,
    );
    check(LinkKind::ALL, LinkKind::code, LinkKind::from_code);
    check(QueueKind::ALL, QueueKind::code, QueueKind::from_code);
    check(EventKind::ALL, EventKind::code, EventKind::from_code);
    check(IdKind::ALL, IdKind::code, IdKind::from_code);
    check(MatchedOn::ALL, MatchedOn::code, MatchedOn::from_code);
    check(StatMetric::ALL, StatMetric::code, StatMetric::from_code);
    check(
        ChangedField::ALL,
        ChangedField::code,
        ChangedField::from_code,
    );
    for p in Priority::ALL {
        assert_eq!(Priority::from_rank(i64::from(p.rank())), Some(*p));
    }
    assert!(Priority::P0 < Priority::P4);
    assert!(Priority::P1.is_emergency() && !Priority::P2.is_emergency());
}

#[test]
fn status_transitions_follow_the_rules() {
    use Status::*;
    assert!(
        !InProgress.can_become(InProgress),
        "staying put is not a change"
    );
    assert!(Triage.can_become(New));
    assert!(
        !InProgress.can_become(New),
        "only triage hands a case back to new"
    );
    assert!(
        Closed.can_become(InProgress),
        "a closed case can be reopened"
    );
    assert!(!Closed.can_become(Resolved));
    assert!(New.can_become(WaitingCitizen) && Resolved.can_become(Closed));
    for s in Status::ALL {
        assert!(!s.can_become(Merged), "only a merge makes {s} merged");
        assert!(
            !Merged.can_become(*s),
            "only an un-merge takes a case out of merged"
        );
    }
    assert!(!Merged.is_open() && !Merged.is_resolution());
}

#[test]
fn queue_rules() {
    use QueueKind as Q;
    use Status as S;
    assert!(Q::Unassigned.contains(S::New, Priority::P3, false));
    assert!(!Q::Unassigned.contains(S::New, Priority::P3, true));
    assert!(Q::Assigned.contains(S::InProgress, Priority::P3, true));
    assert!(Q::Emergency.contains(S::Triage, Priority::P1, true));
    assert!(
        !Q::Emergency.contains(S::Closed, Priority::P0, false),
        "closed cases leave every queue"
    );
    assert!(!Q::Open.contains(S::Resolved, Priority::P3, false));
    assert!(Q::Referred.contains(S::Referred, Priority::P3, true));
    assert!(Q::UnassignedEmergency.contains(S::New, Priority::P0, false));
    assert!(!Q::UnassignedEmergency.contains(S::New, Priority::P0, true));
    assert!(!Q::UnassignedEmergency.contains(S::New, Priority::P2, false));
    for q in QueueKind::ALL {
        assert!(!q.contains(S::Merged, Priority::P0, false), "{q:?}");
    }
}

#[test]
fn sensitivity_sets() {
    use Sensitivity::*;
    let everyday = Sensitivities::only(Normal).with(Sensitive);
    assert!(everyday.contains(Sensitive) && !everyday.contains(Restricted));
    assert_eq!(everyday.iter().collect::<Vec<_>>(), vec![Normal, Sensitive]);
    assert_eq!(Sensitivities::default(), Sensitivities::ALL);
    assert_eq!(
        Sensitivities::of(&[Normal, Sensitive, Restricted]),
        Sensitivities::all()
    );
    assert_eq!(
        everyday.without(Normal).without(Sensitive),
        Sensitivities::NONE
    );
    assert!(Sensitivities::NONE.is_empty() && Sensitivities::ALL.is_all());
    assert_eq!(format!("{everyday:?}"), "{Normal, Sensitive}");
}

#[test]
fn identity_numbers_are_normalised_checked_and_masked() {
    let cnp = PersonIdentifier::new(IdKind::Cnp, " 2900517 400010 ").unwrap();
    assert_eq!(cnp.value(), "2900517400010");
    assert_eq!(cnp.masked(), "***********10");
    assert!(
        !format!("{cnp:?}").contains("29005"),
        "Debug never shows it"
    );
    let passport = PersonIdentifier::new(IdKind::Passport, "ab 123456").unwrap();
    assert_eq!(passport.value(), "AB123456");
    for (kind, bad) in [
        (IdKind::Cnp, "290051740001"),
        (IdKind::Cnp, "29005174000a0"),
        (IdKind::Passport, "12345"),
        (IdKind::Passport, "ABCDEFGH"),
        (IdKind::Passport, "AB-123456"),
    ] {
        assert!(PersonIdentifier::new(kind, bad).is_err(), "{kind} {bad:?}");
    }
}

#[test]
fn text_values_are_checked() {
    assert!(ConsulateId::new("RO-PAR").is_ok());
    assert!(ConsulateId::new("RO PAR").is_err());
    assert!(ConsulateId::new("").is_err());
    assert!(Language::new("ro").is_ok() && Language::new("en-GB").is_ok());
    assert!(Language::new("r").is_err() && Language::new("12").is_err());
    assert!(TypeCode::new("A1.3").is_ok() && TypeCode::new("A1 3").is_err());
    assert!(Name::new("Ștefănescu").is_ok());
    assert!(Name::new("  ").is_err() && Name::new("a\u{7}b").is_err());
    assert!(Body::new("bună ziua\n\tcu drag").is_ok());
    assert!(Body::new("a\0b").is_err());
    assert!(Body::new("x".repeat(MAX_BODY_BYTES + 1)).is_err());
    assert!(BirthDate::new("1980-02-29").is_ok());
    for bad in [
        "1980-13-01",
        "1980-1-01",
        "19800101",
        "1980-02-32",
        "abcd-ef-gh",
    ] {
        assert!(BirthDate::new(bad).is_err(), "{bad}");
    }
    assert!(MediaType::new("application/pdf").is_ok());
    assert!(MediaType::new("pdf").is_err() && MediaType::new("a/b/c").is_err());
    let err = AgentId::new("ana popescu").unwrap_err();
    assert_eq!(
        err.to_string(),
        "agent id has a character outside the allowed set"
    );
}

#[test]
fn file_names_lose_paths_controls_and_leading_dots() {
    let name = |s| FileName::sanitize(s).as_str().to_owned();
    assert_eq!(name("../../etc/passwd"), "passwd");
    assert_eq!(name("C:\\Users\\ana\\pașaport.pdf"), "pașaport.pdf");
    assert_eq!(name("a\u{0}b\nc\r.pdf"), "abc.pdf");
    assert_eq!(name(".bashrc"), "bashrc");
    assert_eq!(name("fact\u{202e}fdp.exe"), "factfdp.exe");
    assert_eq!(name("dir/"), "file");
    assert_eq!(name("..."), "file");
    assert_eq!(name(&"x".repeat(500)).chars().count(), 200);
}

#[test]
fn sha256_hex_round_trips() {
    let d = Sha256::of(b"abc");
    assert_eq!(
        d.to_hex(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(Sha256::from_hex(&d.to_hex()).unwrap(), d);
    assert!(Sha256::from_hex("zz").is_err());
    assert!(Sha256::from_hex(&"é".repeat(32)).is_err());
}

#[test]
fn timestamps_know_their_year_and_actors_round_trip() {
    assert_eq!(Timestamp::from_unix_ms(1_772_355_600_000).year(), 2026);
    assert_eq!(Timestamp::from_unix_ms(0).year(), 1970);
    for actor in [
        Actor::Citizen,
        Actor::System,
        Actor::Agent(AgentId::new("ana.p").unwrap()),
    ] {
        assert_eq!(Actor::from_code(&actor.code()), Some(actor));
    }
    assert_eq!(Actor::from_code("agent:"), None);
    assert_eq!(Actor::from_code("robot"), None);
}
