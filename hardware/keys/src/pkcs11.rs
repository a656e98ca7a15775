//! The PKCS#11 backend: keys in an HSM (SoftHSM2 in tests), reached through cryptoki.
//!
//! A key is a private key object found by `CKA_LABEL`, accepted only if it is a sensitive,
//! non-extractable P-256 signing key whose `CKA_ID` is `legatura:<role>`; its public key object
//! (same label) provides the point, checked by a test signature when the key is opened.
//!
//! Resilience: each signer keeps one logged-in session behind a mutex. An error that means the
//! device, token or session is gone returns [`SignError::Unavailable`] and drops the session; the
//! next call reconnects (find the token, open a session, log in, find and check the key again,
//! and require the same public key), and if the token cannot be found, re-initialises the module
//! once ([`module::Module::reinitialize`]) and tries again. A reconnect that finds a different
//! key, or a PIN that stopped working, disables the signer for good rather than retrying (retries
//! would only lock the PIN). No path panics.

mod connect;
mod module;
mod signer;

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use cryptoki::error::{Error, RvError};
use cryptoki::session::Session;
use cryptoki::types::AuthPin;

use self::module::{Module, Ready};
use self::signer::{Link, Live, Pkcs11Signer};
use crate::keyref::{PinError, PinSource, Pkcs11Ref};
use crate::{KeyRole, Signer};

/// Why a PKCS#11 store or key could not be opened or created.
#[derive(Debug, thiserror::Error)]
pub enum Pkcs11Error {
    #[error("cannot load PKCS#11 module {path}: {reason}")]
    Module { path: String, reason: String },
    #[error("cannot read the token PIN")]
    Pin(#[from] PinError),
    #[error("PKCS#11 device, token or session unavailable ({call}: {reason})")]
    Device { call: &'static str, reason: String },
    #[error("PKCS#11 {call} failed: {reason}")]
    Call { call: &'static str, reason: String },
    #[error("the token PIN was refused ({reason}); not retrying, to avoid locking the PIN")]
    PinRefused { reason: String },
    #[error("no token labelled `{token}` is present")]
    TokenNotFound { token: String },
    #[error("no private key labelled `{object}` on the token")]
    KeyNotFound { object: String },
    #[error("no public key object labelled `{object}` with a P-256 point on the token")]
    PublicKeyMissing { object: String },
    #[error("{count} objects of one class are labelled `{object}`; labels must be unique")]
    Ambiguous { object: String, count: usize },
    #[error("key `{object}` refused: {reason}")]
    KeyRejected {
        object: String,
        reason: &'static str,
    },
    #[error("key `{object}` is bound to role {bound}, not {requested}")]
    WrongRole {
        object: String,
        bound: KeyRole,
        requested: KeyRole,
    },
    #[error("key `{object}` is not bound to a Legătura role (CKA_ID is not `legatura:<role>`)")]
    Unbound { object: String },
    #[error("the public key object `{object}` does not match its private key")]
    PairingFailed { object: String },
    #[error("key `{object}` is no longer the key this signer was opened with; refusing it")]
    KeyChanged { object: String },
    #[error("an object labelled `{object}` already exists on the token; refusing to add another")]
    AlreadyExists { object: String },
}

impl Pkcs11Error {
    fn device(call: &'static str, reason: impl Into<String>) -> Self {
        Pkcs11Error::Device {
            call,
            reason: reason.into(),
        }
    }

    /// Classifies a cryptoki error: loss of device, token or session is `Device` (retry later);
    /// a refused PIN is `PinRefused` (never retried); anything else is `Call`.
    fn call(call: &'static str, error: Error) -> Self {
        use RvError as R;
        let reason = error.to_string();
        match error {
            Error::Pkcs11(
                R::SessionHandleInvalid
                | R::SessionClosed
                | R::SessionCount
                | R::DeviceRemoved
                | R::DeviceError
                | R::DeviceMemory
                | R::TokenNotPresent
                | R::TokenNotRecognized
                | R::UserNotLoggedIn
                | R::CryptokiNotInitialized
                | R::SlotIdInvalid
                // A handle that was valid when found vanishes when the token's storage does
                // (SoftHSM2 reports a removed token this way).
                | R::ObjectHandleInvalid
                | R::KeyHandleInvalid
                | R::GeneralError
                | R::FunctionFailed,
                _,
            ) => Pkcs11Error::Device { call, reason },
            Error::Pkcs11(R::PinIncorrect | R::PinLocked | R::PinExpired | R::PinInvalid, _) => {
                Pkcs11Error::PinRefused { reason }
            }
            _ => Pkcs11Error::Call { call, reason },
        }
    }

    /// Whether the backend may work again later without anyone changing anything.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Pkcs11Error::Device { .. }
                | Pkcs11Error::TokenNotFound { .. }
                | Pkcs11Error::KeyNotFound { .. }
                | Pkcs11Error::PublicKeyMissing { .. }
        )
    }
}

/// The user PIN and token of a store, shared with its signers for logging in again.
struct Token {
    module: Arc<Module>,
    label: String,
    pin: AuthPin,
}

impl Token {
    /// Runs `f` with exclusive use of the module; when that fails as unavailable,
    /// re-initialises the module once and runs `f` again.
    fn retrying<T>(
        &self,
        f: impl Fn(&Ready<'_>) -> Result<T, Pkcs11Error>,
    ) -> Result<T, Pkcs11Error> {
        let generation = {
            let ready = self.module.exclusive();
            match f(&ready) {
                Err(error) if error.is_unavailable() => ready.state().generation,
                done => return done,
            }
        };
        self.module.reinitialize(generation);
        f(&self.module.exclusive())
    }

    /// Runs `f` on a fresh logged-in session, closed afterwards.
    fn with_session<T>(
        &self,
        f: impl Fn(&Session) -> Result<T, Pkcs11Error>,
    ) -> Result<T, Pkcs11Error> {
        self.retrying(|ready| {
            let session = connect::login(ready, &self.label, &self.pin)?;
            let result = f(&session);
            let _ = session.close();
            result
        })
    }

    /// A logged-in session kept open, with the checked key labelled `object` for `role`.
    fn open_live(&self, object: &str, role: KeyRole) -> Result<(Live, Vec<u8>), Pkcs11Error> {
        self.retrying(|ready| {
            let session = connect::login(ready, &self.label, &self.pin)?;
            match connect::find_key(&session, object, role) {
                Ok((key, point)) => Ok((
                    Live {
                        session,
                        key,
                        generation: ready.state().generation,
                    },
                    point,
                )),
                Err(error) => {
                    let _ = session.close();
                    Err(error)
                }
            }
        })
    }
}

/// A PKCS#11 token holding Legătura keys.
#[derive(Clone)]
pub struct Pkcs11Store {
    token: Arc<Token>,
}

impl fmt::Debug for Pkcs11Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs11Store")
            .field("module", &self.token.module.path())
            .field("token", &self.token.label)
            .finish_non_exhaustive()
    }
}

impl Pkcs11Store {
    /// Loads `module` (once per process), finds the token labelled `token` and checks that
    /// the user PIN from `pin` logs in.
    pub fn open(
        module: impl AsRef<Path>,
        token: &str,
        pin: &PinSource,
    ) -> Result<Self, Pkcs11Error> {
        let path = module.as_ref();
        let module = Module::get(path).map_err(|e| Pkcs11Error::Module {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let pin = AuthPin::from(pin.read()?.as_str());
        let token = Arc::new(Token {
            module,
            label: token.to_owned(),
            pin,
        });
        token.with_session(|_| Ok(()))?;
        Ok(Self { token })
    }

    /// [`Pkcs11Store::open`] with the module, token and PIN source of a key reference.
    pub fn from_ref(key: &Pkcs11Ref) -> Result<Self, Pkcs11Error> {
        Self::open(&key.module, &key.token, &key.pin)
    }

    /// The object label used for `role` when none is configured: `legatura-<role>`.
    pub fn default_label(role: KeyRole) -> String {
        format!("legatura-{role}")
    }

    /// Generates a key for `role` labelled [`Pkcs11Store::default_label`].
    pub fn generate(&self, role: KeyRole) -> Result<Arc<dyn Signer>, Pkcs11Error> {
        self.generate_labeled(role, &Self::default_label(role))
    }

    /// Generates a P-256 key pair on the token (token objects; private key sensitive,
    /// non-extractable, not modifiable, `CKA_ID = legatura:<role>`) and returns its signer.
    /// Refuses a label that is already in use.
    pub fn generate_labeled(
        &self,
        role: KeyRole,
        object: &str,
    ) -> Result<Arc<dyn Signer>, Pkcs11Error> {
        self.token
            .with_session(|session| connect::generate(session, object, role))?;
        self.signer_labeled(object, role)
    }

    /// The signer of the key labelled [`Pkcs11Store::default_label`] for `role`.
    pub fn signer(&self, role: KeyRole) -> Result<Arc<dyn Signer>, Pkcs11Error> {
        self.signer_labeled(&Self::default_label(role), role)
    }

    /// The signer of the private key labelled `object`, which must be bound to `role`.
    pub fn signer_labeled(
        &self,
        object: &str,
        role: KeyRole,
    ) -> Result<Arc<dyn Signer>, Pkcs11Error> {
        let (live, public_key) = self.token.open_live(object, role)?;
        Ok(Arc::new(Pkcs11Signer {
            token: self.token.clone(),
            object: object.to_owned(),
            role,
            public_key,
            link: Mutex::new(Link::Up(live)),
        }))
    }
}

#[cfg(test)]
mod tests;
