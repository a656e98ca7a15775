//! Opening a logged-in session on a token and finding, checking and creating key objects.
//! Everything here runs under [`Module::exclusive`](super::module::Module::exclusive).

use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use ring::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};

use super::Pkcs11Error;
use super::module::Ready;
use crate::KeyRole;
use crate::der;

/// DER of the named-curve OID prime256v1 (1.2.840.10045.3.1.7), as `CKA_EC_PARAMS` holds it.
pub(super) const P256_PARAMS: [u8; 10] =
    [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// `CKA_ID` of a Legătura key is this prefix followed by [`KeyRole::name`].
const ROLE_ID_PREFIX: &[u8] = b"legatura:";

pub(super) fn role_id(role: KeyRole) -> Vec<u8> {
    [ROLE_ID_PREFIX, role.name().as_bytes()].concat()
}

/// A logged-in session on the token labelled `token`. Closed explicitly by its owner.
pub(super) fn login(ready: &Ready<'_>, token: &str, pin: &AuthPin) -> Result<Session, Pkcs11Error> {
    if !ready.state().initialized {
        return Err(Pkcs11Error::device(
            "C_Initialize",
            "the module is not initialised",
        ));
    }
    let lib = ready.lib;
    let slots = lib
        .get_slots_with_token()
        .map_err(|e| Pkcs11Error::call("C_GetSlotList", e))?;
    // A token being removed answers C_GetTokenInfo with an error: it is simply not this token.
    let slot = slots
        .into_iter()
        .find(|&slot| {
            lib.get_token_info(slot)
                .is_ok_and(|info| info.label() == token)
        })
        .ok_or_else(|| Pkcs11Error::TokenNotFound {
            token: token.to_owned(),
        })?;
    let session = lib
        .open_rw_session_no_drop(slot)
        .map_err(|e| Pkcs11Error::call("C_OpenSession", e))?;
    match session.login(UserType::User, Some(pin)) {
        // Login state is per application and token: another session already logged in.
        Ok(()) | Err(Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(session),
        Err(e) => {
            let _ = session.close();
            Err(Pkcs11Error::call("C_Login", e))
        }
    }
}

/// The private key labelled `object`, checked and bound to `role`, and its public point.
pub(super) fn find_key(
    session: &Session,
    object: &str,
    role: KeyRole,
) -> Result<(ObjectHandle, Vec<u8>), Pkcs11Error> {
    let key = find_one(session, ObjectClass::PRIVATE_KEY, object)?.ok_or_else(|| {
        Pkcs11Error::KeyNotFound {
            object: object.to_owned(),
        }
    })?;
    check_private_key(session, key, object, role)?;
    let public = find_one(session, ObjectClass::PUBLIC_KEY, object)?.ok_or_else(|| {
        Pkcs11Error::PublicKeyMissing {
            object: object.to_owned(),
        }
    })?;
    let attrs = session
        .get_attributes(public, &[AttributeType::EcPoint])
        .map_err(|e| Pkcs11Error::call("C_GetAttributeValue", e))?;
    let point = attrs
        .into_iter()
        .find_map(|a| match a {
            Attribute::EcPoint(v) => Some(v),
            _ => None,
        })
        .ok_or_else(|| Pkcs11Error::PublicKeyMissing {
            object: object.to_owned(),
        })?;
    let point = der::p256_point_from_ec_point(&point)
        .map_err(|_| Pkcs11Error::KeyRejected {
            object: object.to_owned(),
            reason: "bad CKA_EC_POINT",
        })?
        .to_vec();
    pairing_check(session, key, &point, object)?;
    Ok((key, point))
}

fn find_one(
    session: &Session,
    class: ObjectClass,
    object: &str,
) -> Result<Option<ObjectHandle>, Pkcs11Error> {
    let template = [
        Attribute::Class(class),
        Attribute::Label(object.as_bytes().to_vec()),
    ];
    let found = session
        .find_objects(&template)
        .map_err(|e| Pkcs11Error::call("C_FindObjects", e))?;
    match found[..] {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        _ => Err(Pkcs11Error::Ambiguous {
            object: object.to_owned(),
            count: found.len(),
        }),
    }
}

/// Refuses anything but a sensitive, non-extractable P-256 signing key bound to `role`.
fn check_private_key(
    session: &Session,
    key: ObjectHandle,
    object: &str,
    role: KeyRole,
) -> Result<(), Pkcs11Error> {
    use AttributeType as T;
    let wanted = [
        T::KeyType,
        T::EcParams,
        T::Sign,
        T::Extractable,
        T::Sensitive,
        T::Id,
    ];
    let attrs = session
        .get_attributes(key, &wanted)
        .map_err(|e| Pkcs11Error::call("C_GetAttributeValue", e))?;
    let (mut ec, mut p256, mut sign, mut extractable, mut sensitive, mut id) =
        (false, false, false, true, false, None);
    for attr in attrs {
        match attr {
            Attribute::KeyType(t) => ec = t == KeyType::EC,
            Attribute::EcParams(p) => p256 = p == P256_PARAMS,
            Attribute::Sign(b) => sign = b,
            Attribute::Extractable(b) => extractable = b,
            Attribute::Sensitive(b) => sensitive = b,
            Attribute::Id(v) => id = Some(v),
            _ => {}
        }
    }
    let reject = |reason| {
        Err(Pkcs11Error::KeyRejected {
            object: object.to_owned(),
            reason,
        })
    };
    if !ec {
        return reject("not an EC key");
    }
    if !p256 {
        return reject("not a P-256 key (CKA_EC_PARAMS is not prime256v1)");
    }
    if !sign {
        return reject("CKA_SIGN is not set");
    }
    if extractable || !sensitive {
        return reject(
            "the key is extractable or not sensitive; private keys never leave the backend",
        );
    }
    let bound = id
        .as_deref()
        .and_then(|id| id.strip_prefix(ROLE_ID_PREFIX))
        .and_then(|name| std::str::from_utf8(name).ok())
        .and_then(KeyRole::from_name)
        .ok_or_else(|| Pkcs11Error::Unbound {
            object: object.to_owned(),
        })?;
    if bound != role {
        return Err(Pkcs11Error::WrongRole {
            object: object.to_owned(),
            bound,
            requested: role,
        });
    }
    Ok(())
}

/// Signs a fixed digest and verifies it against the public object, so a public key object that
/// does not belong to the private key is caught before its point is handed out.
fn pairing_check(
    session: &Session,
    key: ObjectHandle,
    point: &[u8],
    object: &str,
) -> Result<(), Pkcs11Error> {
    const PROBE: &[u8] = b"legatura keys: private/public pairing check";
    let digest = ring::digest::digest(&ring::digest::SHA256, PROBE);
    let raw = session
        .sign(&Mechanism::Ecdsa, key, digest.as_ref())
        .map_err(|e| Pkcs11Error::call("C_Sign", e))?;
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
        .verify(PROBE, &raw)
        .map_err(|_| Pkcs11Error::PairingFailed {
            object: object.to_owned(),
        })
}

/// Creates a non-extractable P-256 key pair labelled `object`, bound to `role`, on the token.
pub(super) fn generate(session: &Session, object: &str, role: KeyRole) -> Result<(), Pkcs11Error> {
    for class in [ObjectClass::PRIVATE_KEY, ObjectClass::PUBLIC_KEY] {
        if find_one(session, class, object)?.is_some() {
            return Err(Pkcs11Error::AlreadyExists {
                object: object.to_owned(),
            });
        }
    }
    let label = Attribute::Label(object.as_bytes().to_vec());
    let id = Attribute::Id(role_id(role));
    let public = [
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Verify(true),
        Attribute::EcParams(P256_PARAMS.to_vec()),
        label.clone(),
        id.clone(),
    ];
    let private = [
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
        Attribute::Derive(false),
        // The role binding (CKA_ID) and the label cannot be edited or copied away afterwards.
        Attribute::Modifiable(false),
        Attribute::Copyable(false),
        label,
        id,
    ];
    session
        .generate_key_pair(&Mechanism::EccKeyPairGen, &public, &private)
        .map_err(|e| Pkcs11Error::call("C_GenerateKeyPair", e))?;
    Ok(())
}
