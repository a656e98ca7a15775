#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `totp_verify` takes whatever a browser sends; it must answer, never panic.

use proptest::prelude::*;
use staffauth::{TotpError, TotpSecret, totp_code, totp_verify};

proptest! {
    #[test]
    fn any_string_gets_an_answer(
        secret in proptest::array::uniform20(any::<u8>()),
        code in any::<String>(),
        now in any::<u64>(),
        last in proptest::option::of(any::<u64>()),
    ) {
        let secret = TotpSecret::from_bytes(&secret).unwrap();
        match totp_verify(&secret, &code, now, last) {
            Ok(step) => {
                prop_assert!(code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()));
                prop_assert!(step.abs_diff(now / 30) <= 1);
                prop_assert!(last.is_none_or(|l| step > l));
            }
            Err(TotpError::Malformed) => {
                prop_assert!(code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()));
            }
            Err(TotpError::Wrong | TotpError::Replayed) => {}
        }
    }

    #[test]
    fn digit_strings_near_the_right_shape_get_an_answer(
        code in "[0-9٠-٩０-９a-f ]{0,8}",
        now in any::<u64>(),
    ) {
        let secret = TotpSecret::from_bytes(b"12345678901234567890").unwrap();
        let well_formed = code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit());
        let verdict = totp_verify(&secret, &code, now, None);
        prop_assert_eq!(verdict == Err(TotpError::Malformed), !well_formed, "{:?}", verdict);
    }

    #[test]
    fn the_current_code_is_always_accepted_once(
        secret in proptest::array::uniform20(any::<u8>()),
        now in any::<u64>(),
    ) {
        let secret = TotpSecret::from_bytes(&secret).unwrap();
        let code = totp_code(&secret, now);
        let step = totp_verify(&secret, &code, now, None).unwrap();
        prop_assert_eq!(step, now / 30);
        // One chance in a million the next step has the same code, which would rightly pass.
        prop_assume!(totp_code(&secret, now.saturating_add(30)) != code);
        prop_assert_eq!(totp_verify(&secret, &code, now, Some(step)), Err(TotpError::Replayed));
    }
}
