//! The two key backends measured: a fleet-issuing key generated in a throwaway SoftHSM2 token,
//! and one generated in a throwaway software key store.
//!
//! The token is set up the way the `keys` crate's own tests set theirs up: `SOFTHSM2_CONF`
//! points at a private configuration and token directory before the module is loaded, a token
//! is initialised there with a SO PIN and a user PIN, and the store reads the user PIN from a
//! mode-0600 file (`pin-source`), never from configuration.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use keys::{DEFAULT_PKCS11_MODULE, KeyRole, PinSource, Pkcs11Store, Signer, SoftwareStore};

use crate::progress;

/// Set in the re-executed child: the directory holding its SoftHSM2 configuration and tokens.
const DIR_ENV: &str = "PKI_BENCH_SOFTHSM_DIR";
const TOKEN: &str = "pki-bench";
// Throwaway PINs of a token that lives as long as one run, in a private temp directory.
const SO_PIN: &str = "so-pin-bench-8421";
const USER_PIN: &str = "user-pin-bench-1357";

/// Whether this process is the re-executed child that runs the benchmark.
pub(crate) fn in_child() -> bool {
    std::env::var_os(DIR_ENV).is_some()
}

/// Writes a SoftHSM2 configuration with its own token directory in a fresh temp directory and
/// runs this program again with `SOFTHSM2_CONF` pointing at it; returns the child's exit code.
/// The directory (and the token in it) is removed when the child has finished.
pub(crate) fn reexec(args: &[String]) -> Result<ExitCode> {
    if !Path::new(DEFAULT_PKCS11_MODULE).exists() {
        bail!("{DEFAULT_PKCS11_MODULE} is missing: install softhsm2 (cargo xtask deps)");
    }
    let dir = tempfile::Builder::new()
        .prefix("pki-bench-softhsm-")
        .tempdir()
        .context("creating the SoftHSM2 directory")?;
    let tokens = dir.path().join("tokens");
    std::fs::create_dir(&tokens).with_context(|| format!("creating {}", tokens.display()))?;
    let conf = dir.path().join("softhsm2.conf");
    let text = format!(
        "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
        tokens.display()
    );
    std::fs::write(&conf, text).with_context(|| format!("writing {}", conf.display()))?;
    let exe = std::env::current_exe().context("finding this program")?;
    let status = Command::new(&exe)
        .args(args)
        .env("SOFTHSM2_CONF", &conf)
        .env(DIR_ENV, dir.path())
        .status()
        .with_context(|| format!("running {}", exe.display()))?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => {
            progress!("the benchmark process was killed ({status})");
            ExitCode::FAILURE
        }
    })
}

/// The fleet-issuing key in each backend, and where the software store lives.
#[derive(Debug)]
pub(crate) struct Backends {
    pub(crate) hsm: Arc<dyn Signer>,
    pub(crate) software: Arc<dyn Signer>,
    _software_dir: tempfile::TempDir,
}

impl Backends {
    /// Initialises the token, opens it with the user PIN from a file, and generates the
    /// fleet-issuing key there with [`Pkcs11Store::generate`]; generates the same role's key in
    /// a fresh [`SoftwareStore`].
    pub(crate) fn create() -> Result<Self> {
        let dir = PathBuf::from(std::env::var_os(DIR_ENV).unwrap_or_default());
        init_token()?;
        let pin_file = dir.join("user.pin");
        write_private(&pin_file, USER_PIN.as_bytes())?;
        let store = Pkcs11Store::open(DEFAULT_PKCS11_MODULE, TOKEN, &PinSource::File(pin_file))
            .context("opening the SoftHSM2 token")?;
        let hsm = store
            .generate(KeyRole::FleetIssuing)
            .context("generating the fleet-issuing key in SoftHSM2")?;
        progress!("fleet-issuing key generated in SoftHSM2 token `{TOKEN}`");

        let software_dir = tempfile::Builder::new()
            .prefix("pki-bench-keystore-")
            .tempdir()
            .context("creating the key store directory")?;
        let software = SoftwareStore::open(software_dir.path())
            .context("opening the software key store")?
            .generate(KeyRole::FleetIssuing)
            .context("generating the fleet-issuing key in the software key store")?;
        Ok(Self {
            hsm,
            software,
            _software_dir: software_dir,
        })
    }
}

/// `softhsm2-util --init-token --free`: a token in the first free slot, with both PINs set.
/// (The `keys` tests do the same through cryptoki, which only `keys` may depend on.)
fn init_token() -> Result<()> {
    let out = Command::new("softhsm2-util")
        .args(["--init-token", "--free", "--label", TOKEN])
        .args(["--so-pin", SO_PIN, "--pin", USER_PIN])
        .output()
        .context("running softhsm2-util: install softhsm2 (cargo xtask deps)")?;
    if !out.status.success() {
        bail!(
            "softhsm2-util --init-token failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Creates `path` with mode 0600 from the start: the store refuses a PIN file others can read.
fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents)
        .with_context(|| format!("writing {}", path.display()))
}
