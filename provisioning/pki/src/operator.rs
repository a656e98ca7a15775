//! NOC operators: client certificates naming `urn:legatura:operator:<name>`, accepted only by
//! the hub's NOC API (an appliance certificate is not an operator, and the reverse).

use std::time::Duration;

use rcgen::{ExtendedKeyUsagePurpose, Ia5String, SanType};
use rustls_pki_types::pem::PemObject;
use x509_parser::extensions::GeneralName;

use crate::ca::{leaf_params, new_key, window_from_now};
use crate::{Ca, IssueError, Issued};

const PREFIX: &str = "urn:legatura:operator:";

/// Whether `name` is a usable operator name: 1–32 of `[a-z0-9._-]`.
pub fn valid_operator(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

/// The certificate parameters of operator `name`: its URI SAN, `clientAuth`, the usual leaf
/// settings.
fn operator_params(name: &str, validity: Duration) -> Result<rcgen::CertificateParams, IssueError> {
    if !valid_operator(name) {
        return Err(IssueError::InvalidDnsName(name.to_owned()));
    }
    let (not_before, not_after) = window_from_now(validity)?;
    let uri = Ia5String::try_from(format!("{PREFIX}{name}")).map_err(IssueError::Generate)?;
    leaf_params(
        &format!("operator {name}"),
        vec![SanType::URI(uri)],
        ExtendedKeyUsagePurpose::ClientAuth,
        not_before,
        not_after,
    )
}

impl Ca {
    /// A client certificate for NOC operator `name`, with a new key (made where the operator
    /// will use it: on the NOC workstation running this).
    pub fn issue_operator(&self, name: &str, validity: Duration) -> Result<Issued, IssueError> {
        let params = operator_params(name, validity)?;
        let key = new_key()?;
        let cert = params
            .signed_by(&key, &self.issuer, &self.key)
            .map_err(IssueError::Generate)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// A client certificate for NOC operator `name` from the CSR of a key made on the
    /// operator's workstation (operator enrollment). Only the CSR's key is used.
    pub fn sign_operator_csr(
        &self,
        csr_pem: &str,
        name: &str,
        validity: Duration,
    ) -> Result<String, IssueError> {
        let params = operator_params(name, validity)?;
        let csr =
            rustls_pki_types::CertificateSigningRequestDer::from_pem_slice(csr_pem.as_bytes())
                .map_err(IssueError::CsrNotPem)?;
        let public_key = crate::csr::verified_csr_key(&csr)?;
        let cert = params
            .signed_by(&public_key, &self.issuer, &self.key)
            .map_err(IssueError::Generate)?;
        Ok(cert.pem())
    }
}

/// The operator a DER certificate names, if it names exactly one.
pub fn operator_from_cert(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let san = cert.subject_alternative_name().ok()??;
    let mut names = san.value.general_names.iter().filter_map(|n| match n {
        GeneralName::URI(uri) => uri.strip_prefix(PREFIX),
        _ => None,
    });
    let name = names.next()?;
    (names.next().is_none() && valid_operator(name)).then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators_and_appliances_are_told_apart() {
        let ca = Ca::generate("CA", Duration::from_secs(3600)).expect("ca");
        let op = ca
            .issue_operator("alice", Duration::from_secs(3600))
            .expect("operator");
        let der = op.cert_der().expect("der");
        assert_eq!(operator_from_cert(&der).as_deref(), Some("alice"));
        assert!(
            crate::appliance_id_from_cert(&der).is_err(),
            "an operator is not an appliance"
        );
        let fleet = crate::fixture::fleet().expect("fleet");
        let appliance = fleet.appliance("paris", "PAR-01").expect("appliance");
        assert_eq!(
            operator_from_cert(&appliance.cert_der().expect("der")),
            None,
            "an appliance is not an operator"
        );
        assert!(
            ca.issue_operator("Alice Smith", Duration::from_secs(60))
                .is_err()
        );
    }
}
