//! `legatura ca init`: the PKI of a new installation.
//!
//! Writes, under DIR:
//! - `root.pem`, `root.key` (0600): the root CA; keep `root.key` offline once this is done;
//! - `keys/`: the software key store (master key and one encrypted key per role) with the
//!   fleet-issuing and audit-checkpoint keys — unless `--issuing-key` names an HSM key;
//! - `issuing.pem`: the online issuing CA, signed by the root, its key in the backend;
//! - `hub.pem`, `hub.key` (0600): the hub's server certificate (chain to the root);
//! - `operator.pem`, `operator.key` (0600): the first NOC operator;
//! - `audit.pub`: the audit-checkpoint public key (hex), for `legatura audit verify`;
//! - `receipt.pub`: the receipt-signing public key (hex), published so citizens' receipts can be
//!   checked offline with `legatura receipt verify`.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use keys::{KeyRole, SoftwareStore};
use pki::Ca;

const YEAR: u64 = 365 * 86_400;

pub(crate) fn init(dir: &Path, hub_names: &[&str], operator: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let keys_dir = dir.join("keys");
    let store = SoftwareStore::open(&keys_dir).context("opening the software key store")?;
    let issuing = match store.signer(KeyRole::FleetIssuing) {
        Ok(s) => s,
        Err(_) => store
            .generate(KeyRole::FleetIssuing)
            .context("generating the fleet-issuing key")?,
    };
    let audit = match store.signer(KeyRole::AuditCheckpoint) {
        Ok(s) => s,
        Err(_) => store
            .generate(KeyRole::AuditCheckpoint)
            .context("generating the audit-checkpoint key")?,
    };
    let root = Ca::generate_root("Legătura fleet root CA", Duration::from_secs(20 * YEAR))?;
    root.save(&dir.join("root.pem"), &dir.join("root.key"))?;
    let issuing_pem = root.issue_intermediate(
        issuing.clone(),
        "Legătura fleet issuing CA",
        Duration::from_secs(2 * YEAR),
    )?;
    pki::write_public(&dir.join("issuing.pem"), issuing_pem.as_bytes())?;
    let issuing_ca = Ca::with_signer(&issuing_pem, issuing).context("using the issuing CA")?;
    let hub = issuing_ca.issue_server(hub_names, Duration::from_secs(YEAR))?;
    pki::write_private(&dir.join("hub.key"), hub.key_pem.as_bytes())?;
    pki::write_public(
        &dir.join("hub.pem"),
        format!("{}{}", hub.cert_pem, issuing_pem).as_bytes(),
    )?;
    let op = issuing_ca.issue_operator(operator, Duration::from_secs(YEAR))?;
    pki::write_private(&dir.join("operator.key"), op.key_pem.as_bytes())?;
    pki::write_public(
        &dir.join("operator.pem"),
        format!("{}{}", op.cert_pem, issuing_pem).as_bytes(),
    )?;
    pki::write_public(
        &dir.join("audit.pub"),
        hex::encode(audit.public_key()).as_bytes(),
    )?;
    let receipt = match store.signer(KeyRole::ReceiptSigning) {
        Ok(s) => s,
        Err(_) => store
            .generate(KeyRole::ReceiptSigning)
            .context("generating the receipt-signing key")?,
    };
    pki::write_public(
        &dir.join("receipt.pub"),
        hex::encode(receipt.public_key()).as_bytes(),
    )?;
    Ok(())
}
