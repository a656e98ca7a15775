//! A key in the HSM as a [`Signer`]: one logged-in session behind a mutex, reconnected after
//! device or session loss.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use cryptoki::mechanism::Mechanism;
use cryptoki::object::ObjectHandle;
use cryptoki::session::Session;

use super::{Pkcs11Error, Token};
use crate::{KeyRole, SignError, Signer, der};

/// A logged-in session holding the found key, valid for one module generation.
pub(super) struct Live {
    pub(super) session: Session,
    pub(super) key: ObjectHandle,
    pub(super) generation: u64,
}

/// The signer's connection to its key.
pub(super) enum Link {
    Up(Live),
    /// Lost; the next call reconnects.
    Down,
    /// Will not reconnect: retrying could only lock the PIN or sign with a different key.
    Disabled(String),
}

pub(super) struct Pkcs11Signer {
    pub(super) token: Arc<Token>,
    pub(super) object: String,
    pub(super) role: KeyRole,
    pub(super) public_key: Vec<u8>,
    pub(super) link: Mutex<Link>,
}

impl fmt::Debug for Pkcs11Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs11Signer")
            .field("token", &self.token.label)
            .field("object", &self.object)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl Signer for Pkcs11Signer {
    fn role(&self) -> KeyRole {
        self.role
    }

    fn public_key(&self) -> &[u8] {
        &self.public_key
    }

    fn sign(&self, role: KeyRole, message: &[u8]) -> Result<Vec<u8>, SignError> {
        if role != self.role {
            return Err(SignError::WrongRole {
                key: self.role,
                requested: role,
            });
        }
        // SoftHSM2 has no CKM_ECDSA_SHA256: hash here, sign the digest with raw CKM_ECDSA.
        let digest = ring::digest::digest(&ring::digest::SHA256, message);
        let raw = self.sign_digest(digest.as_ref())?;
        der::ecdsa_raw_to_der(&raw).map_err(|e| SignError::Failed(e.to_string()))
    }
}

impl Pkcs11Signer {
    fn sign_digest(&self, digest: &[u8]) -> Result<Vec<u8>, SignError> {
        let mut link = self.link.lock().unwrap_or_else(PoisonError::into_inner);
        // Reconnect, find the session stale (another signer re-initialised the module in
        // between), reconnect, sign: four rounds. Needing more means the module is flapping.
        for _ in 0..4 {
            match &*link {
                Link::Disabled(why) => return Err(SignError::Failed(why.clone())),
                Link::Down => *link = self.reconnect()?,
                Link::Up(live) => {
                    let ready = self.token.module.shared();
                    if live.generation != ready.state().generation {
                        // Someone re-initialised the module: this session is gone and its
                        // handle may be reused, so forget it without closing it.
                        *link = Link::Down;
                        continue;
                    }
                    let result = live.session.sign(&Mechanism::Ecdsa, live.key, digest);
                    drop(ready);
                    return match result.map_err(|e| Pkcs11Error::call("C_Sign", e)) {
                        Ok(raw) => Ok(raw),
                        Err(error) if error.is_unavailable() => {
                            tracing::warn!(
                                %error,
                                token = %self.token.label,
                                object = %self.object,
                                "HSM key lost; will reconnect on the next call"
                            );
                            if let Link::Up(dead) = std::mem::replace(&mut *link, Link::Down) {
                                self.close(dead);
                            }
                            Err(self.unavailable(&error))
                        }
                        Err(error) => Err(SignError::Failed(error.to_string())),
                    };
                }
            }
        }
        Err(SignError::Unavailable(format!(
            "HSM key `{}`: the PKCS#11 module keeps re-initialising",
            self.object
        )))
    }

    /// Opens a new session and finds the key again; the next state of the link, or why not.
    fn reconnect(&self) -> Result<Link, SignError> {
        match self.token.open_live(&self.object, self.role) {
            Ok((live, point)) if point == self.public_key => {
                tracing::info!(token = %self.token.label, object = %self.object, "HSM key reconnected");
                Ok(Link::Up(live))
            }
            Ok((live, _)) => {
                self.close(live);
                let error = Pkcs11Error::KeyChanged {
                    object: self.object.clone(),
                };
                tracing::error!(%error, token = %self.token.label, "HSM signer disabled");
                Ok(Link::Disabled(error.to_string()))
            }
            Err(error) if error.is_unavailable() => Err(self.unavailable(&error)),
            Err(error @ Pkcs11Error::PinRefused { .. }) => {
                tracing::error!(%error, token = %self.token.label, "HSM signer disabled");
                Ok(Link::Disabled(error.to_string()))
            }
            Err(error) => Err(SignError::Failed(error.to_string())),
        }
    }

    fn unavailable(&self, error: &Pkcs11Error) -> SignError {
        SignError::Unavailable(format!(
            "HSM key `{}` on token `{}`: {error}",
            self.object, self.token.label
        ))
    }

    /// Closes `live`'s session unless the module was re-initialised since it was opened (then
    /// the handle is dead and its number may belong to someone else's new session).
    fn close(&self, live: Live) {
        let ready = self.token.module.exclusive();
        if ready.state().generation == live.generation {
            let _ = live.session.close();
        }
    }
}

impl Drop for Pkcs11Signer {
    fn drop(&mut self) {
        let link = self.link.get_mut().unwrap_or_else(PoisonError::into_inner);
        if let Link::Up(live) = std::mem::replace(link, Link::Down) {
            self.close(live);
        }
    }
}
