//! Finding the daemon binaries, and checking the capabilities namespaces need. Both fail the
//! test loudly, saying what is missing and how to fix it: a system test never passes by
//! skipping.

use std::path::PathBuf;
use std::process::Command;

/// A binary of the workspace: the two daemons and the operator CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bin {
    Hubd,
    Gatewayd,
    /// The operator CLI: `legatura ca init`, `legatura fleet …`, `legatura audit verify`.
    Legatura,
}

impl Bin {
    /// The binary's file name.
    pub fn name(self) -> &'static str {
        match self {
            Bin::Hubd => "hubd",
            Bin::Gatewayd => "gatewayd",
            Bin::Legatura => "legatura",
        }
    }
}

/// Where the binaries are: `$LEGATURA_BIN_DIR` (set by `cargo xtask test`), else
/// `$CARGO_TARGET_DIR/debug`, else `<workspace>/target/debug`.
fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("LEGATURA_BIN_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    match std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => workspace.join(dir).join("debug"),
        None => workspace.join("target/debug"),
    }
}

/// The path of `bin`.
///
/// # Panics
///
/// When the binary is missing, with a message naming it and the command that builds it.
pub fn bin_path(bin: Bin) -> PathBuf {
    let path = bin_dir().join(bin.name());
    assert!(
        path.is_file(),
        "system test needs the `{name}` binary, but {path} does not exist. Build every binary with \
         `cargo build --workspace --bins` (note: a plain `cargo build --bins` at the top level \
         builds only the default member, the `legatura` CLI, and `cargo build -p hubd -p gatewayd` \
         misses the CLI), or run `cargo xtask test`, which builds every binary and sets \
         LEGATURA_BIN_DIR.",
        name = bin.name(),
        path = path.display(),
    );
    path
}

/// Checks that this process can create network namespaces: it runs as root and `ip netns`
/// works.
///
/// # Panics
///
/// When either is missing, naming it.
pub fn require_namespaces() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "system tests create network namespaces, veth pairs and a bridge, which needs root \
         (CAP_SYS_ADMIN and CAP_NET_ADMIN); run them as root, e.g. in the CI container"
    );
    let listed = Command::new("ip").args(["netns", "list"]).output();
    match listed {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!(
            "system tests need `ip netns`, but `ip netns list` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(error) => panic!(
            "system tests need the `ip` command from iproute2 (apt-get install iproute2): {error}"
        ),
    }
}
