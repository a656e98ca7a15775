//! One loaded PKCS#11 module per process, shared by every store and signer that names it.
//!
//! PKCS#11 allows one `C_Initialize` per module and process, and `C_Finalize` ends every session
//! of every user of the module. So the module lives in a process-wide registry (keyed by its
//! canonical path, so two spellings of one library share it), and its state sits behind a
//! `RwLock`. `C_Sign` on an open session runs under the read lock, concurrently; everything else
//! (open and close sessions, log in, find, read attributes, generate) and re-initialisation run
//! under the write lock. So no call is ever in flight while the library is finalised, and session
//! and object management is serialised: SoftHSM2 2.6.1 is not safe with those running
//! concurrently (a `C_Login` racing a `C_GenerateKeyPair` crashed it here, cf. SoftHSMv2 issues
//! #573 and #688; Parsec serialises the same way). Management is rare; signing stays parallel.
//!
//! Each re-initialisation bumps a generation number. A session opened under an older generation
//! is dead and, worse, its handle number may now belong to a new session of someone else; such a
//! session is forgotten, never closed (sessions are opened with cryptoki's `*_no_drop` variants).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};

/// A loaded module. The library stays loaded for the life of the process.
#[derive(Debug)]
pub(super) struct Module {
    path: PathBuf,
    lib: Pkcs11,
    state: RwLock<State>,
}

/// Whether the module is initialised, and which initialisation this is.
#[derive(Debug)]
pub(super) struct State {
    pub(super) initialized: bool,
    pub(super) generation: u64,
}

/// The module, locked: PKCS#11 calls of the kind the lock allows are safe while this lives.
pub(super) struct Ready<'a> {
    pub(super) lib: &'a Pkcs11,
    guard: Guard<'a>,
}

enum Guard<'a> {
    Shared(RwLockReadGuard<'a, State>),
    Exclusive(RwLockWriteGuard<'a, State>),
}

impl Ready<'_> {
    pub(super) fn state(&self) -> &State {
        match &self.guard {
            Guard::Shared(state) => state,
            Guard::Exclusive(state) => state,
        }
    }
}

static MODULES: Mutex<Vec<Arc<Module>>> = Mutex::new(Vec::new());

impl Module {
    /// The registry's module for `path`, loading and initialising it on first use.
    pub(super) fn get(path: &Path) -> Result<Arc<Module>, Error> {
        let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let mut modules = MODULES.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(module) = modules.iter().find(|m| m.path == path) {
            return Ok(module.clone());
        }
        let lib = Pkcs11::new(&path)?;
        let initialized = initialize(&lib).is_ok();
        let state = RwLock::new(State {
            initialized,
            generation: 0,
        });
        let module = Arc::new(Module { path, lib, state });
        modules.push(module.clone());
        Ok(module)
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Access for `C_Sign` on an already open session, shared with other signers.
    pub(super) fn shared(&self) -> Ready<'_> {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        Ready {
            lib: &self.lib,
            guard: Guard::Shared(state),
        }
    }

    /// Access for any other call: sessions, login, objects.
    pub(super) fn exclusive(&self) -> Ready<'_> {
        let state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        Ready {
            lib: &self.lib,
            guard: Guard::Exclusive(state),
        }
    }

    /// `C_Finalize` then `C_Initialize`, unless someone already did so since `seen_generation`
    /// (concurrent signers that saw the same failure re-initialise once, not once each).
    ///
    /// Why this is needed: SoftHSM2 2.6 reads its token directory at `C_Initialize`. When the
    /// token's files disappear it marks the token invalid (signing then fails with
    /// `CKR_OBJECT_HANDLE_INVALID`, `C_GetTokenInfo` with `CKR_GENERAL_ERROR`, and searches find
    /// nothing) and it never re-reads the directory, not even after the files come back: only a
    /// fresh `C_Initialize` sees the token again. A network HSM's client library likewise often
    /// needs re-initialising to reconnect. Re-initialising is cheap for SoftHSM (milliseconds).
    pub(super) fn reinitialize(&self, seen_generation: u64) {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        if state.generation != seen_generation {
            return;
        }
        if state.initialized {
            // An error here means the library already considers itself finalised; either way
            // every session is gone, which is what the generation bump records.
            let _ = self.lib.clone().finalize();
        }
        state.generation += 1;
        state.initialized = match initialize(&self.lib) {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(%error, module = %self.path.display(), "PKCS#11 C_Initialize failed");
                false
            }
        };
        tracing::info!(
            module = %self.path.display(),
            generation = state.generation,
            initialized = state.initialized,
            "PKCS#11 module re-initialised"
        );
    }
}

fn initialize(lib: &Pkcs11) -> Result<(), Error> {
    match lib.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        // Another handle to the same library (a test fixture, or a second path spelling that
        // canonicalize could not merge) initialised it first: the library is usable.
        Err(Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) | Ok(()) => Ok(()),
        Err(error) => Err(error),
    }
}
