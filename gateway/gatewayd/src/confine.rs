//! What gatewayd may still touch once started, derived from its configuration, and the call
//! that confines it there (the `sandbox` crate; docs/hardening.md).
//!
//! After start-up the gateway reads its pinned hub CA, key and certificate (renewal), writes
//! its certificate (renewal) and, before enrollment, its key, certificate and the code file
//! beside the key; it resolves hub names when they are not addresses. Nothing else: the
//! configuration file itself is read once, before.

use std::collections::BTreeSet;
use std::os::unix::fs::DirBuilderExt as _;
use std::path::PathBuf;

use anyhow::Context;
use sandbox::{Profile, Sandbox};
use tracing::warn;

use crate::Config;

/// Whether `run` confines the process after start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sandboxing {
    /// As `[sandbox]` says: the daemon is the whole process (`gatewayd`'s `main`).
    FromConfig,
    /// Never: the gateway shares its process with other work (`legatura up` runs a hub, a
    /// clamd and the CLI beside it), and the confinement would hold all of it.
    Skip,
}

/// The directories the gateway writes in: its certificate's and its key's (created, mode
/// 0700, when missing: a rule needs an existing path).
pub fn writable_dirs(config: &Config) -> anyhow::Result<Vec<PathBuf>> {
    let mut dirs = BTreeSet::new();
    for file in [&config.tls.cert, &config.tls.key] {
        let dir = match file.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .with_context(|| format!("creating {}", dir.display()))?;
        }
        dirs.insert(dir);
    }
    Ok(dirs.into_iter().collect())
}

/// Whether any hub is named rather than addressed, so the resolver must stay readable.
pub fn resolves_names(config: &Config) -> bool {
    config.hubs.iter().any(|hub| sandbox::names_host(hub))
}

/// Confines the process if `[sandbox]` is enabled, and logs what the kernel enforces.
pub fn confine(config: &Config) -> anyhow::Result<()> {
    let settings = &config.sandbox;
    if !settings.enabled {
        warn!("sandbox disabled by configuration ([sandbox] enabled = false)");
        return Ok(());
    }
    let report = Sandbox::builder()
        .read_only([&config.tls.hub_ca])
        .read_write(writable_dirs(config)?)
        .resolver(resolves_names(config))
        .allow_exec(false)
        .syscalls(Profile::Gateway)
        .settings(settings)
        .apply()
        .context("confining gatewayd (docs/hardening.md; [sandbox] in the configuration)")?;
    report.log();
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn config(hubs: &str, dir: &Path) -> Config {
        let text = format!(
            "hubs = [{hubs}]\n[tls]\nhub_ca = \"{d}/ca.pem\"\ncert = \"{d}/state/gw.pem\"\nkey = \"{d}/keys/gw.key\"\n",
            d = dir.display()
        );
        Config::parse(&text, "t").expect("valid")
    }

    #[test]
    fn the_certificate_and_key_directories_are_writable_and_created() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = config("\"10.0.0.1:4433\"", dir.path());
        let dirs = writable_dirs(&c).expect("created");
        assert_eq!(dirs, [dir.path().join("keys"), dir.path().join("state")]);
        assert!(dirs.iter().all(|d| d.is_dir()));
    }

    #[test]
    fn only_named_hubs_need_the_resolver() {
        let dir = Path::new("/x");
        assert!(!resolves_names(&config(
            "\"10.0.0.1:4433\", \"[::1]:4433\"",
            dir
        )));
        assert!(resolves_names(&config(
            "\"10.0.0.1:4433\", \"hub-b.example:4433\"",
            dir
        )));
    }
}
