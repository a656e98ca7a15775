//! Supported appliance hardware as data (`hardware/profiles/*.toml`), and the checks
//! `legatura hw check` runs on the machine it is on: CPU, memory, storage, network cards, TPM 2.0,
//! watchdog, serial console, the kernel features the image and the daemons rely on (landlock,
//! erofs, dm-verity), the socket buffer limits the tunnel needs, and clock synchronisation.
//!
//! Every check reads files under a root directory (`/` on a real machine), so a test can give it
//! a prepared tree as well as the machine it runs on. The output is one line per check, meant to
//! be read aloud over the phone by a person at an embassy: `PASS`, `FAIL` or `WARN`, what was
//! checked, what was found and what the profile needs.

mod machine;
mod profile;

pub use machine::Machine;
pub use profile::{Need, Profile, ProfileError, Role, builtin, parse};

/// The tunnel's socket buffers need this much (see `os-image/sysctl.d`).
pub const SOCKET_BUFFER_MIN: u64 = 4 * 1024 * 1024;

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// The machine cannot run the role: fix before deployment.
    Fail,
    /// Works, but not as the profile wants, or could not be determined here.
    Warn,
}

impl Verdict {
    fn word(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Warn => "WARN",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub check: &'static str,
    pub verdict: Verdict,
    pub detail: String,
}

impl std::fmt::Display for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}  {:<15} {}",
            self.verdict.word(),
            self.check,
            self.detail
        )
    }
}

/// Whether a report allows deployment: no line failed.
pub fn passed(lines: &[Line]) -> bool {
    lines.iter().all(|l| l.verdict != Verdict::Fail)
}

fn at_least(check: &'static str, found: Option<u64>, need: u64, unit: &str) -> Line {
    match found {
        Some(n) if n >= need => Line {
            check,
            verdict: Verdict::Pass,
            detail: format!("{n} {unit} (needs at least {need})"),
        },
        Some(n) => Line {
            check,
            verdict: Verdict::Fail,
            detail: format!("{n} {unit}, needs at least {need}"),
        },
        None => Line {
            check,
            verdict: Verdict::Fail,
            detail: format!("could not be read; needs at least {need} {unit}"),
        },
    }
}

fn feature(check: &'static str, found: Option<bool>, need: Need, what: &str, why: &str) -> Line {
    let (verdict, detail) = match (found, need) {
        (Some(true), _) => (Verdict::Pass, format!("{what} present")),
        (Some(false), Need::Required) => (Verdict::Fail, format!("no {what}; {why}")),
        (Some(false), Need::Optional) => (Verdict::Warn, format!("no {what} (optional here)")),
        (None, _) => (
            Verdict::Warn,
            format!("could not tell whether {what} is there; {why}"),
        ),
    };
    Line {
        check,
        verdict,
        detail,
    }
}

/// Runs every check of `profile` against `machine`, in a fixed order.
pub fn check(profile: &Profile, machine: &Machine) -> Vec<Line> {
    let gateway = profile.role == Role::Gateway;
    let image_need = if gateway {
        Need::Required
    } else {
        Need::Optional
    };
    vec![
        at_least("cpu", machine.cpus(), u64::from(profile.min_cpus), "cores"),
        at_least(
            "memory",
            machine.memory_mib(),
            profile.min_memory_mib,
            "MiB",
        ),
        at_least(
            "storage",
            machine.storage_gib(),
            profile.min_storage_gib,
            "GiB",
        ),
        at_least(
            "network cards",
            machine.nics(),
            u64::from(profile.min_nics),
            "wired interfaces",
        ),
        feature(
            "tpm 2.0",
            machine.tpm2(),
            profile.tpm2,
            "TPM 2.0",
            "the appliance key and measured boot need it",
        ),
        feature(
            "watchdog",
            machine.watchdog(),
            profile.watchdog,
            "hardware watchdog",
            "a hung box would not restart itself",
        ),
        feature(
            "serial console",
            machine.serial_console(),
            profile.serial_console,
            "serial port",
            "the box reports boot problems there",
        ),
        feature(
            "landlock",
            machine.landlock(),
            Need::Required,
            "landlock",
            "the daemons limit their own file access with it",
        ),
        feature(
            "erofs",
            machine.erofs(),
            image_need,
            "erofs file system",
            "the read-only root is erofs",
        ),
        feature(
            "dm-verity",
            machine.dm_verity(),
            image_need,
            "dm-verity",
            "the root's integrity is checked with it",
        ),
        at_least(
            "socket buffers",
            machine.socket_buffers(),
            SOCKET_BUFFER_MIN,
            "bytes (smaller of rmem_max and wmem_max)",
        ),
        clock(machine.clock_synced()),
    ]
}

fn clock(found: Option<bool>) -> Line {
    let (verdict, detail) = match found {
        Some(true) => (Verdict::Pass, "synchronised".to_owned()),
        Some(false) => (
            Verdict::Fail,
            "not synchronised; certificates and TOTP codes need the right time".to_owned(),
        ),
        None => (
            Verdict::Warn,
            "no time service status found (systemd-timesyncd); check the time by hand".to_owned(),
        ),
    };
    Line {
        check: "clock",
        verdict,
        detail,
    }
}

#[cfg(test)]
mod tests;
