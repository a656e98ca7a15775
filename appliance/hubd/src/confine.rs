//! What hubd may still touch once started, derived from its configuration, and the call that
//! confines it there (the `sandbox` crate; docs/hardening.md).
//!
//! After start-up the hub writes its state directory, the fleet records, the audit log (and
//! syncs its directory), the case stores (SQLite creates `-wal`, `-shm` and journals beside
//! each database, and spills large sorts to its temporary directory) and the attachment store;
//! a PKCS#11 module may re-read its configuration and write its token directory when the HSM
//! comes back; upstreams named rather than addressed need the resolver. Certificates, keys in
//! the software store, PIN files and the configuration are read once, before.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Context;
use keys::KeyRef;
use sandbox::{Profile, Sandbox};
use tracing::warn;

use crate::Config;

/// Whether `run` confines the process after start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sandboxing {
    /// As `[sandbox]` says: the daemon is the whole process (`hubd`'s `main`).
    FromConfig,
    /// Never: the hub shares its process with other work (`legatura up` runs a gateway, a
    /// clamd and the CLI beside it), and the confinement would hold all of it.
    Skip,
}

/// The paths granted: `(read_only, read_write)`.
pub fn grants(config: &Config) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut read_only = BTreeSet::new();
    let mut read_write = BTreeSet::new();
    read_write.insert(config.state_dir.clone());
    let mut key_refs = Vec::new();
    if let Some(pki) = &config.pki {
        read_write.insert(pki.fleet_dir.clone());
        read_write.insert(parent(&pki.audit_log));
        key_refs.extend([&pki.issuing_key, &pki.audit_key]);
    }
    let mut databases = Vec::new();
    if let Some(portal) = &config.portal {
        databases.push(&portal.database);
        read_write.insert(portal.attachments.clone());
        key_refs.push(&portal.receipt_key);
    }
    if let Some(console) = &config.console {
        databases.push(&console.database);
    }
    if let Some(mail) = &config.mail {
        databases.push(&mail.database);
        read_write.insert(mail.attachments.clone());
        read_write.extend(mail.capture_dir());
        read_only.extend(mail.templates.clone());
    }
    for db in &databases {
        read_write.insert(parent(db));
    }
    if !databases.is_empty() {
        read_write.insert(sqlite_temp_dir());
    }
    for key in key_refs {
        if let Ok(KeyRef::Pkcs11(p)) = key.parse::<KeyRef>() {
            read_only.insert(p.module.clone());
            if let Some((conf, tokens)) = softhsm_paths(&p.module) {
                read_only.insert(conf);
                read_write.extend(tokens);
            }
        }
    }
    (
        read_only.into_iter().collect(),
        read_write.into_iter().collect(),
    )
}

fn parent(file: &Path) -> PathBuf {
    match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Where SQLite puts its temporary files (`SQLITE_TMPDIR`, `TMPDIR`, then the first of
/// `/var/tmp`, `/usr/tmp`, `/tmp` that exists), as its unix VFS chooses. Under the units'
/// `PrivateTmp=yes` it is the hub's own.
fn sqlite_temp_dir() -> PathBuf {
    ["SQLITE_TMPDIR", "TMPDIR"]
        .iter()
        .filter_map(std::env::var_os)
        .map(PathBuf::from)
        .chain(["/var/tmp", "/usr/tmp", "/tmp"].map(PathBuf::from))
        .find(|d| d.is_dir())
        .unwrap_or_else(|| PathBuf::from("/tmp"))
}

/// SoftHSM2's configuration file and token directory, when `module` is SoftHSM2: it re-reads
/// the one and writes the other when the module is re-initialised after losing the token.
fn softhsm_paths(module: &Path) -> Option<(PathBuf, Option<PathBuf>)> {
    let name = module.file_name()?.to_str()?;
    if !name.contains("softhsm") {
        return None;
    }
    let conf = std::env::var_os("SOFTHSM2_CONF")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/softhsm/softhsm2.conf"));
    let tokens = std::fs::read_to_string(&conf).ok().and_then(|text| {
        text.lines().find_map(|line| {
            let (key, value) = line.split_once('=')?;
            (key.trim() == "directories.tokendir").then(|| PathBuf::from(value.trim()))
        })
    });
    Some((conf.clone(), tokens))
        .filter(|_| conf.exists())
        .map(|(c, t)| (c, t.filter(|t| t.is_dir())))
}

/// Whether any upstream is named rather than addressed, so the resolver must stay readable.
/// A routed service names no host: its router answers with addresses.
pub fn resolves_names(config: &Config) -> bool {
    config.services.iter().any(|s| {
        tunnel::Upstream::parse(&s.upstream) != tunnel::Upstream::Routed
            && sandbox::names_host(&s.upstream)
    })
}

/// Confines the process if `[sandbox]` is enabled, and logs what the kernel enforces.
pub fn confine(config: &Config) -> anyhow::Result<()> {
    let settings = &config.sandbox;
    if !settings.enabled {
        warn!("sandbox disabled by configuration ([sandbox] enabled = false)");
        return Ok(());
    }
    let (read_only, read_write) = grants(config);
    let report = Sandbox::builder()
        .read_only(read_only)
        .read_write(read_write)
        .resolver(resolves_names(config))
        .allow_exec(false)
        .syscalls(Profile::Hub)
        .settings(settings)
        .apply()
        .context("confining hubd (docs/hardening.md; [sandbox] in the configuration)")?;
    report.log();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hub_writes_its_state_fleet_audit_and_case_store_directories() {
        let text = r#"
listen = "0.0.0.0:4433"
state_dir = "/var/lib/legatura/hub"
[tls]
fleet_ca = "/etc/legatura/fleet-ca.pem"
cert = "/etc/legatura/hub.pem"
key = "/etc/legatura/hub.key"
[pki]
issuing_key = "pkcs11:token=ca;object=issuing;module=/usr/lib/softhsm/libsofthsm2.so;pin-env=PIN"
issuing_cert = "/etc/legatura/issuing.pem"
hub_ca = "/etc/legatura/hub-ca.pem"
fleet_dir = "/var/lib/legatura/fleet"
audit_log = "/var/lib/legatura/audit/audit.log"
audit_key = "keystore:/var/lib/legatura/keys/audit-checkpoint.key"
[portal]
listen = "127.0.0.1:8000"
database = "/var/lib/legatura/cases/cases.db"
attachments = "/var/lib/legatura/attachments"
clamd = "/run/clamav/clamd.ctl"
receipt_key = "keystore:/var/lib/legatura/keys/receipt-signing.key"
[[service]]
name = "echo"
upstream = "127.0.0.1:7"
allow = ["*"]
"#;
        let config = Config::parse(text, "hubd.toml").expect("valid");
        let (ro, rw) = grants(&config);
        for dir in [
            "/var/lib/legatura/hub",
            "/var/lib/legatura/fleet",
            "/var/lib/legatura/audit",
            "/var/lib/legatura/cases",
            "/var/lib/legatura/attachments",
        ] {
            assert!(rw.contains(&PathBuf::from(dir)), "{dir} writable: {rw:?}");
        }
        assert!(rw.contains(&sqlite_temp_dir()));
        assert!(ro.contains(&PathBuf::from("/usr/lib/softhsm/libsofthsm2.so")));
        // Read once at start-up, never after: not granted.
        for file in ["/etc/legatura/hub.key", "/var/lib/legatura/keys"] {
            let file = PathBuf::from(file);
            assert!(
                !ro.contains(&file) && !rw.contains(&file),
                "{}",
                file.display()
            );
        }
        assert!(!resolves_names(&config));
    }

    #[test]
    fn a_routed_service_needs_no_resolver_and_a_named_upstream_does() {
        let with = |service: &str| {
            let text = format!(
                "listen = \"0.0.0.0:4433\"\nstate_dir = \"s\"\n[tls]\nfleet_ca = \"f\"\ncert = \"c\"\nkey = \"k\"\n[[service]]\nname = \"rtp\"\n{service}\n"
            );
            resolves_names(&Config::parse(&text, "hubd.toml").expect("valid"))
        };
        assert!(!with("protocol = \"udp\"\nupstream = \"routed\""));
        assert!(!with("upstream = \"127.0.0.1:1\""));
        assert!(with("upstream = \"relay.internal:1\""));
    }
}
