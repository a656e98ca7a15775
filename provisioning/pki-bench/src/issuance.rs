//! In-process parts: certificate issuance and raw signing, SoftHSM2 against the software key
//! store. The two backends alternate sample by sample (issuance) or round by round (signing),
//! so that whatever else the machine is doing weighs on both alike.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use keys::Signer;
use pki::{ApplianceId, Ca};

use crate::hsm::Backends;
use crate::progress;
use benchkit::percentile;

use crate::report::Report;

/// Certificates issued per backend, all timed.
pub(crate) const ISSUANCES: usize = 500;
/// Issuances per backend before timing starts (first session use, caches).
const ISSUANCE_WARMUP: usize = 20;
/// Signing time per backend, split into rounds that alternate between the backends.
const SIGNING_ROUNDS: u32 = 4;
const SIGNING_ROUND: Duration = Duration::from_millis(500);
const LEAF_VALIDITY: Duration = Duration::from_secs(24 * 3600);
const CA_VALIDITY: Duration = Duration::from_secs(30 * 86_400);

/// `issuance_*`: CSR → certificate with the issuing key in each backend.
pub(crate) fn issuance(keys: &Backends, report: &mut Report) -> Result<()> {
    let root = Ca::generate_root("pki-bench root CA", CA_VALIDITY)?;
    let hsm = Issuer::new(&root, keys.hsm.clone())?;
    let software = Issuer::new(&root, keys.software.clone())?;

    progress!("issuance: preparing {ISSUANCES} CSRs");
    let csrs = (0..ISSUANCES)
        .map(|i| {
            let id = ApplianceId::new("bench", &format!("I-{i:03}"))?;
            let csr = pki::generate_key_and_csr(&id)?.csr_pem;
            Ok((id, csr))
        })
        .collect::<Result<Vec<_>>>()?;
    for (id, csr) in csrs.iter().take(ISSUANCE_WARMUP) {
        hsm.issue(csr, id)?;
        software.issue(csr, id)?;
    }

    progress!("issuance: {ISSUANCES} certificates per backend, interleaved");
    let (mut hsm_ms, mut software_ms) = (Vec::new(), Vec::new());
    let (mut hsm_certs, mut software_certs) = (Vec::new(), Vec::new());
    for (i, (id, csr)) in csrs.iter().enumerate() {
        // Alternate which backend goes first, so neither always follows the other.
        let (first, second) = if i % 2 == 0 {
            (
                (&hsm, &mut hsm_ms, &mut hsm_certs),
                (&software, &mut software_ms, &mut software_certs),
            )
        } else {
            (
                (&software, &mut software_ms, &mut software_certs),
                (&hsm, &mut hsm_ms, &mut hsm_certs),
            )
        };
        for (issuer, times, certs) in [first, second] {
            let started = Instant::now();
            let pem = issuer.issue(csr, id)?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            certs.push(pem);
        }
    }
    let verified = hsm.verify_all(&hsm_certs)? && software.verify_all(&software_certs)?;
    if !verified {
        bail!("an issued certificate does not verify against its issuing CA");
    }

    report.num("issuances", ISSUANCES as f64);
    report.num("issuance_p50_ms", percentile(&mut hsm_ms, 50.0));
    report.num("issuance_p99_ms", percentile(&mut hsm_ms, 99.0));
    report.num(
        "issuance_software_p50_ms",
        percentile(&mut software_ms, 50.0),
    );
    report.num(
        "issuance_software_p99_ms",
        percentile(&mut software_ms, 99.0),
    );
    report.num(
        "issuance_p50_hsm_vs_software_ratio",
        percentile(&mut hsm_ms, 50.0) / percentile(&mut software_ms, 50.0),
    );
    report.flag("issued_certificates_verify", verified);
    Ok(())
}

/// An issuing CA whose key is behind one backend, and its certificate.
struct Issuer {
    ca: Ca,
    cert_der: Vec<u8>,
}

impl Issuer {
    /// The issuing CA certificate for `signer`'s key, signed by `root`, then the CA as the hub
    /// builds it: [`Ca::with_signer`].
    fn new(root: &Ca, signer: Arc<dyn Signer>) -> Result<Self> {
        let pem = root.issue_intermediate(signer.clone(), "pki-bench issuing CA", CA_VALIDITY)?;
        let cert_der = certificate_der(&pem).context("the issuing CA certificate")?;
        let ca = Ca::with_signer(&pem, signer).context("building the issuing CA")?;
        Ok(Self { ca, cert_der })
    }

    fn issue(&self, csr: &str, id: &ApplianceId) -> Result<String> {
        Ok(self.ca.sign_appliance_csr(csr, id, LEAF_VALIDITY)?)
    }

    /// Whether every certificate in `pems` is signed by this CA's key and names it as issuer.
    fn verify_all(&self, pems: &[String]) -> Result<bool> {
        let (_, issuer) = x509_parser::parse_x509_certificate(&self.cert_der)
            .map_err(|e| anyhow::anyhow!("parsing the issuing CA certificate: {e}"))?;
        for pem in pems {
            let der = certificate_der(pem)?;
            let (_, leaf) = x509_parser::parse_x509_certificate(&der)
                .map_err(|e| anyhow::anyhow!("parsing an issued certificate: {e}"))?;
            if leaf.issuer() != issuer.subject()
                || leaf.verify_signature(Some(issuer.public_key())).is_err()
            {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// `*_signatures_per_s`: [`Signer::sign`] on 64-byte messages, one thread.
pub(crate) fn signing(keys: &Backends, report: &mut Report) -> Result<()> {
    progress!(
        "signing: {:?} per backend, one thread",
        SIGNING_ROUND * SIGNING_ROUNDS
    );
    let mut hsm = Rate::default();
    let mut software = Rate::default();
    for signer in [&keys.hsm, &keys.software] {
        let probe = [0x42u8; 64];
        let signature = signer.sign(signer.role(), &probe)?;
        if !keys::verify(signer.public_key(), &probe, &signature) {
            bail!("a {} signature does not verify", signer.role());
        }
    }
    for round in 0..SIGNING_ROUNDS {
        if round % 2 == 0 {
            hsm.run(&*keys.hsm)?;
            software.run(&*keys.software)?;
        } else {
            software.run(&*keys.software)?;
            hsm.run(&*keys.hsm)?;
        }
    }
    let (hsm, software) = (hsm.per_second(), software.per_second());
    report.num("hsm_signatures_per_s", hsm);
    report.num("software_signatures_per_s", software);
    report.num("hsm_vs_software_ratio", hsm / software);
    Ok(())
}

/// Signatures made and time spent signing, over several rounds.
#[derive(Debug, Default)]
struct Rate {
    signatures: u64,
    elapsed: Duration,
}

impl Rate {
    fn run(&mut self, signer: &dyn Signer) -> Result<()> {
        let mut message = [0u8; 64];
        let started = Instant::now();
        while started.elapsed() < SIGNING_ROUND {
            // A different message each time, as in real use.
            message[..8].copy_from_slice(&self.signatures.to_le_bytes());
            signer.sign(signer.role(), &message)?;
            self.signatures += 1;
        }
        self.elapsed += started.elapsed();
        Ok(())
    }

    fn per_second(&self) -> f64 {
        self.signatures as f64 / self.elapsed.as_secs_f64()
    }
}

/// The DER of the first PEM block of `pem`, which must be a certificate.
fn certificate_der(pem: &str) -> Result<Vec<u8>> {
    let (_, parsed) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .map_err(|e| anyhow::anyhow!("not PEM: {e}"))?;
    (parsed.label == "CERTIFICATE")
        .then_some(parsed.contents)
        .context("the PEM block is not a CERTIFICATE")
}
