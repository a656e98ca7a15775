use std::time::Duration;

use super::*;
use crate::test_util::{TestResult, assert_issued_by, cert_der};

const DAY: Duration = Duration::from_secs(24 * 3600);

fn mode(path: &Path) -> io::Result<u32> {
    Ok(fs::metadata(path)?.permissions().mode() & 0o7777)
}

fn dir_entries(dir: &Path) -> io::Result<Vec<OsString>> {
    let mut names = fs::read_dir(dir)?
        .map(|entry| entry.map(|e| e.file_name()))
        .collect::<io::Result<Vec<_>>>()?;
    names.sort();
    Ok(names)
}

#[test]
fn private_files_are_0600_even_when_replacing_a_readable_file() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("key.pem");
    write_private(&path, b"first")?;
    assert_eq!(mode(&path)?, 0o600);
    assert_eq!(fs::read(&path)?, b"first");

    fs::set_permissions(&path, Permissions::from_mode(0o644))?;
    write_private(&path, b"second")?;
    assert_eq!(mode(&path)?, 0o600);
    assert_eq!(fs::read(&path)?, b"second");
    assert_eq!(
        dir_entries(dir.path())?,
        ["key.pem"],
        "temporary file left behind"
    );
    Ok(())
}

#[test]
fn public_files_are_0644() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("cert.pem");
    write_public(&path, b"cert")?;
    assert_eq!(mode(&path)?, 0o644);
    fs::set_permissions(&path, Permissions::from_mode(0o600))?;
    write_public(&path, b"cert 2")?;
    assert_eq!(mode(&path)?, 0o644);
    assert_eq!(fs::read(&path)?, b"cert 2");
    assert_eq!(dir_entries(dir.path())?, ["cert.pem"]);
    Ok(())
}

#[test]
fn writing_to_a_missing_directory_fails_cleanly() -> TestResult {
    let dir = tempfile::tempdir()?;
    assert!(write_private(&dir.path().join("absent/key.pem"), b"k").is_err());
    assert!(write_private(Path::new("/"), b"k").is_err());
    assert!(dir_entries(dir.path())?.is_empty());
    Ok(())
}

#[test]
fn ca_save_load_round_trip_keeps_issuing_for_the_same_ca() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (cert_path, key_path) = (dir.path().join("ca.pem"), dir.path().join("ca.key"));
    let ca = Ca::generate("Legătura dev fleet CA", DAY)?;
    ca.save(&cert_path, &key_path)?;
    assert_eq!(mode(&key_path)?, 0o600);
    assert_eq!(mode(&cert_path)?, 0o644);
    assert!(fs::read_to_string(&key_path)?.starts_with("-----BEGIN PRIVATE KEY-----"));

    let loaded = Ca::load(&cert_path, &key_path)?;
    assert_eq!(loaded.cert_der(), ca.cert_der());
    assert_eq!(loaded.cert_pem(), ca.cert_pem());
    // A leaf from the reloaded CA chains to the certificate peers already trust.
    let leaf = cert_der(&loaded.issue_server(&["localhost"], DAY)?.cert_pem)?;
    assert_issued_by(&ca, &leaf)?;
    Ok(())
}

#[test]
fn load_refuses_a_key_from_another_ca() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = |name: &str| dir.path().join(name);
    Ca::generate("A", DAY)?.save(&path("a.pem"), &path("a.key"))?;
    Ca::generate("B", DAY)?.save(&path("b.pem"), &path("b.key"))?;
    let mixed = Ca::load(&path("a.pem"), &path("b.key"));
    assert!(
        matches!(mixed, Err(StoreError::KeyMismatch { .. })),
        "{mixed:?}"
    );
    Ok(())
}

#[test]
fn load_refuses_a_leaf_certificate() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (cert_path, key_path) = (dir.path().join("hub.pem"), dir.path().join("hub.key"));
    let issued = Ca::generate("A", DAY)?.issue_server(&["localhost"], DAY)?;
    issued.save(&cert_path, &key_path)?;
    assert_eq!(mode(&key_path)?, 0o600);
    assert_eq!(mode(&cert_path)?, 0o644);
    assert_eq!(fs::read_to_string(&cert_path)?, issued.cert_pem);

    let loaded = Ca::load(&cert_path, &key_path);
    assert!(
        matches!(loaded, Err(StoreError::Certificate { .. })),
        "{loaded:?}"
    );
    Ok(())
}

#[test]
fn load_reports_missing_and_non_pem_files() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (cert_path, key_path) = (dir.path().join("ca.pem"), dir.path().join("ca.key"));
    let missing = Ca::load(&cert_path, &key_path);
    assert!(
        matches!(missing, Err(StoreError::Read { .. })),
        "{missing:?}"
    );

    Ca::generate("A", DAY)?.save(&cert_path, &key_path)?;
    fs::write(&key_path, "not a key")?;
    let garbage = Ca::load(&cert_path, &key_path);
    assert!(
        matches!(
            garbage,
            Err(StoreError::Pem {
                label: "PRIVATE KEY",
                ..
            })
        ),
        "{garbage:?}"
    );
    // The certificate's PEM is not the key's.
    fs::copy(&cert_path, &key_path)?;
    let swapped = Ca::load(&cert_path, &key_path);
    assert!(
        matches!(swapped, Err(StoreError::Pem { .. })),
        "{swapped:?}"
    );
    Ok(())
}
