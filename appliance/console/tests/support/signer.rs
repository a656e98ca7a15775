//! An in-memory P-256 key with the audit-checkpoint role, so each test opens its own audit log.

use std::sync::Arc;

use keys::{KeyRole, SignError, Signer};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _};

#[derive(Debug)]
pub(crate) struct TestSigner {
    pair: EcdsaKeyPair,
}

impl TestSigner {
    pub(crate) fn new() -> Arc<Self> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        Arc::new(Self { pair })
    }
}

impl Signer for TestSigner {
    fn role(&self) -> KeyRole {
        KeyRole::AuditCheckpoint
    }

    fn public_key(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    fn sign(&self, role: KeyRole, message: &[u8]) -> Result<Vec<u8>, SignError> {
        if role != KeyRole::AuditCheckpoint {
            return Err(SignError::WrongRole {
                key: KeyRole::AuditCheckpoint,
                requested: role,
            });
        }
        let sig = self
            .pair
            .sign(&SystemRandom::new(), message)
            .map_err(|e| SignError::Failed(e.to_string()))?;
        Ok(sig.as_ref().to_vec())
    }
}
