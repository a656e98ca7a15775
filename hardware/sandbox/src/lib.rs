//! The daemons' confinement from the inside, applied once start-up is done (configuration
//! read, keys loaded, listeners bound): landlock limits the file system to the paths the
//! daemon still needs, a seccomp allow-list limits system calls, and every capability is
//! dropped, on every thread of the process.
//!
//! ```text
//! let report = Sandbox::builder()
//!     .read_only(["/etc/legatura/hub-ca.pem"])
//!     .read_write(["/var/lib/legatura/gateway"])
//!     .allow_exec(false)
//!     .syscalls(Profile::Gateway)
//!     .apply()?;                      // Report: landlock ABI and enforcement, calls, threads
//! ```
//!
//! Invariants:
//! - the allow-lists are data (`profiles/*.toml`), one entry per call with its reason; a call
//!   outside them stops the process after one line on stderr naming it
//!   (`sandbox: forbidden system call NAME (nr N); exiting`, exit status 159);
//! - `execve`/`execveat` fail with EPERM and landlock grants execution nowhere (unless asked);
//! - nothing is changed until everything that can be checked beforehand (the profile, the
//!   paths, landlock's presence when it is required) has been; a failure after that point is
//!   returned, and the daemons exit on it rather than run half-confined;
//! - no_new_privs, landlock and capabilities are per thread: every thread takes them (see
//!   `threads.rs`), and the seccomp filter is loaded with TSYNC;
//! - a kernel without landlock is reported (`Report::landlock`), and is an error when
//!   [`LandlockMode::Required`];
//! - `apply` runs once per process: the confinement cannot be undone or widened.
//!
//! This crate and `keys` are the only ones allowed `unsafe`, each block with its `// SAFETY:`.

mod files;
mod profile;
mod sigsys;
mod threads;

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Deserialize;

pub use files::resolver_paths;
pub use profile::{Action, Condition, Entry, Profile, ProfileError, Test};
pub use sigsys::{EXIT_STATUS, LINE_PREFIX, name as syscall_name};
pub use threads::{Step, ThreadError};

/// `CAP_SETPCAP`: needed to drop from the bounding set.
const CAP_SETPCAP: i32 = 8;

static APPLIED: AtomicBool = AtomicBool::new(false);

/// A daemon's `[sandbox]` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Confine the daemon after start-up. Turn it off only to diagnose.
    pub enabled: bool,
    /// Whether a kernel without landlock stops the daemon.
    pub landlock: LandlockMode,
    /// More paths to grant for reading, beyond those the daemon derives from its
    /// configuration (an HSM vendor's configuration, say).
    pub read_only: Vec<PathBuf>,
    /// More paths to grant for reading and writing.
    pub read_write: Vec<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            enabled: true,
            landlock: LandlockMode::Required,
            read_only: Vec::new(),
            read_write: Vec::new(),
        }
    }
}

/// `[sandbox] landlock`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LandlockMode {
    /// Refuse to run without landlock (the appliance's kernel has it).
    #[default]
    Required,
    /// Run with a loud warning when the kernel has no landlock.
    BestEffort,
}

/// The entry point: `Sandbox::builder()`.
#[derive(Debug)]
pub struct Sandbox;

impl Sandbox {
    /// An empty confinement: no path granted, no exec, no seccomp profile, landlock required.
    pub fn builder() -> Builder {
        Builder::default()
    }
}

/// What to confine the process to.
#[derive(Debug, Default, Clone)]
pub struct Builder {
    read_only: Vec<PathBuf>,
    read_write: Vec<PathBuf>,
    allow_exec: bool,
    resolver: bool,
    profile: Option<Profile>,
    landlock: LandlockMode,
}

impl Builder {
    /// Paths (files or directory trees) the process may read.
    pub fn read_only<P: Into<PathBuf>>(mut self, paths: impl IntoIterator<Item = P>) -> Self {
        self.read_only.extend(paths.into_iter().map(Into::into));
        self
    }

    /// Paths the process may read, write, create in, rename in and remove from.
    pub fn read_write<P: Into<PathBuf>>(mut self, paths: impl IntoIterator<Item = P>) -> Self {
        self.read_write.extend(paths.into_iter().map(Into::into));
        self
    }

    /// Whether files beneath the granted paths may be executed (default: no).
    pub fn allow_exec(mut self, allow: bool) -> Self {
        self.allow_exec = allow;
        self
    }

    /// Grants what glibc's resolver reads ([`resolver_paths`]), for daemons that resolve host
    /// names after start-up.
    pub fn resolver(mut self, resolves: bool) -> Self {
        self.resolver = resolves;
        self
    }

    /// The seccomp allow-list. Without one no filter is loaded (tests of landlock alone).
    pub fn syscalls(mut self, profile: Profile) -> Self {
        self.profile = Some(profile);
        self
    }

    /// Whether landlock is required.
    pub fn landlock(mut self, mode: LandlockMode) -> Self {
        self.landlock = mode;
        self
    }

    /// The mode and extra paths of a `[sandbox]` section.
    pub fn settings(self, settings: &Settings) -> Self {
        self.landlock(settings.landlock)
            .read_only(settings.read_only.iter().cloned())
            .read_write(settings.read_write.iter().cloned())
    }

    /// Confines the whole process, every thread, for good.
    pub fn apply(self) -> Result<Report, SandboxError> {
        if APPLIED.load(Ordering::SeqCst) {
            return Err(SandboxError::AlreadyApplied);
        }

        // Everything checkable is checked before anything changes.
        let seccomp = match self.profile {
            None => None,
            Some(profile) => {
                let entries = profile.entries()?;
                let arch = seccompiler::TargetArch::try_from(std::env::consts::ARCH)
                    .map_err(|_| SandboxError::Arch(std::env::consts::ARCH))?;
                let (programs, applied) =
                    profile::compile(&entries, arch).map_err(SandboxError::Compile)?;
                let errno = entries
                    .iter()
                    .filter(|e| {
                        matches!(e.action, Action::Errno(_))
                            && profile::number(&e.name, arch).is_some()
                    })
                    .count();
                Some((profile, programs, applied, errno))
            }
        };
        let abi = files::kernel_abi();
        if let (Err(why), LandlockMode::Required) = (&abi, self.landlock) {
            return Err(SandboxError::LandlockRequired(why.clone()));
        }
        let mut grants = files::Grants {
            read_only: self.read_only,
            read_write: self.read_write,
            allow_exec: self.allow_exec,
            abstract_unix: std::env::var("NOTIFY_SOCKET").is_ok_and(|s| s.starts_with('@')),
        };
        if self.resolver {
            grants.read_only.extend(resolver_paths());
        }
        let ruleset = files::ruleset(&grants)?;
        let for_others: Option<OwnedFd> = ruleset
            .try_clone()
            .map_err(|source| SandboxError::Os {
                what: "duplicate the landlock ruleset",
                source,
            })?
            .into();
        let last_cap = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(40);
        let [effective, ..] = threads::capabilities().map_err(|source| SandboxError::Os {
            what: "read the capability sets",
            source,
        })?;
        let bounding = if !(0..=last_cap).any(threads::in_bounding_set) {
            Bounding::AlreadyEmpty
        } else if effective & (1 << CAP_SETPCAP) != 0 {
            Bounding::Cleared
        } else {
            Bounding::NotPermitted
        };
        let plan = threads::Plan {
            ruleset: for_others.as_ref().map(AsRawFd::as_raw_fd),
            drop_bounding: bounding == Bounding::Cleared,
            last_cap,
        };

        // From here on the process changes.
        if APPLIED.swap(true, Ordering::SeqCst) {
            return Err(SandboxError::AlreadyApplied);
        }
        let others = threads::confine_others(plan).map_err(SandboxError::Threads)?;
        drop(for_others);
        let status = ruleset.restrict_self().map_err(SandboxError::Landlock)?;
        threads::drop_capabilities(plan.drop_bounding, last_cap).map_err(|(step, errno)| {
            SandboxError::Os {
                what: step.what(),
                source: std::io::Error::from_raw_os_error(errno),
            }
        })?;
        let landlock = LandlockReport {
            abi: abi.as_ref().ok().copied(),
            enforcement: match status.ruleset {
                landlock::RulesetStatus::FullyEnforced => Enforcement::Full,
                landlock::RulesetStatus::PartiallyEnforced => Enforcement::Partial,
                landlock::RulesetStatus::NotEnforced => Enforcement::None,
            },
            unavailable: abi.err(),
        };
        if landlock.enforcement == Enforcement::None && self.landlock == LandlockMode::Required {
            return Err(SandboxError::LandlockRequired(
                "the kernel accepted no landlock rule".into(),
            ));
        }
        let mut report = Report {
            landlock,
            seccomp: None,
            threads: others + 1,
            bounding,
        };
        if let Some((profile, programs, applied, errno)) = seccomp {
            sigsys::install().map_err(|source| SandboxError::Os {
                what: "install the SIGSYS handler",
                source,
            })?;
            // The trapping filter goes last: seccompiler sets no_new_privs with prctl(2)
            // before loading each filter, which that filter would refuse.
            for program in programs.iter().rev() {
                seccompiler::apply_filter_all_threads(program).map_err(SandboxError::Seccomp)?;
            }
            report.seccomp = Some(SeccompReport {
                profile,
                calls: applied,
                errno,
            });
        }
        Ok(report)
    }
}

/// What the kernel enforces after [`Builder::apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub landlock: LandlockReport,
    /// `None` when no profile was given.
    pub seccomp: Option<SeccompReport>,
    /// Threads confined, the caller included.
    pub threads: usize,
    pub bounding: Bounding,
}

/// Landlock's part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LandlockReport {
    /// The kernel's landlock ABI, if it has landlock.
    pub abi: Option<u8>,
    pub enforcement: Enforcement,
    /// Why the kernel has no landlock.
    pub unavailable: Option<String>,
}

/// How much of the requested landlock confinement the kernel enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enforcement {
    /// All of it.
    Full,
    /// An older kernel: its ABI's rights (reading `/etc/shadow` is refused from ABI 1), not
    /// the newer ones (renames across directories from 2, truncation from 3, scopes from 6).
    Partial,
    /// None: no file-system confinement at all.
    None,
}

impl Report {
    /// Logs what was applied; a landlock the kernel does not fully enforce is said loudly.
    pub fn log(&self) {
        match self.landlock.enforcement {
            Enforcement::Full => tracing::info!(report = %self, "sandbox applied"),
            Enforcement::Partial => tracing::warn!(
                report = %self,
                "sandbox applied; this kernel enforces only part of landlock"
            ),
            Enforcement::None => tracing::error!(
                report = %self,
                "sandbox applied WITHOUT landlock: the file system is not confined"
            ),
        }
    }
}

/// Whether `host:port` names its host rather than giving an address: a daemon that dials or
/// forwards to such a peer must keep the resolver's files readable.
pub fn names_host(host_port: &str) -> bool {
    let host = host_port
        .rsplit_once(':')
        .map_or(host_port, |(host, _)| host);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.parse::<std::net::IpAddr>().is_err()
}

/// seccomp's part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeccompReport {
    pub profile: Profile,
    /// Entries of the allow-list that exist on this architecture.
    pub calls: usize,
    /// Of those, the ones answered with an error rather than run.
    pub errno: usize,
}

/// The capability bounding set afterwards. The other sets are always emptied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bounding {
    /// Emptied by the sandbox.
    Cleared,
    /// It was empty already (systemd's `CapabilityBoundingSet=`).
    AlreadyEmpty,
    /// Left as it was: dropping from it needs CAP_SETPCAP, which the process lacked (and,
    /// with no_new_privs and no capabilities, it can never regain any).
    NotPermitted,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let l = &self.landlock;
        match (l.enforcement, l.abi) {
            (Enforcement::None, _) => write!(
                f,
                "landlock NOT enforced ({})",
                l.unavailable.as_deref().unwrap_or("no rule accepted")
            )?,
            (e, abi) => write!(
                f,
                "landlock ABI {} {} enforced",
                abi.unwrap_or(0),
                if e == Enforcement::Full {
                    "fully"
                } else {
                    "partially"
                }
            )?,
        }
        match &self.seccomp {
            Some(s) => write!(
                f,
                "; seccomp {} allow-list of {} calls ({} answered with an error)",
                s.profile, s.calls, s.errno
            )?,
            None => write!(f, "; no seccomp filter")?,
        }
        write!(
            f,
            "; {} threads without capabilities, bounding set {}",
            self.threads,
            match self.bounding {
                Bounding::Cleared => "cleared",
                Bounding::AlreadyEmpty => "already empty",
                Bounding::NotPermitted => "kept (no CAP_SETPCAP)",
            }
        )
    }
}

/// Why the process could not be confined.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("the sandbox is already applied to this process")]
    AlreadyApplied,
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error("no seccomp profile for this architecture ({0})")]
    Arch(&'static str),
    #[error("cannot compile the seccomp filter")]
    Compile(#[source] seccompiler::BackendError),
    #[error(
        "landlock is required but unavailable: {0}; set `[sandbox] landlock = \"best_effort\"` \
         to run without file-system confinement"
    )]
    LandlockRequired(String),
    #[error("cannot grant {path} to the sandbox")]
    Path {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot build the landlock ruleset")]
    Landlock(#[source] landlock::RulesetError),
    #[error("cannot confine every thread")]
    Threads(#[source] threads::ThreadError),
    #[error("cannot load the seccomp filter")]
    Seccomp(#[source] seccompiler::Error),
    #[error("cannot {what}")]
    Os {
        what: &'static str,
        source: std::io::Error,
    },
}
