use std::collections::HashSet;

use x509_parser::extensions::GeneralName;
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_SIG_ECDSA_WITH_SHA256,
};

use super::*;
use crate::test_util::{TestResult, assert_issued_by, cert_der, parse};

const DAY: Duration = Duration::from_secs(24 * 3600);

#[test]
fn generated_ca_is_a_p256_root_that_signs_only_certificates() -> TestResult {
    let ca = Ca::generate("Test fleet CA", 10 * DAY)?;
    let der = ca.cert_der();
    let cert = parse(&der)?;

    assert_eq!(cert.subject().to_string(), "CN=Test fleet CA");
    assert_eq!(cert.issuer().as_raw(), cert.subject().as_raw());
    cert.verify_signature(None)?;
    assert_eq!(
        cert.signature_algorithm.algorithm,
        OID_SIG_ECDSA_WITH_SHA256
    );
    let spki = &cert.public_key().algorithm;
    assert_eq!(spki.algorithm, OID_KEY_TYPE_EC_PUBLIC_KEY);
    assert_eq!(
        spki.parameters.as_ref().map(|p| p.as_oid()).transpose()?,
        Some(OID_EC_P256)
    );

    let constraints = cert.basic_constraints()?.ok_or("no basicConstraints")?;
    assert!(constraints.critical);
    assert!(constraints.value.ca);
    assert_eq!(constraints.value.path_len_constraint, Some(0));
    let usage = cert.key_usage()?.ok_or("no keyUsage")?.value;
    assert!(usage.key_cert_sign() && usage.crl_sign());
    assert!(!usage.digital_signature() && !usage.key_encipherment());

    let now = OffsetDateTime::now_utc();
    let not_before = cert.validity().not_before.to_datetime();
    let not_after = cert.validity().not_after.to_datetime();
    assert!(
        not_before <= now - time::Duration::minutes(4),
        "{not_before}"
    );
    assert!(
        not_before >= now - time::Duration::minutes(6),
        "{not_before}"
    );
    assert!((not_after - (now + time::Duration::days(10))).abs() < time::Duration::minutes(1));
    Ok(())
}

#[test]
fn cert_pem_and_cert_der_are_the_same_certificate() -> TestResult {
    let ca = Ca::generate("Test fleet CA", DAY)?;
    assert!(ca.cert_pem().starts_with("-----BEGIN CERTIFICATE-----\n"));
    assert_eq!(cert_der(&ca.cert_pem())?, ca.cert_der());
    Ok(())
}

#[test]
fn server_certificate_names_the_hub_and_chains_to_the_ca() -> TestResult {
    let ca = Ca::generate("Test fleet CA", DAY)?;
    let issued = ca.issue_server(&["hub.legatura.test", "localhost"], DAY)?;
    let der = cert_der(&issued.cert_pem)?;
    let cert = parse(&der)?;

    assert_issued_by(&ca, &der)?;
    assert_eq!(cert.subject().to_string(), "CN=hub.legatura.test");
    let san = cert.subject_alternative_name()?.ok_or("no SAN")?.value;
    assert_eq!(
        san.general_names,
        [
            GeneralName::DNSName("hub.legatura.test"),
            GeneralName::DNSName("localhost")
        ]
    );
    let eku = cert.extended_key_usage()?.ok_or("no EKU")?.value;
    assert!(eku.server_auth);
    assert!(!eku.client_auth && !eku.any);
    assert!(!cert.is_ca());

    // The key handed out is the one certified.
    let key = KeyPair::from_pem(&issued.key_pem)?;
    assert_eq!(key.public_key_der(), cert.public_key().raw);
    Ok(())
}

#[test]
fn certificate_from_another_ca_does_not_verify() -> TestResult {
    let ca = Ca::generate("Test fleet CA", DAY)?;
    let other = Ca::generate("Test fleet CA", DAY)?;
    let der = cert_der(&other.issue_server(&["localhost"], DAY)?.cert_pem)?;
    let ca_der = ca.cert_der();
    let ca_cert = parse(&ca_der)?;
    assert!(
        parse(&der)?
            .verify_signature(Some(ca_cert.public_key()))
            .is_err()
    );
    assert!(assert_issued_by(&ca, &der).is_err());
    Ok(())
}

#[test]
fn server_certificate_needs_valid_dns_names() -> TestResult {
    let ca = Ca::generate("Test fleet CA", DAY)?;
    assert!(matches!(
        ca.issue_server(&[], DAY),
        Err(IssueError::NoDnsNames)
    ));
    for bad in ["", "hub legatura", "hüb.legatura.test", "hub..test"] {
        match ca.issue_server(&["localhost", bad], DAY) {
            Err(IssueError::InvalidDnsName(name)) => assert_eq!(name, bad),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    Ok(())
}

#[test]
fn serials_are_random_positive_and_16_bytes() -> TestResult {
    let ca = Ca::generate("Test fleet CA", DAY)?;
    let mut seen = HashSet::new();
    for _ in 0..32 {
        let der = cert_der(&ca.issue_server(&["localhost"], DAY)?.cert_pem)?;
        let serial = parse(&der)?.raw_serial().to_vec();
        assert_eq!(serial.len(), SERIAL_LEN, "{serial:02x?}");
        assert_eq!(serial[0] & 0x80, 0, "negative serial {serial:02x?}");
        assert!(seen.insert(serial), "serial repeated");
    }
    let ca_der = ca.cert_der();
    assert!(seen.insert(parse(&ca_der)?.raw_serial().to_vec()));
    Ok(())
}

#[test]
fn validity_beyond_year_9999_is_refused() -> TestResult {
    assert!(matches!(
        Ca::generate("x", Duration::MAX),
        Err(IssueError::ValidityTooLong)
    ));
    let ca = Ca::generate("x", DAY)?;
    let ten_thousand_years = Duration::from_secs(10_000 * 366 * 24 * 3600);
    assert!(matches!(
        ca.issue_server(&["localhost"], ten_thousand_years),
        Err(IssueError::ValidityTooLong)
    ));
    Ok(())
}

#[test]
fn debug_never_shows_a_private_key() -> TestResult {
    let ca = Ca::generate("Test fleet CA", DAY)?;
    let issued = ca.issue_server(&["localhost"], DAY)?;
    let shown = format!("{issued:?}");
    assert!(shown.contains("<redacted>"));
    assert!(!shown.contains("PRIVATE KEY"));
    assert!(!shown.contains(issued.key_pem.lines().nth(1).ok_or("empty key")?));

    let shown = format!("{ca:?}");
    assert!(shown.contains("Test fleet CA"), "{shown}");
    assert!(
        !shown.contains("serialized_der") && !shown.contains("KeyPair"),
        "{shown}"
    );
    Ok(())
}

#[test]
fn pem_encoding_round_trips_through_a_pem_parser() -> TestResult {
    for len in 0..=200 {
        let der: Vec<u8> = (0..len).map(|i| (i * 37 + len) as u8).collect();
        let pem = pem_encode("CERTIFICATE", &der);
        assert!(pem.lines().all(|line| line.len() <= 64), "{pem}");
        assert_eq!(
            CertificateDer::from_pem_slice(pem.as_bytes())?.as_ref(),
            &der[..]
        );
    }
    Ok(())
}
