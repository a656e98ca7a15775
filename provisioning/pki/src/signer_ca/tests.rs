use super::*;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _};
use std::sync::atomic::{AtomicBool, Ordering};
use x509_parser::prelude::FromDer;

/// A software signer for one role, with a switch that makes it unavailable.
#[derive(Debug)]
struct TestSigner {
    key: EcdsaKeyPair,
    role: KeyRole,
    down: AtomicBool,
}

impl TestSigner {
    fn new(role: KeyRole) -> Arc<Self> {
        let rng = SystemRandom::new();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).expect("keygen");
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .expect("key");
        Arc::new(Self {
            key,
            role,
            down: AtomicBool::new(false),
        })
    }
}

impl Signer for TestSigner {
    fn role(&self) -> KeyRole {
        self.role
    }
    fn public_key(&self) -> &[u8] {
        self.key.public_key().as_ref()
    }
    fn sign(&self, role: KeyRole, message: &[u8]) -> Result<Vec<u8>, keys::SignError> {
        if role != self.role {
            return Err(keys::SignError::WrongRole {
                key: self.role,
                requested: role,
            });
        }
        if self.down.load(Ordering::Relaxed) {
            return Err(keys::SignError::Unavailable("test".into()));
        }
        let sig = self
            .key
            .sign(&SystemRandom::new(), message)
            .map_err(|_| keys::SignError::Failed("ring".into()))?;
        Ok(sig.as_ref().to_vec())
    }
}

fn id() -> crate::ApplianceId {
    crate::ApplianceId::new("paris", "PAR-01").expect("valid")
}

#[test]
fn root_signs_an_issuing_ca_whose_key_stays_in_the_backend_and_it_issues_leaves() {
    let root = Ca::generate_root("Root", Duration::from_secs(86_400 * 365)).expect("root");
    let signer = TestSigner::new(KeyRole::FleetIssuing);
    let inter_pem = root
        .issue_intermediate(signer.clone(), "Issuing", Duration::from_secs(86_400 * 30))
        .expect("intermediate");
    let issuing = Ca::with_signer(&inter_pem, signer.clone()).expect("issuing CA");
    assert!(issuing.is_remote());
    assert!(matches!(
        issuing.save(
            std::path::Path::new("/nonexistent/c"),
            std::path::Path::new("/nonexistent/k")
        ),
        Err(crate::StoreError::RemoteKey)
    ));

    let csr = crate::generate_key_and_csr(&id()).expect("csr");
    let leaf_pem = issuing
        .sign_appliance_csr(&csr.csr_pem, &id(), Duration::from_secs(86_400))
        .expect("leaf");
    let leaf_der = CertificateDer::from_pem_slice(leaf_pem.as_bytes()).expect("pem");
    let inter_der = CertificateDer::from_pem_slice(inter_pem.as_bytes()).expect("pem");
    let (_, leaf) =
        x509_parser::certificate::X509Certificate::from_der(&leaf_der).expect("leaf parses");
    let (_, inter) =
        x509_parser::certificate::X509Certificate::from_der(&inter_der).expect("inter parses");
    let root_der = root.cert_der();
    let (_, root_cert) =
        x509_parser::certificate::X509Certificate::from_der(&root_der).expect("root parses");
    leaf.verify_signature(Some(inter.public_key()))
        .expect("leaf signed by the issuing key in the backend");
    inter
        .verify_signature(Some(root_cert.public_key()))
        .expect("issuing CA signed by the root");
    assert!(inter.is_ca());
    assert_eq!(
        crate::appliance_id_from_cert(&leaf_der).expect("identity"),
        id()
    );
}

#[test]
fn a_key_of_another_role_cannot_issue() {
    let root = Ca::generate_root("Root", Duration::from_secs(86_400)).expect("root");
    let receipts = TestSigner::new(KeyRole::ReceiptSigning);
    assert!(matches!(
        root.issue_intermediate(receipts.clone(), "x", Duration::from_secs(60)),
        Err(IssueError::WrongKeyRole(KeyRole::ReceiptSigning))
    ));
    let issuing = TestSigner::new(KeyRole::FleetIssuing);
    let pem = root
        .issue_intermediate(issuing, "Issuing", Duration::from_secs(86_400))
        .expect("intermediate");
    assert!(matches!(
        Ca::with_signer(&pem, receipts),
        Err(SignerCaError::WrongRole(KeyRole::ReceiptSigning))
    ));
    // The right role but another key: the certificate is not this key's.
    assert!(matches!(
        Ca::with_signer(&pem, TestSigner::new(KeyRole::FleetIssuing)),
        Err(SignerCaError::KeyMismatch)
    ));
}

#[test]
fn issuance_fails_cleanly_while_the_backend_is_away_and_resumes() {
    let root = Ca::generate_root("Root", Duration::from_secs(86_400)).expect("root");
    let signer = TestSigner::new(KeyRole::FleetIssuing);
    let pem = root
        .issue_intermediate(signer.clone(), "Issuing", Duration::from_secs(86_400))
        .expect("intermediate");
    let issuing = Ca::with_signer(&pem, signer.clone()).expect("issuing CA");
    let csr = crate::generate_key_and_csr(&id()).expect("csr");
    signer.down.store(true, Ordering::Relaxed);
    assert!(
        issuing
            .sign_appliance_csr(&csr.csr_pem, &id(), Duration::from_secs(60))
            .is_err()
    );
    signer.down.store(false, Ordering::Relaxed);
    assert!(
        issuing
            .sign_appliance_csr(&csr.csr_pem, &id(), Duration::from_secs(60))
            .is_ok()
    );
}

#[test]
fn the_crl_lists_revoked_serials_and_is_signed_by_the_issuing_ca() {
    let root = Ca::generate_root("Root", Duration::from_secs(86_400)).expect("root");
    let signer = TestSigner::new(KeyRole::FleetIssuing);
    let pem = root
        .issue_intermediate(signer.clone(), "Issuing", Duration::from_secs(86_400))
        .expect("intermediate");
    let issuing = Ca::with_signer(&pem, signer).expect("issuing CA");
    let serial = vec![0x41, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
    let crl_pem = issuing
        .crl(
            7,
            &[Revoked {
                serial: serial.clone(),
                at: OffsetDateTime::now_utc(),
            }],
            Duration::from_secs(3600),
        )
        .expect("crl");
    let der = rustls_pki_types::CertificateRevocationListDer::from_pem_slice(crl_pem.as_bytes())
        .expect("pem");
    let (_, crl) =
        x509_parser::revocation_list::CertificateRevocationList::from_der(&der).expect("parses");
    assert_eq!(crl.iter_revoked_certificates().count(), 1);
    assert_eq!(
        crl.iter_revoked_certificates()
            .next()
            .expect("one")
            .raw_serial(),
        serial.as_slice()
    );
    let inter_der = CertificateDer::from_pem_slice(pem.as_bytes()).expect("pem");
    let (_, inter) =
        x509_parser::certificate::X509Certificate::from_der(&inter_der).expect("parses");
    crl.verify_signature(inter.public_key())
        .expect("signed by the issuing CA");
}
