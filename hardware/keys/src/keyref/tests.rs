use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;

use super::*;

fn pkcs11(s: &str) -> Pkcs11Ref {
    match s.parse::<KeyRef>() {
        Ok(KeyRef::Pkcs11(r)) => r,
        other => panic!("{s}: {other:?}"),
    }
}

fn err(s: &str) -> KeyRefError {
    s.parse::<KeyRef>().expect_err(s)
}

#[test]
fn pkcs11_minimal_uses_default_module() {
    let r = pkcs11("pkcs11:token=hub;object=legatura-root;pin-env=HSM_PIN");
    assert_eq!(r.token, "hub");
    assert_eq!(r.object, "legatura-root");
    assert_eq!(r.module, PathBuf::from(DEFAULT_PKCS11_MODULE));
    assert_eq!(r.pin, PinSource::Env("HSM_PIN".into()));
}

#[test]
fn pkcs11_all_attributes_any_order_and_rfc_query_form() {
    let r = pkcs11(
        "pkcs11:object=cfg%20key;type=private;token=hub%3Bone?module-path=/opt/hsm.so&pin-source=file:///etc/pin",
    );
    assert_eq!(r.token, "hub;one");
    assert_eq!(r.object, "cfg key");
    assert_eq!(r.module, PathBuf::from("/opt/hsm.so"));
    assert_eq!(r.pin, PinSource::File("/etc/pin".into()));
    let r = pkcs11("pkcs11:token=t;object=o;module=/m.so;pin-source=file:/run/pin");
    assert_eq!(r.pin, PinSource::File("/run/pin".into()));
}

#[test]
fn inline_pin_is_refused_with_a_clear_error() {
    let e = err("pkcs11:token=t;object=o;pin-value=1234");
    assert_eq!(e, KeyRefError::InlinePin);
    assert!(e.to_string().contains("pin-source"), "{e}");
    assert_eq!(
        err("pkcs11:token=t;object=o?pin-value=1234"),
        KeyRefError::InlinePin
    );
}

#[test]
fn pkcs11_errors() {
    assert_eq!(
        err("pkcs11:object=o;pin-env=P"),
        KeyRefError::MissingAttribute("token")
    );
    assert_eq!(
        err("pkcs11:token=t;pin-env=P"),
        KeyRefError::MissingAttribute("object")
    );
    assert_eq!(err("pkcs11:token=t;object=o"), KeyRefError::MissingPin);
    assert_eq!(
        err("pkcs11:token=t;object=o;pin-env=P;pin-source=file:/p"),
        KeyRefError::ConflictingPin
    );
    assert_eq!(
        err("pkcs11:token=t;token=u;object=o;pin-env=P"),
        KeyRefError::DuplicateAttribute("token".into())
    );
    assert_eq!(
        err("pkcs11:token=t;object=o;pin-env=P;slot-id=3"),
        KeyRefError::UnknownAttribute("slot-id".into())
    );
    assert_eq!(
        err("pkcs11:token=t;object=o;pin-env=P;"),
        KeyRefError::Malformed("".into())
    );
    assert_eq!(
        err("pkcs11:token;object=o;pin-env=P"),
        KeyRefError::Malformed("token".into())
    );
    assert_eq!(
        err("pkcs11:token=;object=o;pin-env=P"),
        KeyRefError::Malformed("token=".into())
    );
    assert_eq!(
        err("pkcs11:token=a%2;object=o;pin-env=P"),
        KeyRefError::BadPercentEncoding("token".into())
    );
    assert_eq!(
        err("pkcs11:token=a%ff;object=o;pin-env=P"),
        KeyRefError::BadPercentEncoding("token".into())
    );
    assert_eq!(
        err("pkcs11:token=t;object=o;pin-source=/etc/pin"),
        KeyRefError::BadPinSource("/etc/pin".into())
    );
    assert_eq!(
        err("pkcs11:token=t;object=o;pin-source=file:pin"),
        KeyRefError::BadPinSource("file:pin".into())
    );
    assert_eq!(
        err("pkcs11:token=t;object=o;pin-env=A-B"),
        KeyRefError::BadPinEnv("A-B".into())
    );
    assert_eq!(
        err("pkcs11:token=t;object=o;pin-env=1A"),
        KeyRefError::BadPinEnv("1A".into())
    );
    assert_eq!(
        err("pkcs11:token=t;object=o;pin-env=P;module=lib.so"),
        KeyRefError::RelativeModule("lib.so".into())
    );
    assert_eq!(
        err("pkcs11:token=t;object=o;pin-env=P;type=public"),
        KeyRefError::NotPrivate("public".into())
    );
    assert_eq!(err("file:/etc/key.pem"), KeyRefError::UnknownScheme);
    assert_eq!(err(""), KeyRefError::UnknownScheme);
}

#[test]
fn keystore_refs() {
    let r = "keystore:/var/lib/legatura/keys/config-signing.key".parse::<KeyRef>();
    assert_eq!(
        r,
        Ok(KeyRef::Keystore(KeystoreRef {
            dir: "/var/lib/legatura/keys".into(),
            role: KeyRole::ConfigSigning
        }))
    );
    assert_eq!(
        err("keystore:/k/payroll.key"),
        KeyRefError::UnknownRole("payroll".into())
    );
    assert!(matches!(
        err("keystore:/k/root.pem"),
        KeyRefError::BadKeystorePath(_)
    ));
    assert!(matches!(
        err("keystore:root.key"),
        KeyRefError::BadKeystorePath(_)
    ));
    assert!(matches!(
        err("keystore:/k/"),
        KeyRefError::BadKeystorePath(_)
    ));
}

#[test]
fn display_round_trips() {
    for s in [
        "pkcs11:token=hub%3Bone;object=cfg%20key;module=/opt/h%C3%A9.so;pin-source=file:/etc/p%26n",
        "pkcs11:token=t;object=o;module=/usr/lib/softhsm/libsofthsm2.so;pin-env=HSM_PIN",
        "keystore:/var/lib/legatura/keys/root.key",
    ] {
        let parsed: KeyRef = s.parse().unwrap();
        assert_eq!(parsed.to_string(), s);
        assert_eq!(parsed.to_string().parse::<KeyRef>().unwrap(), parsed);
    }
}

#[test]
fn pin_file_is_read_without_newline_and_must_not_be_world_readable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pin");
    std::fs::write(&path, "12 34\r\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let source = PinSource::File(path.clone());
    assert_eq!(source.read().unwrap().as_str(), "12 34");

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(matches!(
        source.read(),
        Err(PinError::WorldReadable { mode: 0o644, .. })
    ));

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(&path, "\n").unwrap();
    assert!(matches!(source.read(), Err(PinError::Invalid(_))));

    let missing = PinSource::File(dir.path().join("absent"));
    assert!(matches!(missing.read(), Err(PinError::Io { .. })));
    let unset = PinSource::Env("LEGATURA_KEYS_TEST_SURELY_UNSET".into());
    assert!(matches!(unset.read(), Err(PinError::EnvMissing(_))));
}
