//! Certificates for both tunnels from one fixture PKI: files for stunnel and the hub child
//! process, in-memory credentials for the in-process gateways.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use pki::fixture::Fleet;
use tunnel::Credentials;

/// Mission of every benchmark appliance.
pub(crate) const MISSION: &str = "bench";
/// The appliance that carries the throughput and latency traffic, through both tunnels.
pub(crate) const LOAD_APPLIANCE: &str = "LOAD-1";

/// The fixture PKI on disk.
#[derive(Debug)]
pub(crate) struct PkiFiles {
    pub(crate) dir: PathBuf,
    pub(crate) ca: PathBuf,
    pub(crate) hub_cert: PathBuf,
    pub(crate) hub_key: PathBuf,
    pub(crate) appliance_cert: PathBuf,
    pub(crate) appliance_key: PathBuf,
}

/// Writes the CA, the hub's certificate and key, and [`LOAD_APPLIANCE`]'s, to `dir`.
pub(crate) fn write(fleet: &Fleet, dir: &Path) -> Result<PkiFiles> {
    let files = PkiFiles {
        dir: dir.to_owned(),
        ca: dir.join("ca.pem"),
        hub_cert: dir.join("hub.pem"),
        hub_key: dir.join("hub.key"),
        appliance_cert: dir.join("appliance.pem"),
        appliance_key: dir.join("appliance.key"),
    };
    pki::write_public(&files.ca, fleet.ca().cert_pem().as_bytes())
        .with_context(|| format!("cannot write {}", files.ca.display()))?;
    fleet
        .hub()
        .save(&files.hub_cert, &files.hub_key)
        .context("cannot write the hub certificate")?;
    let appliance = fleet
        .appliance(MISSION, LOAD_APPLIANCE)
        .context("cannot issue the load appliance's certificate")?;
    appliance
        .save(&files.appliance_cert, &files.appliance_key)
        .context("cannot write the appliance certificate")?;
    Ok(files)
}

/// The hub's credentials: it trusts the fleet CA for clients.
pub(crate) fn hub_credentials(fleet: &Fleet) -> Result<Credentials> {
    Credentials::from_pem(
        &fleet.ca().cert_pem(),
        &fleet.hub().cert_pem,
        &fleet.hub().key_pem,
    )
    .context("hub credentials")
}

/// Credentials for one appliance, trusting the CA that issued the hub's certificate.
pub(crate) fn appliance(fleet: &Fleet, name: &str) -> Result<Credentials> {
    let issued = fleet
        .appliance(MISSION, name)
        .with_context(|| format!("cannot issue a certificate for {MISSION}/{name}"))?;
    Credentials::from_pem(&fleet.ca().cert_pem(), &issued.cert_pem, &issued.key_pem)
        .with_context(|| format!("credentials of {name}"))
}

/// `n` appliances, each with its own key and a distinct identity (`bench/GW-0000` …).
pub(crate) fn appliances(fleet: &Fleet, n: usize) -> Result<Vec<Credentials>> {
    (0..n)
        .map(|i| appliance(fleet, &format!("GW-{i:04}")))
        .collect()
}
