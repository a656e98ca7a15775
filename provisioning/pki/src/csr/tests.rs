use rcgen::{DnType, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P384_SHA384, PKCS_ED25519};
use x509_parser::extensions::GeneralName;

use super::*;
use crate::appliance_id_from_cert;
use crate::ca::pem_encode;
use crate::test_util::{TestResult, assert_issued_by, cert_der, parse};

const DAY: Duration = Duration::from_secs(24 * 3600);

fn paris() -> Result<ApplianceId, tunnel_proto::InvalidIdentity> {
    ApplianceId::new("paris", "PAR-01")
}

fn csr_der(csr_pem: &str) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    Ok(CertificateSigningRequestDer::from_pem_slice(csr_pem.as_bytes())?.to_vec())
}

/// A CSR that claims to be another appliance, the hub and a CA, all at once.
fn impostor_csr(key: &KeyPair) -> Result<String, rcgen::Error> {
    let mut params = CertificateParams::default();
    params.distinguished_name = common_name_only("rome/ROM-99");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Legătura hub");
    params.subject_alt_names = vec![
        SanType::URI(Ia5String::try_from("urn:legatura:appliance:rome:ROM-99")?),
        SanType::DnsName(Ia5String::try_from("hub.legatura.test")?),
    ];
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.serialize_request(key)?.pem()
}

#[test]
fn issued_identity_is_the_hub_record_not_the_csr_claim() -> TestResult {
    let ca = Ca::generate("Test fleet CA", DAY)?;
    let key = new_key()?;
    let cert_pem = ca.sign_appliance_csr(&impostor_csr(&key)?, &paris()?, DAY)?;
    let der = cert_der(&cert_pem)?;
    let cert = parse(&der)?;

    assert_eq!(cert.subject().to_string(), "CN=paris/PAR-01");
    let san = cert.subject_alternative_name()?.ok_or("no SAN")?.value;
    assert_eq!(
        san.general_names,
        [GeneralName::URI("urn:legatura:appliance:paris:PAR-01")]
    );
    let eku = cert.extended_key_usage()?.ok_or("no EKU")?.value;
    assert!(eku.client_auth);
    assert!(!eku.server_auth && !eku.any);
    let usage = cert.key_usage()?.ok_or("no keyUsage")?.value;
    assert!(usage.digital_signature() && !usage.key_cert_sign());
    assert!(!cert.is_ca());
    assert_eq!(appliance_id_from_cert(&der)?, paris()?);

    // The one thing taken from the CSR: its key.
    assert_eq!(cert.public_key().raw, key.public_key_der());
    assert_issued_by(&ca, &der)?;
    Ok(())
}

#[test]
fn generated_key_and_csr_yield_a_working_certificate() -> TestResult {
    let ca = Ca::generate("Test fleet CA", DAY)?;
    let request = generate_key_and_csr(&paris()?)?;
    let der = cert_der(&ca.sign_appliance_csr(&request.csr_pem, &paris()?, DAY)?)?;
    let key = KeyPair::from_pem(&request.key_pem)?;
    assert_eq!(key.algorithm(), &PKCS_ECDSA_P256_SHA256);
    assert_eq!(parse(&der)?.public_key().raw, key.public_key_der());
    assert_issued_by(&ca, &der)?;
    Ok(())
}

#[test]
fn csr_with_a_bad_signature_is_rejected() -> TestResult {
    let ca = Ca::generate("Test fleet CA", DAY)?;
    let good = csr_der(&generate_key_and_csr(&paris()?)?.csr_pem)?;
    let good_pem = pem_encode("CERTIFICATE REQUEST", &good);
    assert!(ca.sign_appliance_csr(&good_pem, &paris()?, DAY).is_ok());

    // A flipped bit in the signed data ("paris" becomes "qaris" in the CN), then in the
    // signature itself.
    let name_at = good
        .windows(5)
        .position(|w| w == b"paris")
        .ok_or("CN not found")?;
    for at in [name_at, good.len() - 1] {
        let mut bad = good.clone();
        bad[at] ^= 0x01;
        let bad_pem = pem_encode("CERTIFICATE REQUEST", &bad);
        match ca.sign_appliance_csr(&bad_pem, &paris()?, DAY) {
            Err(IssueError::CsrSignature(_)) => {}
            other => panic!("byte {at} flipped: {other:?}"),
        }
    }
    Ok(())
}

#[test]
fn csr_for_another_key_type_is_rejected() -> TestResult {
    let ca = Ca::generate("Test fleet CA", DAY)?;
    for alg in [&PKCS_ECDSA_P384_SHA384, &PKCS_ED25519] {
        let key = KeyPair::generate_for(alg)?;
        let csr = impostor_csr(&key)?;
        match ca.sign_appliance_csr(&csr, &paris()?, DAY) {
            Err(IssueError::CsrKeyNotP256) => {}
            other => panic!("{alg:?}: {other:?}"),
        }
    }
    Ok(())
}

#[test]
fn garbage_is_not_a_csr() -> TestResult {
    let ca = Ca::generate("Test fleet CA", DAY)?;
    let id = paris()?;
    let not_pem = ca.sign_appliance_csr("hello", &id, DAY);
    assert!(
        matches!(not_pem, Err(IssueError::CsrNotPem(_))),
        "{not_pem:?}"
    );
    let wrong_label = ca.sign_appliance_csr(&ca.cert_pem(), &id, DAY);
    assert!(
        matches!(wrong_label, Err(IssueError::CsrNotPem(_))),
        "{wrong_label:?}"
    );
    let not_der = pem_encode("CERTIFICATE REQUEST", b"\x30\x03\x02\x01\x01");
    let not_der = ca.sign_appliance_csr(&not_der, &id, DAY);
    assert!(
        matches!(not_der, Err(IssueError::CsrMalformed(_))),
        "{not_der:?}"
    );

    let mut trailing = csr_der(&generate_key_and_csr(&id)?.csr_pem)?;
    trailing.extend_from_slice(b"\0\0");
    let trailing = ca.sign_appliance_csr(&pem_encode("CERTIFICATE REQUEST", &trailing), &id, DAY);
    assert!(
        matches!(trailing, Err(IssueError::CsrTrailingData(2))),
        "{trailing:?}"
    );
    Ok(())
}

#[test]
fn explicit_validity_is_honoured_and_must_not_be_empty() -> TestResult {
    let ca = Ca::generate("Test fleet CA", DAY)?;
    let csr = generate_key_and_csr(&paris()?)?.csr_pem;
    let not_before = OffsetDateTime::now_utc().replace_nanosecond(0)? - time::Duration::days(3);
    let not_after = not_before + time::Duration::days(1);
    let der = cert_der(&ca.sign_appliance_csr_between(&csr, &paris()?, not_before, not_after)?)?;
    let cert = parse(&der)?;
    assert_eq!(cert.validity().not_before.to_datetime(), not_before);
    assert_eq!(cert.validity().not_after.to_datetime(), not_after);
    assert!(!cert.validity().is_valid());

    let empty = ca.sign_appliance_csr_between(&csr, &paris()?, not_after, not_after);
    assert!(
        matches!(empty, Err(IssueError::EmptyValidity { .. })),
        "{empty:?}"
    );
    let reversed = ca.sign_appliance_csr_between(&csr, &paris()?, not_after, not_before);
    assert!(
        matches!(reversed, Err(IssueError::EmptyValidity { .. })),
        "{reversed:?}"
    );
    Ok(())
}

#[test]
fn debug_redacts_the_key() -> TestResult {
    let request = generate_key_and_csr(&paris()?)?;
    let shown = format!("{request:?}");
    assert!(shown.contains("<redacted>") && shown.contains("CERTIFICATE REQUEST"));
    assert!(!shown.contains("PRIVATE KEY"));
    Ok(())
}
