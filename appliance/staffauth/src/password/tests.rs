use super::*;

/// The throwaway password behind `BURN_PHC`.
const BURN_PASSWORD: &str = "not a password anyone has";

#[test]
fn a_hashed_password_verifies_and_nothing_else_does() {
    let phc = hash_password("correct horse battery").unwrap();
    assert!(verify_password(&phc, "correct horse battery"));
    assert!(!verify_password(&phc, "correct horse batterY"));
    assert!(!verify_password(&phc, "correct horse battery "));
    assert!(!verify_password(&phc, ""));
    assert!(!needs_rehash(&phc));
}

#[test]
fn the_phc_string_names_argon2id_and_the_owasp_parameters() {
    let phc = hash_password("ăîșțâĂÎȘȚÂăî").unwrap(); // 12 characters, 24 bytes
    assert!(
        phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "unexpected PHC string {phc}"
    );
    let parsed = PasswordHash::new(&phc).unwrap();
    let mut salt = [0u8; 64];
    assert_eq!(
        parsed.salt.unwrap().decode_b64(&mut salt).unwrap().len(),
        SALT_LEN
    );
    assert_eq!(parsed.hash.unwrap().len(), 32);
    // A fresh salt each time: the same password never gives the same string.
    assert_ne!(phc, hash_password("ăîșțâĂÎȘȚÂăî").unwrap());
}

#[test]
fn short_and_over_long_passwords_are_refused_with_the_limit() {
    let short = hash_password("ăîșțâĂÎȘȚÂă").unwrap_err(); // 11 characters, 22 bytes
    assert!(matches!(short, AuthError::PasswordTooShort { min: 12 }));
    assert!(short.to_string().contains("at least 12 characters"));
    assert!(matches!(
        hash_password(""),
        Err(AuthError::PasswordTooShort { .. })
    ));
    let long = hash_password(&"x".repeat(MAX_PASSWORD_BYTES + 1)).unwrap_err();
    assert!(matches!(long, AuthError::PasswordTooLong { max: 1024 }));
    assert!(long.to_string().contains("at most 1024 bytes"));
}

#[test]
fn malformed_or_foreign_phc_strings_verify_false() {
    let valid_tail = "bGVnYXR1cmEtYnVybi1zYWx0$mm6/YjLFYG/SbpTVkCdo31cCnmNfiw5uyux+Lv9vJ8o";
    for phc in [
        String::new(),
        "garbage".to_owned(),
        "$argon2id$".to_owned(),
        "$argon2id$v=19$m=19456,t=2,p=1$".to_owned(),
        "$argon2id$v=19$m=19456,t=2,p=1$bGVnYXR1cmEtYnVybi1zYWx0".to_owned(),
        "$argon2id$v=19$m=19456,t=2,p=1$!!!$!!!".to_owned(),
        // Another variant with the same salt and output: refused, not downgraded to.
        format!("$argon2i$v=19$m=19456,t=2,p=1${valid_tail}"),
        format!("$argon2d$v=19$m=19456,t=2,p=1${valid_tail}"),
        format!("$pbkdf2-sha256$i=1${valid_tail}"),
        // Costs beyond the ceilings would let a tampered row eat the appliance's memory or CPU.
        format!("$argon2id$v=19$m=4194304,t=2,p=1${valid_tail}"),
        format!("$argon2id$v=19$m=19456,t=100000,p=1${valid_tail}"),
        format!("$argon2id$v=19$m=19456,t=2,p=64${valid_tail}"),
        format!("$argon2id$v=19$m=0,t=0,p=0${valid_tail}"),
    ] {
        assert!(!verify_password(&phc, BURN_PASSWORD), "{phc:?} verified");
        assert!(needs_rehash(&phc), "{phc:?} did not ask for a rehash");
    }
}

#[test]
fn an_over_long_password_never_verifies() {
    let long = "x".repeat(MAX_PASSWORD_BYTES + 1);
    assert!(!verify_password(BURN_PHC, &long));
    burn_verify(&long);
}

#[test]
fn the_burn_hash_is_a_real_hash_with_todays_parameters() {
    // If the parameters change, `BURN_PHC` must be regenerated, or unknown accounts would
    // answer faster or slower than real ones.
    assert!(!needs_rehash(BURN_PHC));
    let parsed = PasswordHash::new(BURN_PHC).unwrap();
    let p = Params::try_from(&parsed).unwrap();
    assert_eq!((p.m_cost(), p.t_cost(), p.p_cost()), (19 * 1024, 2, 1));
    // It really computes argon2 (a verify that matches cannot have skipped the work).
    assert!(verify_password(BURN_PHC, BURN_PASSWORD));
    burn_verify("some guess at a password");
}

#[test]
fn an_older_cost_asks_for_a_rehash_but_still_verifies() {
    let old = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(8 * 1024, 1, 1, None).unwrap(),
    )
    .hash_password(
        b"an older staff password",
        &SaltString::encode_b64(b"sixteen byte salt").unwrap(),
    )
    .unwrap()
    .to_string();
    assert!(verify_password(&old, "an older staff password"));
    assert!(needs_rehash(&old));
}
