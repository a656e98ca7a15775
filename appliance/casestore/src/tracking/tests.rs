use ring::rand::SystemRandom;

use super::*;

#[test]
fn codes_are_grouped_crockford_and_distinct() {
    let rng = SystemRandom::new();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..1000 {
        let (code, _) = generate(&rng).unwrap();
        let s = code.as_str();
        assert_eq!(s.len(), 19);
        assert_eq!(s.matches('-').count(), 3);
        assert!(s.chars().all(|c| c == '-' || ALPHABET.contains(&(c as u8))));
        assert!(seen.insert(s.to_owned()));
    }
}

#[test]
fn verification_tolerates_typing_but_not_a_wrong_code() {
    let rng = SystemRandom::new();
    let (code, sealed) = generate(&rng).unwrap();
    let exact = code.as_str();
    assert!(verify(&sealed.salt, &sealed.tag, exact));
    assert!(verify(&sealed.salt, &sealed.tag, &exact.to_lowercase()));
    assert!(verify(&sealed.salt, &sealed.tag, &exact.replace('-', " ")));
    assert!(verify(&sealed.salt, &sealed.tag, &exact.replace('-', "")));
    let confusable = exact.replace('0', "O").replace('1', "l");
    assert!(verify(&sealed.salt, &sealed.tag, &confusable));

    let (other, _) = generate(&rng).unwrap();
    assert!(!verify(&sealed.salt, &sealed.tag, other.as_str()));
    assert!(!verify(&sealed.salt, &sealed.tag, &exact[..18]));
    assert!(!verify(&sealed.salt, &sealed.tag, &format!("{exact}0")));
    assert!(!verify(
        &sealed.salt,
        &sealed.tag,
        &exact.replacen(|c: char| c != '-', "U", 1)
    ));
    assert!(!verify(&sealed.salt, &sealed.tag, ""));
    assert!(!verify_nothing(exact));
}

#[test]
fn the_store_keeps_no_code_and_logs_none() {
    let rng = SystemRandom::new();
    let (code, sealed) = generate(&rng).unwrap();
    assert_eq!(format!("{code:?}"), "TrackingCode(…)");
    let canonical = code.as_str().replace('-', "");
    assert!(
        !sealed
            .tag
            .windows(canonical.len())
            .any(|w| w == canonical.as_bytes())
    );
    let (_, again) = generate(&rng).unwrap();
    assert_ne!(sealed.salt, again.salt, "each code gets its own salt");
}
