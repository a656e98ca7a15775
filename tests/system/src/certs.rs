//! Certificates from the development CA, written where the daemons' configs point: one fleet
//! CA per test, a server certificate per hub, a client certificate per gateway issued from a
//! CSR the way enrollment does it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use pki::{ApplianceId, Ca};

/// Long enough for any test, short enough to be obviously a test certificate.
const VALIDITY: Duration = Duration::from_secs(24 * 3600);

/// The name on every hub certificate: gatewayd's default `server_name`.
pub const HUB_NAME: &str = "hub.legatura";

/// A CA certificate, a leaf certificate and its key, on disk.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A fleet CA and the directory its files go to.
#[derive(Debug)]
pub struct Fleet {
    ca: Ca,
    ca_path: PathBuf,
    dir: PathBuf,
}

impl Fleet {
    /// A new CA, its certificate written to `<dir>/fleet-ca.pem`.
    pub fn new(dir: &Path) -> Result<Fleet> {
        let ca = Ca::generate("Legătura system-test fleet CA", VALIDITY)
            .context("generating the fleet CA")?;
        let ca_path = dir.join("fleet-ca.pem");
        pki::write_public(&ca_path, ca.cert_pem().as_bytes())
            .context("writing the CA certificate")?;
        Ok(Fleet {
            ca,
            ca_path,
            dir: dir.to_owned(),
        })
    }

    /// A hub server certificate for [`HUB_NAME`], as `<dir>/<name>.pem` and `.key`.
    pub fn hub(&self, name: &str) -> Result<TlsFiles> {
        let issued = self
            .ca
            .issue_server(&[HUB_NAME], VALIDITY)
            .context("issuing a hub certificate")?;
        let files = self.files(name);
        issued
            .save(&files.cert, &files.key)
            .context("writing the hub certificate")?;
        Ok(files)
    }

    /// An appliance client certificate for `mission/appliance`: the key and CSR are made as on
    /// the appliance, and the CA signs the CSR.
    pub fn appliance(&self, mission: &str, appliance: &str) -> Result<TlsFiles> {
        let id = ApplianceId::new(mission, appliance).context("appliance identity")?;
        let request =
            pki::generate_key_and_csr(&id).context("generating the appliance key and CSR")?;
        let cert = self
            .ca
            .sign_appliance_csr(&request.csr_pem, &id, VALIDITY)
            .context("signing the appliance CSR")?;
        let files = self.files(&format!("{mission}-{appliance}"));
        pki::write_private(&files.key, request.key_pem.as_bytes())
            .context("writing the appliance key")?;
        pki::write_public(&files.cert, cert.as_bytes())
            .context("writing the appliance certificate")?;
        Ok(files)
    }

    fn files(&self, name: &str) -> TlsFiles {
        TlsFiles {
            ca: self.ca_path.clone(),
            cert: self.dir.join(format!("{name}.pem")),
            key: self.dir.join(format!("{name}.key")),
        }
    }
}
