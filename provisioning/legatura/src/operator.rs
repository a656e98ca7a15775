//! `legatura operator enroll CODE`: a NOC workstation becomes an operator the way an appliance
//! enrols: its key is made here, and the certificate comes back over a PAKE keyed by the
//! one-time code, naming the operator the hub has on record.

use std::path::Path;

use anyhow::Context;
use pki::enroll::{EnrollCode, GatewayEnrollment, Message};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// Enrols with `typed` against the hub's tunnel endpoint `hub`, trusting `hub_ca`; writes the
/// operator's credentials and the NOC address under `data` in the layout the fleet commands
/// read.
pub(crate) async fn enroll(
    typed: &str,
    hub: &str,
    hub_ca: &Path,
    noc: &str,
    data: &Path,
) -> anyhow::Result<String> {
    let code = EnrollCode::parse(typed)?;
    let ca_pem =
        std::fs::read_to_string(hub_ca).with_context(|| format!("reading {}", hub_ca.display()))?;
    let roots: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(ca_pem.as_bytes())
        .filter_map(Result::ok)
        .collect();
    let placeholder = pki::ApplianceId::new("operator", "workstation")?;
    let key_and_csr = pki::generate_key_and_csr(&placeholder)?;
    let mut channel =
        tunnel::enroll::EnrollChannel::connect(hub, "hub.legatura", &roots, "0.0.0.0:0".parse()?)
            .await
            .map_err(|e| {
                anyhow::anyhow!("cannot reach the hub at {hub}: {}", tunnel::error_chain(&e))
            })?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let (state, start) =
        GatewayEnrollment::start(&code, concat!("legatura/", env!("CARGO_PKG_VERSION")), now);
    let reply = Message::decode(&channel.exchange(&start.encode()).await?)?;
    let (waiting, finish) = state.finish(reply, &key_and_csr.csr_pem)?;
    let reply = Message::decode(&channel.exchange(&finish.encode()).await?)?;
    let enrolled = waiting.accept(reply)?;
    channel.close().await;
    let name = enrolled
        .operator
        .context("this code enrols an appliance, not an operator; use gatewayd enroll")?;
    let pki_dir = data.join("pki");
    std::fs::create_dir_all(&pki_dir).with_context(|| format!("creating {}", pki_dir.display()))?;
    pki::write_private(
        &pki_dir.join("operator.key"),
        key_and_csr.key_pem.as_bytes(),
    )?;
    pki::write_public(&pki_dir.join("operator.pem"), enrolled.cert_pem.as_bytes())?;
    pki::write_public(&pki_dir.join("root.pem"), enrolled.hub_ca_pem.as_bytes())?;
    pki::write_public(&data.join("noc-address"), format!("{noc}\n").as_bytes())?;
    Ok(name)
}
