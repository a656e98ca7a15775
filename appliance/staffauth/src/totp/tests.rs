use super::*;

/// RFC 6238 Appendix B: the SHA-1 seed is the ASCII string "12345678901234567890".
fn rfc_secret() -> TotpSecret {
    TotpSecret::from_bytes(b"12345678901234567890").unwrap()
}

#[test]
fn rfc6238_appendix_b_sha1_vectors() {
    let secret = rfc_secret();
    for (time, code) in [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ] {
        assert_eq!(
            totp_code_digits(&secret, time, Digits::Eight),
            code,
            "T = {time}"
        );
        // The six-digit code is the same truncation, modulo 10^6.
        assert_eq!(totp_code(&secret, time), code[2..], "T = {time}");
    }
}

#[test]
fn one_step_of_skew_is_accepted_either_way_two_are_not() {
    let secret = rfc_secret();
    let now = 1_234_567_890;
    let step = now / 30;
    assert_eq!(
        totp_verify(&secret, &totp_code(&secret, now), now, None),
        Ok(step)
    );
    assert_eq!(
        totp_verify(&secret, &totp_code(&secret, now - 30), now, None),
        Ok(step - 1)
    );
    assert_eq!(
        totp_verify(&secret, &totp_code(&secret, now + 30), now, None),
        Ok(step + 1)
    );
    for off in [-60i64, 60, -90, 90] {
        let then = now.checked_add_signed(off).unwrap();
        assert_eq!(
            totp_verify(&secret, &totp_code(&secret, then), now, None),
            Err(TotpError::Wrong),
            "a code {off} s away was accepted"
        );
    }
}

#[test]
fn a_used_code_or_an_older_one_is_refused_as_replayed() {
    let secret = rfc_secret();
    let now = 1_111_111_111;
    let code = totp_code(&secret, now);
    let step = totp_verify(&secret, &code, now, None).unwrap();
    // The same code again, even a few seconds later in the same step.
    assert_eq!(
        totp_verify(&secret, &code, now + 5, Some(step)),
        Err(TotpError::Replayed)
    );
    // The previous step's code is still inside the skew window but older than the last use.
    assert_eq!(
        totp_verify(&secret, &totp_code(&secret, now - 30), now, Some(step)),
        Err(TotpError::Replayed)
    );
    // The next step's code is new and accepted.
    assert_eq!(
        totp_verify(&secret, &totp_code(&secret, now + 30), now + 30, Some(step)),
        Ok(step + 1)
    );
}

#[test]
fn a_wrong_code_is_wrong_not_replayed() {
    let secret = rfc_secret();
    let now = 2_000_000_000;
    let good = totp_code(&secret, now);
    let bad = if good == "000000" { "000001" } else { "000000" };
    assert_eq!(
        totp_verify(&secret, bad, now, Some(0)),
        Err(TotpError::Wrong)
    );
}

#[test]
fn malformed_codes_are_refused_before_any_comparison() {
    let secret = rfc_secret();
    let now = 59;
    for code in [
        "",
        "12345",
        "1234567",
        "abcdef",
        "12345a",
        " 12345",
        "123 456",
        "+12345",
        "-12345",
        "１２３４５６",
        "12345٦",
        "28708\u{0}",
        "２87082",
    ] {
        assert_eq!(
            totp_verify(&secret, code, now, None),
            Err(TotpError::Malformed),
            "{code:?}"
        );
    }
}

#[test]
fn the_edges_of_time_do_not_panic() {
    let secret = rfc_secret();
    for now in [0, 1, 29, 30, u64::MAX - 1, u64::MAX] {
        let code = totp_code(&secret, now);
        assert_eq!(code.len(), 6);
        assert_eq!(totp_verify(&secret, &code, now, None), Ok(now / 30));
        assert_eq!(
            totp_verify(&secret, &code, now, Some(u64::MAX)),
            Err(TotpError::Replayed)
        );
    }
}

#[test]
fn generated_secrets_are_160_random_bits() {
    let a = TotpSecret::generate().unwrap();
    let b = TotpSecret::generate().unwrap();
    assert_eq!(a.as_bytes().len(), 20);
    assert_ne!(a.as_bytes(), b.as_bytes());
    assert_eq!(a.to_base32().len(), 32); // 160 bits, no padding
}

#[test]
fn a_stored_secret_must_have_twenty_bytes() {
    assert!(TotpSecret::from_bytes(&[7; 19]).is_none());
    assert!(TotpSecret::from_bytes(&[7; 21]).is_none());
    assert!(TotpSecret::from_bytes(&[]).is_none());
    assert_eq!(
        TotpSecret::from_bytes(&[7; 20]).unwrap().as_bytes(),
        &[7; 20]
    );
}

#[test]
fn debug_never_shows_the_secret() {
    let secret = rfc_secret();
    let shown = format!("{secret:?} {secret:#?}");
    assert!(shown.contains("redacted"));
    assert!(!shown.contains(&secret.to_base32()));
    assert!(!shown.contains("49")); // the first byte, '1', in decimal
    assert!(!shown.contains("1234"));
}

#[test]
fn base32_is_rfc4648_without_padding() {
    // The RFC 6238 seed as every authenticator-app example shows it.
    let secret = TotpSecret::from_bytes(b"12345678901234567890").unwrap();
    assert_eq!(secret.to_base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
}
