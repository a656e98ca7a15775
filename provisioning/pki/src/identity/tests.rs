use rcgen::{CertificateParams, Ia5String, SanType};

use super::*;
use crate::ca::new_key;
use crate::test_util::TestResult;

/// A self-signed certificate with these SANs: only the name is read, so no CA is needed.
fn cert_with_sans(sans: &[&str]) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let mut params = CertificateParams::default();
    for san in sans {
        params.subject_alt_names.push(match san.split_once(':') {
            Some(("dns", name)) => SanType::DnsName(Ia5String::try_from(name)?),
            _ => SanType::URI(Ia5String::try_from(*san)?),
        });
    }
    Ok(params.self_signed(&new_key()?)?.der().to_vec())
}

#[test]
fn reads_the_one_identity_uri_among_other_names() -> TestResult {
    let der = cert_with_sans(&[
        "dns:par-01.legatura.test",
        "https://example.org/not-an-identity",
        "urn:legatura:appliance:paris:PAR-01",
        "urn:legatura:operator:noc:alice",
    ])?;
    let id = appliance_id_from_cert(&der)?;
    assert_eq!((id.mission(), id.appliance()), ("paris", "PAR-01"));
    Ok(())
}

#[test]
fn a_certificate_without_an_identity_uri_is_refused() -> TestResult {
    for sans in [
        &[][..],
        &["dns:hub.legatura.test"][..],
        &["urn:legatura:operator:noc:alice"][..],
    ] {
        let result = appliance_id_from_cert(&cert_with_sans(sans)?);
        assert!(
            matches!(result, Err(IdentityError::Missing)),
            "{sans:?}: {result:?}"
        );
    }
    Ok(())
}

#[test]
fn a_certificate_with_two_identity_uris_is_refused() -> TestResult {
    for second in [
        "urn:legatura:appliance:rome:ROM-01",
        "urn:legatura:appliance:paris:PAR-01",
        "URN:Legatura:Appliance:rome:ROM-01",
        "urn:legatura:appliance:bad",
    ] {
        let der = cert_with_sans(&["urn:legatura:appliance:paris:PAR-01", second])?;
        let result = appliance_id_from_cert(&der);
        assert!(
            matches!(result, Err(IdentityError::Ambiguous(2))),
            "{second}: {result:?}"
        );
    }
    Ok(())
}

#[test]
fn a_malformed_identity_uri_is_refused() -> TestResult {
    for uri in [
        "urn:legatura:appliance:paris",
        "urn:legatura:appliance:paris:PAR:01",
        "URN:LEGATURA:APPLIANCE:paris:PAR-01",
    ] {
        let result = appliance_id_from_cert(&cert_with_sans(&[uri])?);
        assert!(
            matches!(result, Err(IdentityError::Invalid(_))),
            "{uri}: {result:?}"
        );
    }
    Ok(())
}

#[test]
fn bytes_that_are_not_exactly_one_certificate_are_refused() -> TestResult {
    let mut der = cert_with_sans(&["urn:legatura:appliance:paris:PAR-01"])?;
    assert!(appliance_id_from_cert(&der).is_ok());

    let truncated = appliance_id_from_cert(&der[..der.len() - 1]);
    assert!(
        matches!(truncated, Err(IdentityError::Malformed(_))),
        "{truncated:?}"
    );
    assert!(matches!(
        appliance_id_from_cert(b""),
        Err(IdentityError::Malformed(_))
    ));
    assert!(matches!(
        appliance_id_from_cert(b"garbage"),
        Err(IdentityError::Malformed(_))
    ));

    der.push(0);
    let trailing = appliance_id_from_cert(&der);
    assert!(
        matches!(trailing, Err(IdentityError::TrailingData(1))),
        "{trailing:?}"
    );
    Ok(())
}

#[test]
fn an_identity_in_a_second_san_extension_is_not_overlooked() -> TestResult {
    const SUBJECT_ALT_NAME: &[u64] = &[2, 5, 29, 17];
    let uri = b"urn:legatura:appliance:rome:ROM-01";
    let mut content = vec![0x30, uri.len() as u8 + 2, 0x86, uri.len() as u8];
    content.extend_from_slice(uri);

    let mut params = CertificateParams::default();
    params.subject_alt_names = vec![SanType::URI(Ia5String::try_from(
        "urn:legatura:appliance:paris:PAR-01",
    )?)];
    params
        .custom_extensions
        .push(rcgen::CustomExtension::from_oid_content(
            SUBJECT_ALT_NAME,
            content,
        ));
    let der = params.self_signed(&new_key()?)?.der().to_vec();
    let result = appliance_id_from_cert(&der);
    assert!(
        matches!(result, Err(IdentityError::Malformed(_))),
        "{result:?}"
    );
    Ok(())
}
