use super::*;

#[test]
fn only_an_argon2id_phc_string_is_a_password_hash() {
    let phc = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g";
    assert_eq!(PasswordHash::new(phc).unwrap().as_str(), phc);
    for bad in [
        "hunter2",
        "",
        "$argon2i$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
        "$2b$12$abcdefghijklmnopqrstuv",
        "$argon2id$v=19$m=19456 t=2",
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA\n",
    ] {
        assert!(PasswordHash::new(bad).is_err(), "{bad:?}");
    }
    assert!(PasswordHash::new(format!("$argon2id${}", "a".repeat(600))).is_err());
}

#[test]
fn secrets_are_redacted_in_debug_output() {
    let phc = PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA").unwrap();
    let secret = TotpSecret::new(*b"super-secret-totp-key").unwrap();
    let shown = format!("{phc:?} {secret:?}");
    assert_eq!(shown, "PasswordHash(<redacted>) TotpSecret(<redacted>)");
}

#[test]
fn a_totp_secret_has_16_to_256_bytes() {
    assert!(TotpSecret::new([0u8; 15]).is_err());
    assert_eq!(TotpSecret::new([1u8; 16]).unwrap().as_bytes(), &[1u8; 16]);
    assert!(TotpSecret::new(vec![0u8; 256]).is_ok());
    assert!(TotpSecret::new(vec![0u8; 257]).is_err());
}

#[test]
fn slugs_and_topics_are_lowercase_words() {
    assert!(Slug::new("passport-lost-abroad").is_ok());
    assert!(Topic::new("civil_status").is_ok());
    for bad in [
        "",
        "Passport",
        "a--b",
        "-a",
        "a-",
        "pașaport",
        "a b",
        "a/b",
        "a_b",
    ] {
        assert!(Slug::new(bad).is_err(), "slug {bad:?}");
    }
    for bad in ["", "a-b", "_a", "a__b", "Visa"] {
        assert!(Topic::new(bad).is_err(), "topic {bad:?}");
    }
    assert!(Slug::new("a".repeat(129)).is_err());
}

#[test]
fn titles_are_one_line_and_country_codes_two_capitals() {
    assert!(Title::new("Pașaport pierdut în străinătate").is_ok());
    assert!(Title::new("  ").is_err());
    assert!(Title::new("two\nlines").is_err());
    assert!(Title::new("ă".repeat(201)).is_err());
    assert_eq!(CountryCode::new("fr").unwrap().as_str(), "FR");
    for bad in ["", "F", "FRA", "F1", "é"] {
        assert!(CountryCode::new(bad).is_err(), "{bad:?}");
    }
}
