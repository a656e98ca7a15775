//! `legatura ca hub-credential`: what a hub appliance needs of the PKI `ca init` made, as one
//! boot credential.
//!
//! The hub image (`os-image/roles/hub`) carries no configuration and no keys: on its first boot
//! `hub-provision` unpacks the credential `legatura.hub-pki` onto the state partition and writes
//! hubd's configuration around it (docs/install.md). The credential is a gzip'd tar of the files
//! in [`FILES`], as the SMBIOS type 11 string firmware and qemu take
//! (`io.systemd.credential.binary:legatura.hub-pki=BASE64`). The root CA's key and the operator's
//! credentials are never part of it: the root key belongs offline, the operator's at the NOC.
//!
//! The archive is the same bytes for the same files (no times, owners or names of this machine),
//! so a NOC can compare two credentials by their hash.

use std::path::Path;

use anyhow::Context;
use base64::Engine;

/// The credential's name; `hub-provision` reads it.
pub(crate) const CREDENTIAL: &str = "legatura.hub-pki";

/// What the hub needs, relative to the `ca init` directory, and each file's mode in the archive.
/// The key store holds the issuing, audit and receipt keys, encrypted under `master-key`.
pub(crate) const FILES: &[(&str, u32)] = &[
    ("root.pem", 0o644),
    ("issuing.pem", 0o644),
    ("hub.pem", 0o644),
    ("hub.key", 0o600),
    ("audit.pub", 0o644),
    ("receipt.pub", 0o644),
    ("keys/master-key", 0o600),
    ("keys/fleet-issuing.key", 0o600),
    ("keys/audit-checkpoint.key", 0o600),
    ("keys/receipt-signing.key", 0o600),
];

/// The gzip'd tar of [`FILES`] under `dir`; fails naming the first file that is missing.
pub(crate) fn bundle(dir: &Path) -> anyhow::Result<Vec<u8>> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let mut tar = tar::Builder::new(gz);
    for &(name, mode) in FILES {
        let path = dir.join(name);
        let bytes = std::fs::read(&path).with_context(|| {
            format!(
                "reading {}: the directory must be one `legatura ca init` made with the \
                 software key store",
                path.display()
            )
        })?;
        let mut header = tar::Header::new_ustar();
        header.set_size(bytes.len() as u64);
        header.set_mode(mode);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, name, bytes.as_slice())
            .with_context(|| format!("adding {name} to the credential"))?;
    }
    let gz = tar.into_inner().context("finishing the archive")?;
    gz.finish().context("compressing the archive")
}

/// Writes the credential for the PKI in `dir` to `out` (mode 0600: it holds the hub's keys).
pub(crate) fn write(dir: &Path, out: &Path) -> anyhow::Result<()> {
    let archive = bundle(dir)?;
    let line = format!(
        "io.systemd.credential.binary:{CREDENTIAL}={}",
        base64::engine::general_purpose::STANDARD.encode(archive)
    );
    pki::write_private(out, line.as_bytes())
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}

/// The names and modes in `archive`, in order.
#[cfg(test)]
fn entries(archive: &[u8]) -> anyhow::Result<Vec<(String, u32)>> {
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    let mut out = Vec::new();
    for entry in tar.entries()? {
        let entry = entry?;
        out.push((
            entry.path()?.to_string_lossy().into_owned(),
            entry.header().mode()?,
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn pki() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        crate::ca::init(dir.path(), &["hub.test"], "noc").unwrap();
        dir
    }

    #[test]
    fn the_credential_holds_what_the_hub_needs_and_never_the_root_key() {
        let dir = pki();
        let out = dir.path().join("hub-pki.cred");
        write(dir.path(), &out).unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        let b64 = text
            .strip_prefix("io.systemd.credential.binary:legatura.hub-pki=")
            .expect("an SMBIOS credential string");
        let archive = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let names = entries(&archive).unwrap();
        let expected: Vec<(String, u32)> = FILES.iter().map(|&(n, m)| (n.to_owned(), m)).collect();
        assert_eq!(names, expected);
        assert!(!names.iter().any(|(n, _)| n.contains("root.key")));
        assert!(!names.iter().any(|(n, _)| n.contains("operator")));
        // The hub's key travels as it is, so the hub serves the certificate `ca init` issued.
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive.as_slice()));
        let mut key = String::new();
        for entry in tar.entries().unwrap() {
            let mut entry = entry.unwrap();
            if entry.path().unwrap().to_str() == Some("hub.key") {
                std::io::Read::read_to_string(&mut entry, &mut key).unwrap();
            }
        }
        assert_eq!(
            key,
            std::fs::read_to_string(dir.path().join("hub.key")).unwrap()
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the credential holds keys");
    }

    #[test]
    fn the_same_files_make_the_same_credential() {
        let dir = pki();
        let a = bundle(dir.path()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        // A later touch of a file changes nothing in the archive.
        let root = dir.path().join("root.pem");
        let text = std::fs::read(&root).unwrap();
        std::fs::write(&root, text).unwrap();
        assert_eq!(a, bundle(dir.path()).unwrap());
    }

    #[test]
    fn a_directory_without_the_key_store_is_refused_naming_the_file() {
        let dir = pki();
        std::fs::remove_file(dir.path().join("keys/fleet-issuing.key")).unwrap();
        let err = format!("{:#}", bundle(dir.path()).unwrap_err());
        assert!(err.contains("keys/fleet-issuing.key"), "{err}");
    }
}
