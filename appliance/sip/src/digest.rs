//! HTTP digest authentication as SIP uses it (RFC 2617 with RFC 8760's SHA-256): the
//! challenge we send, the credentials a client answers with, and their check against a stored
//! HA1 — the registrar never holds a password. Hashes come from the `md-5` and `sha2` crates.

use std::fmt;

use bytes::Bytes;
use ezk_sip_types::header::HeaderParse as _;
use ezk_sip_types::header::typed::{
    Algorithm as EzkAlgorithm, AlgorithmValue, AuthResponse, QopOption, Username,
};
use md5::{Digest as _, Md5};
use sha2::Sha256;

/// A digest algorithm we accept. The `-sess` variants and AKA are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Md5,
    Sha256,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    /// Lower-case hex of the hash of `data`.
    pub fn hash(self, data: &str) -> String {
        match self {
            Algorithm::Md5 => hex::encode(Md5::digest(data.as_bytes())),
            Algorithm::Sha256 => hex::encode(Sha256::digest(data.as_bytes())),
        }
    }
}

/// `H(username:realm:password)`: what the credentials file stores instead of the password.
pub fn ha1(algorithm: Algorithm, username: &str, realm: &str, password: &str) -> String {
    algorithm.hash(&format!("{username}:{realm}:{password}"))
}

/// A `WWW-Authenticate: Digest …` challenge with `qop="auth"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    pub algorithm: Algorithm,
    /// The client used a nonce we no longer accept but its answer was otherwise right.
    pub stale: bool,
}

impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Digest realm=\"{}\", nonce=\"{}\", algorithm={}, qop=\"auth\"",
            self.realm,
            self.nonce,
            self.algorithm.name()
        )?;
        if let Some(opaque) = &self.opaque {
            write!(f, ", opaque=\"{opaque}\"")?;
        }
        if self.stale {
            f.write_str(", stale=true")?;
        }
        Ok(())
    }
}

/// An `Authorization: Digest …` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    pub response: String,
    pub algorithm: Algorithm,
    pub opaque: Option<String>,
    /// `(cnonce, nc)` when the client used `qop=auth`.
    pub qop_auth: Option<(String, u32)>,
}

/// Why an Authorization header is not usable credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialsError {
    #[error("not digest credentials")]
    Malformed,
    #[error("unsupported digest algorithm or qop")]
    Unsupported,
}

impl Credentials {
    pub fn parse(value: &str) -> Result<Credentials, CredentialsError> {
        // The parser slices strings by byte offsets in places; digest values are ASCII, so
        // anything else is refused before it gets there.
        if !value.is_ascii() {
            return Err(CredentialsError::Malformed);
        }
        let src = Bytes::copy_from_slice(value.trim().as_bytes());
        let input = std::str::from_utf8(&src).map_err(|_| CredentialsError::Malformed)?;
        let (rest, parsed) =
            AuthResponse::parse(&src, input).map_err(|_| CredentialsError::Malformed)?;
        if !rest.trim().is_empty() {
            return Err(CredentialsError::Malformed);
        }
        let AuthResponse::Digest(digest) = parsed else {
            return Err(CredentialsError::Malformed);
        };
        let algorithm = match digest.algorithm {
            EzkAlgorithm::AlgorithmValue(AlgorithmValue::MD5) => Algorithm::Md5,
            EzkAlgorithm::AlgorithmValue(AlgorithmValue::SHA256) => Algorithm::Sha256,
            _ => return Err(CredentialsError::Unsupported),
        };
        let username = match digest.username {
            Username::Username(name) => name.to_string(),
            Username::UsernameNonASCII(_) => return Err(CredentialsError::Unsupported),
        };
        if digest.userhash {
            return Err(CredentialsError::Unsupported);
        }
        let qop_auth = match digest.qop_response {
            None => None,
            Some(qop) if qop.qop == QopOption::Auth => Some((qop.cnonce.to_string(), qop.nc)),
            Some(_) => return Err(CredentialsError::Unsupported),
        };
        Ok(Credentials {
            username,
            realm: digest.realm.to_string(),
            nonce: digest.nonce.to_string(),
            uri: digest.uri.to_string(),
            response: digest.response.to_ascii_lowercase(),
            algorithm,
            opaque: digest.opaque.map(|o| o.to_string()),
            qop_auth,
        })
    }

    /// The response a client holding `ha1` computes for `method` (RFC 2617 §3.2.2.1).
    pub fn expected_response(&self, ha1: &str, method: &str) -> String {
        let ha2 = self.algorithm.hash(&format!("{method}:{}", self.uri));
        match &self.qop_auth {
            Some((cnonce, nc)) => self.algorithm.hash(&format!(
                "{ha1}:{}:{nc:08x}:{cnonce}:auth:{ha2}",
                self.nonce
            )),
            None => self.algorithm.hash(&format!("{ha1}:{}:{ha2}", self.nonce)),
        }
    }

    /// Whether the client knows the password behind `ha1`; compared in constant time.
    pub fn verify(&self, ha1: &str, method: &str) -> bool {
        let expected = self.expected_response(ha1, method);
        constant_time_eq(expected.as_bytes(), self.response.as_bytes())
    }

    /// The `Authorization` value a client sends (used by tests and, later, outbound trunks).
    pub fn answer(
        challenge: &Challenge,
        username: &str,
        password: &str,
        method: &str,
        uri: &str,
        cnonce: &str,
        nc: u32,
    ) -> String {
        let mut creds = Credentials {
            username: username.to_owned(),
            realm: challenge.realm.clone(),
            nonce: challenge.nonce.clone(),
            uri: uri.to_owned(),
            response: String::new(),
            algorithm: challenge.algorithm,
            opaque: challenge.opaque.clone(),
            qop_auth: Some((cnonce.to_owned(), nc)),
        };
        let ha1 = ha1(challenge.algorithm, username, &challenge.realm, password);
        creds.response = creds.expected_response(&ha1, method);
        let mut out = format!(
            "Digest username=\"{username}\", realm=\"{}\", nonce=\"{}\", uri=\"{uri}\", \
             response=\"{}\", algorithm={}, qop=auth, cnonce=\"{cnonce}\", nc={nc:08x}",
            creds.realm,
            creds.nonce,
            creds.response,
            creds.algorithm.name()
        );
        if let Some(opaque) = &creds.opaque {
            out.push_str(&format!(", opaque=\"{opaque}\""));
        }
        out
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2617_example_verifies() {
        // RFC 2617 §3.5, with the HTTP method and URI of the example.
        let creds = Credentials::parse(
            "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", \
             nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", qop=auth, \
             nc=00000001, cnonce=\"0a4f113b\", response=\"6629fae49393a05397450978507c4ef1\", \
             opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
        )
        .expect("parses");
        let ha1 = ha1(
            Algorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
        );
        assert!(creds.verify(&ha1, "GET"));
        assert!(!creds.verify(&ha1, "POST"));
        let wrong = super::ha1(
            Algorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "circle of life",
        );
        assert!(!creds.verify(&wrong, "GET"));
    }

    #[test]
    fn answer_round_trips_for_both_algorithms() {
        for algorithm in [Algorithm::Md5, Algorithm::Sha256] {
            let challenge = Challenge {
                realm: "legatura".into(),
                nonce: "abc".into(),
                opaque: None,
                algorithm,
                stale: false,
            };
            let value = Credentials::answer(&challenge, "a1", "pw", "REGISTER", "sip:h", "cn", 1);
            let creds = Credentials::parse(&value).expect("parses");
            assert_eq!(creds.algorithm, algorithm);
            assert!(creds.verify(&ha1(algorithm, "a1", "legatura", "pw"), "REGISTER"));
        }
    }

    #[test]
    fn refuses_what_it_cannot_check() {
        assert_eq!(
            Credentials::parse("Basic dXNlcjpwdw=="),
            Err(CredentialsError::Malformed)
        );
        assert_eq!(
            Credentials::parse(
                "Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"x\", \
                 algorithm=MD5-sess"
            ),
            Err(CredentialsError::Unsupported)
        );
        assert!(Credentials::parse("Digest username=\"é\", algorithm=aaaé-x").is_err());
    }
}
