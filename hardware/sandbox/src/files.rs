//! The landlock ruleset: every file-system access right the kernel knows (up to
//! [`TARGET_ABI`]) is handled, so whatever is not granted beneath a listed path is refused;
//! read-only paths get reading, read-write paths everything but executing (unless asked).
//! Signals to other processes and abstract UNIX sockets outside the sandbox are scoped too.
//!
//! Rules name inodes, opened when the ruleset is built: a path must exist then, and a file
//! replaced later by another (a rename over it) is not covered, so files that get replaced are
//! granted through their directory.

#![allow(unsafe_code)]

use std::io;
use std::path::{Path, PathBuf};

use landlock::{
    ABI, Access, AccessFs, BitFlags, CompatLevel, Compatible, PathBeneath, PathFd, Ruleset,
    RulesetAttr, RulesetCreated, RulesetCreatedAttr, Scope,
};

use crate::SandboxError;

/// The landlock ABI this code was written and tested against (Linux 6.15). A newer kernel is
/// used at this level; an older one enforces what it can, and the report says "partially".
pub(crate) const TARGET_ABI: ABI = ABI::V7;

/// The landlock ABI the running kernel offers, or why it offers none.
pub(crate) fn kernel_abi() -> Result<u8, String> {
    // SAFETY: landlock_create_ruleset(2) with a null attribute, size 0 and the VERSION flag
    // only reads no memory and returns the ABI version.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            1u32, // LANDLOCK_CREATE_RULESET_VERSION
        )
    };
    if rc > 0 {
        return Ok(u8::try_from(rc).unwrap_or(u8::MAX));
    }
    let error = io::Error::last_os_error();
    Err(match error.raw_os_error() {
        Some(libc::ENOSYS) => {
            "this kernel is built without landlock (CONFIG_SECURITY_LANDLOCK)".into()
        }
        Some(libc::EOPNOTSUPP) => {
            "landlock is built in but not enabled (add `landlock` to the `lsm=` boot parameter)"
                .into()
        }
        _ => format!("landlock_create_ruleset failed: {error}"),
    })
}

/// What the ruleset grants.
#[derive(Debug, Default, Clone)]
pub(crate) struct Grants {
    pub read_only: Vec<PathBuf>,
    pub read_write: Vec<PathBuf>,
    pub allow_exec: bool,
    /// Leave abstract UNIX sockets unscoped (systemd's notify socket may be one).
    pub abstract_unix: bool,
}

/// Builds the ruleset (not yet enforced on any thread).
pub(crate) fn ruleset(grants: &Grants) -> Result<RulesetCreated, SandboxError> {
    let all = AccessFs::from_all(TARGET_ABI);
    let exec: BitFlags<AccessFs> = if grants.allow_exec {
        AccessFs::Execute.into()
    } else {
        BitFlags::EMPTY
    };
    let read = AccessFs::ReadFile | AccessFs::ReadDir | exec;
    let write = (all & !AccessFs::Execute) | exec;
    let mut scopes = Scope::from_all(TARGET_ABI);
    if grants.abstract_unix {
        scopes.remove(Scope::AbstractUnixSocket);
    }
    let mut created = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(all)
        .and_then(|r| r.scope(scopes))
        .and_then(|r| r.create())
        .map_err(SandboxError::Landlock)?;
    for (paths, access) in [(&grants.read_only, read), (&grants.read_write, write)] {
        for path in paths {
            created = created
                .add_rule(rule(path, access)?)
                .map_err(SandboxError::Landlock)?;
        }
    }
    Ok(created)
}

fn rule(path: &Path, access: BitFlags<AccessFs>) -> Result<PathBeneath<PathFd>, SandboxError> {
    let missing = |source| SandboxError::Path {
        path: path.to_owned(),
        source,
    };
    let is_dir = std::fs::metadata(path).map_err(missing)?.is_dir();
    let fd = PathFd::new(path).map_err(|e| missing(io::Error::other(e.to_string())))?;
    let access = if is_dir {
        access
    } else {
        access & AccessFs::from_file(TARGET_ABI)
    };
    Ok(PathBeneath::new(fd, access))
}

/// What glibc's resolver reads to turn a host name into addresses: its configuration files and
/// the NSS modules `nsswitch.conf` may load. Only those that exist. A `resolv.conf` that
/// systemd-resolved or a DHCP client replaces is granted through its real directory, unless
/// that directory is `/etc` itself.
pub fn resolver_paths() -> Vec<PathBuf> {
    let mut paths = Vec::new();
    for file in [
        "/etc/resolv.conf",
        "/etc/hosts",
        "/etc/nsswitch.conf",
        "/etc/host.conf",
        "/etc/gai.conf",
    ] {
        let Ok(real) = std::fs::canonicalize(file) else {
            continue;
        };
        match real.parent() {
            Some(dir) if file == "/etc/resolv.conf" && dir != Path::new("/etc") => {
                paths.push(dir.to_owned())
            }
            _ => paths.push(real),
        }
    }
    let multiarch = format!("{}-linux-gnu", std::env::consts::ARCH);
    for dir in ["/lib", "/usr/lib"] {
        let Ok(entries) = std::fs::read_dir(Path::new(dir).join(&multiarch)) else {
            continue;
        };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with("libnss_") {
                paths.push(std::fs::canonicalize(entry.path()).unwrap_or(entry.path()));
            }
        }
    }
    paths.sort();
    paths.dedup();
    paths
}
