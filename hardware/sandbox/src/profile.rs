//! The seccomp allow-lists, kept as data in `profiles/*.toml` (one entry per system call, its
//! value the reason), and their compilation into BPF with seccompiler.
//!
//! The filters: one allows the listed calls (with their argument conditions) and traps
//! everything else, so the SIGSYS handler can name the call before the daemon exits; one per
//! errno value answers the `errno` entries with that error. When several filters are stacked
//! the kernel takes the strictest verdict, so an `errno` entry is also allowed by the first
//! filter, and its error wins over that allowance.

use std::collections::BTreeMap;
use std::str::FromStr;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};
use serde::Deserialize;

const BASE: (&str, &str) = ("base.toml", include_str!("../profiles/base.toml"));
const GATEWAYD: (&str, &str) = ("gatewayd.toml", include_str!("../profiles/gatewayd.toml"));
const HUBD: (&str, &str) = ("hubd.toml", include_str!("../profiles/hubd.toml"));
const LAN_STATUS: (&str, &str) = (
    "lan-status.toml",
    include_str!("../profiles/lan-status.toml"),
);

/// Which daemon's allow-list to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    /// `base.toml` + `gatewayd.toml`.
    Gateway,
    /// `base.toml` + `hubd.toml`.
    Hub,
    /// `base.toml` + `lan-status.toml`: the appliance's LAN status page.
    LanStatus,
}

impl Profile {
    /// The daemon's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Gateway => "gatewayd",
            Self::Hub => "hubd",
            Self::LanStatus => "legatura-lan-status",
        }
    }

    /// The profile files, in order.
    fn files(self) -> [(&'static str, &'static str); 2] {
        match self {
            Self::Gateway => [BASE, GATEWAYD],
            Self::Hub => [BASE, HUBD],
            Self::LanStatus => [BASE, LAN_STATUS],
        }
    }

    /// Every entry of the profile, checked: each reason is one non-empty line, no call is
    /// listed twice, each `errno` is known.
    pub fn entries(self) -> Result<Vec<Entry>, ProfileError> {
        let mut entries: Vec<Entry> = Vec::new();
        for (file, text) in self.files() {
            let parsed: File = toml::from_str(text).map_err(|e| ProfileError {
                file,
                message: e.message().replace('\n', " "),
            })?;
            for (name, raw) in parsed.syscalls {
                let error = |message: String| ProfileError { file, message };
                if let Some(first) = entries.iter().find(|e| e.name == name) {
                    return Err(error(format!("{name} is already listed in {}", first.file)));
                }
                let (why, when, errno) = match raw {
                    RawEntry::Why(why) => (why, Vec::new(), None),
                    RawEntry::Full(FullEntry { why, when, errno }) => (why, when, errno),
                };
                if why.trim().is_empty() || why.contains('\n') {
                    return Err(error(format!(
                        "{name}: the reason must be one non-empty line"
                    )));
                }
                let action = match errno {
                    None => Action::Allow,
                    Some(e) => Action::Errno(
                        errno_value(&e)
                            .ok_or_else(|| error(format!("{name}: unknown errno {e}")))?,
                    ),
                };
                if action != Action::Allow && !when.is_empty() {
                    return Err(error(format!("{name}: an errno entry takes no `when`")));
                }
                let when = when
                    .into_iter()
                    .map(|c| c.check().map_err(|m| error(format!("{name}: {m}"))))
                    .collect::<Result<_, _>>()?;
                entries.push(Entry {
                    name,
                    why,
                    action,
                    when,
                    file,
                });
            }
        }
        Ok(entries)
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One reviewed line of an allow-list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The system call's name, as in `man 2`.
    pub name: String,
    /// Why the daemon needs it after start-up.
    pub why: String,
    pub action: Action,
    /// All must hold for the entry to apply (empty: always).
    pub when: Vec<Condition>,
    /// The profile file that lists it.
    pub file: &'static str,
}

/// What the filter does with a listed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Allow,
    /// Fails with this errno without running.
    Errno(i32),
}

/// A condition on one argument of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// Argument index, 0 to 5.
    pub arg: u8,
    pub test: Test,
}

/// How the argument is compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Test {
    Equals(u64),
    /// Equal to any of these.
    OneOf(Vec<u64>),
    NotEquals(u64),
    /// `arg & mask == value`.
    Masked {
        mask: u64,
        value: u64,
    },
}

/// A profile file that does not follow the format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("profiles/{file}: {message}")]
pub struct ProfileError {
    pub file: &'static str,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    syscalls: BTreeMap<String, RawEntry>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawEntry {
    Why(String),
    Full(FullEntry),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FullEntry {
    why: String,
    #[serde(default)]
    when: Vec<RawCondition>,
    errno: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCondition {
    arg: u8,
    equals: Option<u64>,
    one_of: Option<Vec<u64>>,
    not: Option<u64>,
    mask: Option<u64>,
}

impl RawCondition {
    fn check(self) -> Result<Condition, String> {
        if self.arg > 5 {
            return Err(format!("argument {} does not exist (0 to 5)", self.arg));
        }
        let test = match (self.equals, self.one_of, self.not, self.mask) {
            (Some(v), None, None, None) => Test::Equals(v),
            (None, Some(vs), None, None) if !vs.is_empty() => Test::OneOf(vs),
            (None, None, Some(v), None) => Test::NotEquals(v),
            (Some(value), None, None, Some(mask)) => Test::Masked { mask, value },
            _ => {
                return Err(
                    "a condition is `equals`, `one_of`, `not`, or `mask` with `equals`".into(),
                );
            }
        };
        let values = match &test {
            Test::Equals(v) | Test::NotEquals(v) => vec![*v],
            Test::OneOf(vs) => vs.clone(),
            Test::Masked { mask, value } => vec![*mask, *value],
        };
        if values.iter().any(|v| *v > u64::from(u32::MAX)) {
            return Err("conditions compare the low 32 bits; a value above 0xffffffff".into());
        }
        Ok(Condition {
            arg: self.arg,
            test,
        })
    }
}

fn errno_value(name: &str) -> Option<i32> {
    Some(match name {
        "EPERM" => libc::EPERM,
        "EACCES" => libc::EACCES,
        "ENOSYS" => libc::ENOSYS,
        _ => return None,
    })
}

/// The number of `name` on `arch`; `None` where the call does not exist there (x86_64-only
/// names such as `open` on aarch64), and such entries are skipped.
pub(crate) fn number(name: &str, arch: TargetArch) -> Option<i64> {
    let id = match arch {
        TargetArch::x86_64 => syscalls::x86_64::Sysno::from_str(name).ok()?.id(),
        TargetArch::aarch64 => syscalls::aarch64::Sysno::from_str(name).ok()?.id(),
        TargetArch::riscv64 => return None,
    };
    Some(i64::from(id))
}

/// The BPF programs for `entries` on `arch`: the allow filter first, then the errno filters.
/// Returns the programs and how many entries apply on this architecture.
pub(crate) fn compile(
    entries: &[Entry],
    arch: TargetArch,
) -> Result<(Vec<BpfProgram>, usize), seccompiler::BackendError> {
    let mut allow: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    let mut errno: BTreeMap<i32, BTreeMap<i64, Vec<SeccompRule>>> = BTreeMap::new();
    let mut applied = 0;
    for entry in entries {
        let Some(nr) = number(&entry.name, arch) else {
            continue;
        };
        applied += 1;
        match entry.action {
            Action::Allow if entry.when.is_empty() => {
                allow.insert(nr, Vec::new());
            }
            Action::Allow => {
                // Each `one_of` multiplies the alternatives; the kernel allows the call when
                // any alternative has all its conditions true.
                let mut alternatives: Vec<Vec<SeccompCondition>> = vec![Vec::new()];
                for c in &entry.when {
                    let options = match &c.test {
                        Test::Equals(v) => vec![(SeccompCmpOp::Eq, *v)],
                        Test::OneOf(vs) => vs.iter().map(|v| (SeccompCmpOp::Eq, *v)).collect(),
                        Test::NotEquals(v) => vec![(SeccompCmpOp::Ne, *v)],
                        Test::Masked { mask, value } => {
                            vec![(SeccompCmpOp::MaskedEq(*mask), *value)]
                        }
                    };
                    let mut next = Vec::new();
                    for alternative in &alternatives {
                        for (op, value) in &options {
                            let mut a = alternative.clone();
                            // The low 32 bits: every argument the profiles test is an `int`
                            // (or flags within 32 bits), and the kernel ignores the upper half
                            // of an `int`, so comparing all 64 bits could be dodged with junk
                            // up there.
                            a.push(SeccompCondition::new(
                                c.arg,
                                SeccompCmpArgLen::Dword,
                                op.clone(),
                                *value,
                            )?);
                            next.push(a);
                        }
                    }
                    alternatives = next;
                }
                let rules = alternatives
                    .into_iter()
                    .map(SeccompRule::new)
                    .collect::<Result<Vec<_>, _>>()?;
                allow.insert(nr, rules);
            }
            Action::Errno(e) => {
                allow.insert(nr, Vec::new());
                errno.entry(e).or_default().insert(nr, Vec::new());
            }
        }
    }
    let mut programs = vec![BpfProgram::try_from(SeccompFilter::new(
        allow,
        SeccompAction::Trap,
        SeccompAction::Allow,
        arch,
    )?)?];
    for (e, rules) in errno {
        programs.push(BpfProgram::try_from(SeccompFilter::new(
            rules,
            SeccompAction::Allow,
            SeccompAction::Errno(e.unsigned_abs()),
            arch,
        )?)?);
    }
    Ok((programs, applied))
}

#[cfg(test)]
mod tests;
