use std::os::unix::fs::PermissionsExt as _;

use super::*;
use crate::{KeyRef, OpenSignerError, open_signer, verify};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn generate_sign_verify_and_reload() {
    let dir = tempfile::tempdir().unwrap();
    let store = SoftwareStore::open(dir.path().join("keys")).unwrap();
    let signer = store.generate(KeyRole::ConfigSigning).unwrap();
    assert_eq!(signer.role(), KeyRole::ConfigSigning);
    assert_eq!(signer.public_key().len(), 65);
    let signature = signer.sign(KeyRole::ConfigSigning, b"bundle v7").unwrap();
    assert!(verify(signer.public_key(), b"bundle v7", &signature));
    assert!(!verify(signer.public_key(), b"bundle v8", &signature));

    // A second process opening the same directory gets the same key.
    let reopened = SoftwareStore::open(dir.path().join("keys")).unwrap();
    let loaded = reopened.signer(KeyRole::ConfigSigning).unwrap();
    assert_eq!(loaded.public_key(), signer.public_key());
    let signature = loaded.sign(KeyRole::ConfigSigning, b"bundle v9").unwrap();
    assert!(verify(signer.public_key(), b"bundle v9", &signature));
}

#[test]
fn files_are_private_and_no_temp_files_remain() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let store = SoftwareStore::open(&keys).unwrap();
    store.generate(KeyRole::Root).unwrap();
    assert_eq!(mode(&keys), 0o700);
    assert_eq!(mode(&keys.join(MASTER_KEY_FILE)), 0o600);
    assert_eq!(mode(&store.key_path(KeyRole::Root)), 0o600);
    assert_eq!(
        std::fs::metadata(keys.join(MASTER_KEY_FILE)).unwrap().len(),
        32
    );
    let mut names: Vec<_> = std::fs::read_dir(&keys)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["master-key", "root.key"]);
}

#[test]
fn group_readable_key_or_master_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = SoftwareStore::open(dir.path()).unwrap();
    store.generate(KeyRole::Root).unwrap();
    let key = store.key_path(KeyRole::Root);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let e = store.signer(KeyRole::Root).unwrap_err();
    assert!(
        matches!(e, KeyStoreError::Permissions { mode: 0o640, .. }),
        "{e}"
    );

    let master = dir.path().join(MASTER_KEY_FILE);
    std::fs::set_permissions(&master, std::fs::Permissions::from_mode(0o604)).unwrap();
    let e = SoftwareStore::open(dir.path()).unwrap_err();
    assert!(
        matches!(e, KeyStoreError::Permissions { mode: 0o604, .. }),
        "{e}"
    );
}

#[test]
fn renamed_key_file_is_refused_for_the_other_role() {
    let dir = tempfile::tempdir().unwrap();
    let store = SoftwareStore::open(dir.path()).unwrap();
    store.generate(KeyRole::ReceiptSigning).unwrap();
    let from = store.key_path(KeyRole::ReceiptSigning);
    std::fs::rename(&from, store.key_path(KeyRole::FleetIssuing)).unwrap();
    let e = store.signer(KeyRole::FleetIssuing).unwrap_err();
    assert!(
        matches!(
            e,
            KeyStoreError::RoleMismatch {
                found: KeyRole::ReceiptSigning,
                requested: KeyRole::FleetIssuing,
                ..
            }
        ),
        "{e}"
    );
    let message = e.to_string();
    assert!(
        message.contains("receipt-signing") && message.contains("fleet-issuing"),
        "{message}"
    );
}

#[test]
fn rewriting_the_role_in_the_header_breaks_decryption() {
    let dir = tempfile::tempdir().unwrap();
    let store = SoftwareStore::open(dir.path()).unwrap();
    store.generate(KeyRole::ReceiptSigning).unwrap();
    let bytes = std::fs::read(store.key_path(KeyRole::ReceiptSigning)).unwrap();
    let file = format::parse(&bytes).unwrap();
    let mut forged = format::header(KeyRole::Root, &file.nonce);
    forged.extend_from_slice(file.sealed);
    let path = store.key_path(KeyRole::Root);
    write_new_file(&path, &forged, &SystemRandom::new()).unwrap();
    assert!(matches!(
        store.signer(KeyRole::Root),
        Err(KeyStoreError::Decrypt { .. })
    ));
}

#[test]
fn wrong_master_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = SoftwareStore::open(dir.path().join("keys")).unwrap();
    store.generate(KeyRole::AuditCheckpoint).unwrap();
    let other =
        SoftwareStore::open_with_master_key(dir.path().join("keys"), dir.path().join("other"))
            .unwrap();
    let e = other.signer(KeyRole::AuditCheckpoint).unwrap_err();
    assert!(matches!(e, KeyStoreError::Decrypt { .. }), "{e}");
    assert!(e.to_string().contains("wrong master key"), "{e}");

    std::fs::write(dir.path().join("short"), [0u8; 31]).unwrap();
    std::fs::set_permissions(
        dir.path().join("short"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let e = SoftwareStore::open_with_master_key(dir.path(), dir.path().join("short")).unwrap_err();
    assert!(matches!(e, KeyStoreError::BadMasterKey { .. }), "{e}");
}

#[test]
fn any_flipped_bit_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let store = SoftwareStore::open(dir.path()).unwrap();
    store.generate(KeyRole::ConfigSigning).unwrap();
    let path = store.key_path(KeyRole::ConfigSigning);
    let good = std::fs::read(&path).unwrap();
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x01;
        std::fs::write(&path, &bad).unwrap();
        let e = store.signer(KeyRole::ConfigSigning).unwrap_err();
        assert!(
            matches!(
                e,
                KeyStoreError::Decrypt { .. }
                    | KeyStoreError::Malformed { .. }
                    | KeyStoreError::RoleMismatch { .. }
            ),
            "byte {i}: {e}"
        );
    }
    for len in 0..good.len() {
        std::fs::write(&path, &good[..len]).unwrap();
        assert!(
            store.signer(KeyRole::ConfigSigning).is_err(),
            "prefix {len}"
        );
    }
    std::fs::write(&path, &good).unwrap();
    assert!(store.signer(KeyRole::ConfigSigning).is_ok());
}

#[test]
fn parse_rejects_bad_framing() {
    let mut file = format::header(KeyRole::Root, &[0; NONCE_LEN]);
    file.extend([0u8; 17]);
    assert!(format::parse(&file).is_ok());
    let mut bad = file.clone();
    bad[0] = b'X';
    assert_eq!(format::parse(&bad).unwrap_err(), FormatError::BadMagic);
    let mut bad = file.clone();
    bad[4] = 2;
    assert_eq!(
        format::parse(&bad).unwrap_err(),
        FormatError::UnsupportedVersion(2)
    );
    let mut bad = file.clone();
    bad[6] = b'R';
    assert_eq!(
        format::parse(&bad).unwrap_err(),
        FormatError::UnknownRole("Root".into())
    );
    assert_eq!(
        format::parse(&file[..file.len() - 1]).unwrap_err(),
        FormatError::Truncated
    );
    assert_eq!(format::parse(&[0; 5000]).unwrap_err(), FormatError::TooLong);
}

#[test]
fn wrong_role_and_existing_keys_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = SoftwareStore::open(dir.path()).unwrap();
    let signer = store.generate(KeyRole::ReceiptSigning).unwrap();
    let e = signer.sign(KeyRole::FleetIssuing, b"cert").unwrap_err();
    assert!(matches!(
        e,
        SignError::WrongRole {
            key: KeyRole::ReceiptSigning,
            requested: KeyRole::FleetIssuing
        }
    ));
    let e = store.generate(KeyRole::ReceiptSigning).unwrap_err();
    assert!(matches!(
        e,
        KeyStoreError::AlreadyExists {
            role: KeyRole::ReceiptSigning,
            ..
        }
    ));
    assert!(matches!(
        store.signer(KeyRole::Root),
        Err(KeyStoreError::NotFound { .. })
    ));
}

#[test]
fn open_signer_from_a_keystore_reference() {
    let dir = tempfile::tempdir().unwrap();
    let store = SoftwareStore::open(dir.path()).unwrap();
    let made = store.generate(KeyRole::AuditCheckpoint).unwrap();
    let key_ref: KeyRef = format!("keystore:{}/audit-checkpoint.key", dir.path().display())
        .parse()
        .unwrap();
    let signer = open_signer(&key_ref, KeyRole::AuditCheckpoint).unwrap();
    assert_eq!(signer.public_key(), made.public_key());
    let e = open_signer(&key_ref, KeyRole::Root).unwrap_err();
    assert!(matches!(
        e,
        OpenSignerError::WrongRole {
            named: KeyRole::AuditCheckpoint,
            requested: KeyRole::Root
        }
    ));
}
