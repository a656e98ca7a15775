use cryptoki::context::Function;
use cryptoki::error::{Error, RvError};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};

use super::*;

fn rv(rv: RvError) -> Pkcs11Error {
    Pkcs11Error::call("C_Sign", Error::Pkcs11(rv, Function::Sign))
}

#[test]
fn device_and_session_loss_is_unavailable() {
    for lost in [
        RvError::SessionHandleInvalid,
        RvError::SessionClosed,
        RvError::DeviceRemoved,
        RvError::DeviceError,
        RvError::TokenNotPresent,
        RvError::UserNotLoggedIn,
        RvError::CryptokiNotInitialized,
        RvError::ObjectHandleInvalid,
        RvError::GeneralError,
    ] {
        let error = rv(lost);
        assert!(
            matches!(error, Pkcs11Error::Device { call: "C_Sign", .. }),
            "{error}"
        );
        assert!(error.is_unavailable());
    }
    for name in ["t", "k"] {
        assert!(Pkcs11Error::TokenNotFound { token: name.into() }.is_unavailable());
        assert!(
            Pkcs11Error::KeyNotFound {
                object: name.into()
            }
            .is_unavailable()
        );
    }
}

#[test]
fn other_errors_are_failures_and_pin_errors_are_not_retried() {
    let error = rv(RvError::MechanismInvalid);
    assert!(
        matches!(error, Pkcs11Error::Call { .. }) && !error.is_unavailable(),
        "{error}"
    );
    for pin in [RvError::PinIncorrect, RvError::PinLocked] {
        let error = rv(pin);
        assert!(matches!(error, Pkcs11Error::PinRefused { .. }) && !error.is_unavailable());
        assert!(error.to_string().contains("not retrying"), "{error}");
    }
    let error = Pkcs11Error::KeyRejected {
        object: "k".into(),
        reason: "extractable",
    };
    assert!(!error.is_unavailable());
}

#[test]
fn p256_params_are_the_named_curve_oid_ring_uses() {
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new())
        .unwrap();
    let found = pkcs8
        .as_ref()
        .windows(connect::P256_PARAMS.len())
        .any(|w| w == connect::P256_PARAMS);
    assert!(found);
}

#[test]
fn role_ids_and_default_labels() {
    assert_eq!(
        connect::role_id(KeyRole::ConfigSigning),
        b"legatura:config-signing"
    );
    assert_eq!(Pkcs11Store::default_label(KeyRole::Root), "legatura-root");
}
