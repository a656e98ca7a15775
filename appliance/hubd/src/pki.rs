//! Wiring of the fleet PKI: open the issuing key and the audit key through their backends,
//! build the issuing CA, the audit log and the fleet manager.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use fleet::{Fleet, FleetConfig};
use keys::{KeyRef, KeyRole};

use crate::config::PkiSection;

/// Opens everything `[pki]` names.
pub fn open(section: &PkiSection) -> anyhow::Result<(Arc<Fleet>, Arc<audit::AuditLog>)> {
    let issuing_ref: KeyRef = section.issuing_key.parse().context("pki.issuing_key")?;
    let audit_ref: KeyRef = section.audit_key.parse().context("pki.audit_key")?;
    let issuing = keys::open_signer(&issuing_ref, KeyRole::FleetIssuing)
        .context("opening the issuing CA key")?;
    let audit_signer = keys::open_signer(&audit_ref, KeyRole::AuditCheckpoint)
        .context("opening the audit-checkpoint key")?;
    let chain_pem = std::fs::read_to_string(&section.issuing_cert)
        .with_context(|| format!("reading {}", section.issuing_cert.display()))?;
    let hub_ca_pem = std::fs::read_to_string(&section.hub_ca)
        .with_context(|| format!("reading {}", section.hub_ca.display()))?;
    let ca = pki::Ca::with_signer(&chain_pem, issuing).context("building the issuing CA")?;
    let audit = Arc::new(
        audit::AuditLog::open(&section.audit_log, audit_signer, 100)
            .context("opening the audit log")?,
    );
    let mut config = FleetConfig::new(section.fleet_dir.clone(), hub_ca_pem, chain_pem);
    config.leaf_lifetime = section.leaf_lifetime;
    config.code_lifetime = section.code_lifetime;
    let fleet = Fleet::open(config, ca, audit.clone()).context("opening the fleet records")?;
    Ok((fleet, audit))
}

/// Keeps the fleet's view fresh so a revocation made through another hub instance is enforced
/// here within a quarter second, and writes last-seen facts every ten seconds. Both touch the
/// disk, so they run on blocking threads, never on the network threads.
pub async fn refresh(fleet: Arc<Fleet>) {
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut ticks: u64 = 0;
    loop {
        tick.tick().await;
        ticks += 1;
        let (f, flush) = (fleet.clone(), ticks.is_multiple_of(40));
        let done = tokio::task::spawn_blocking(move || {
            f.refresh()?;
            if flush { f.flush_seen() } else { Ok(()) }
        })
        .await;
        if let Ok(Err(error)) = done {
            tracing::warn!(%error, "cannot refresh the fleet records");
        }
    }
}

/// Writes what is pending before the hub stops.
pub async fn flush(fleet: Arc<Fleet>) {
    if let Ok(Err(error)) = tokio::task::spawn_blocking(move || fleet.flush_seen()).await {
        tracing::warn!(%error, "cannot write last-seen facts");
    }
}
