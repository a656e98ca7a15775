use super::*;

const PROFILES: [Profile; 3] = [Profile::Gateway, Profile::Hub, Profile::LanStatus];

#[test]
fn every_profile_parses_with_one_reason_per_call() {
    for profile in PROFILES {
        let entries = profile.entries().expect("valid profile");
        assert!(entries.len() > 40, "{profile}: {}", entries.len());
        for e in &entries {
            assert!(
                e.why.len() <= 100,
                "{}: the reason for {} is one short line",
                e.file,
                e.name
            );
        }
    }
}

#[test]
fn every_listed_call_exists_on_the_appliance_architecture() {
    for profile in PROFILES {
        for e in profile.entries().expect("valid") {
            assert!(
                syscalls::x86_64::Sysno::from_str(&e.name).is_ok(),
                "{}: `{}` is not an x86_64 system call",
                e.file,
                e.name
            );
        }
    }
}

#[test]
fn what_a_compromised_daemon_would_want_is_not_listed() {
    let forbidden = [
        "ptrace",
        "mount",
        "umount2",
        "unshare",
        "setns",
        "pivot_root",
        "chroot",
        "fork",
        "vfork",
        "kill",
        "tgkill",
        "process_vm_readv",
        "process_vm_writev",
        "bpf",
        "perf_event_open",
        "init_module",
        "finit_module",
        "kexec_load",
        "keyctl",
        "add_key",
        "setuid",
        "setgid",
        "capset",
        "seccomp",
        "landlock_create_ruleset",
        "landlock_restrict_self",
        "memfd_create",
        "userfaultfd",
        "io_uring_setup",
        "reboot",
        "swapon",
        "settimeofday",
        "clock_settime",
        "chmod",
        "chown",
        "symlink",
        "link",
        "linkat",
    ];
    for profile in PROFILES {
        let entries = profile.entries().expect("valid");
        for name in forbidden {
            assert!(
                !entries
                    .iter()
                    .any(|e| e.name == name && e.action == Action::Allow),
                "{profile} allows {name}"
            );
        }
        for name in ["execve", "execveat"] {
            assert!(
                entries
                    .iter()
                    .any(|e| e.name == name && e.action == Action::Errno(libc::EPERM)),
                "{profile}: {name} answers EPERM"
            );
        }
    }
}

#[test]
fn narrowed_calls_keep_their_conditions() {
    let entries = Profile::Hub.entries().expect("valid");
    let when = |name: &str| {
        entries
            .iter()
            .find(|e| e.name == name)
            .map(|e| e.when.clone())
            .expect(name)
    };
    // Threads only: a new process would escape nothing landlock forbids, but it has no use.
    assert_eq!(
        when("clone"),
        [Condition {
            arg: 0,
            test: Test::Masked {
                mask: libc::CLONE_THREAD as u64,
                value: libc::CLONE_THREAD as u64
            }
        }]
    );
    // Nobody may take SIGSYS from the sandbox's handler.
    assert_eq!(
        when("rt_sigaction"),
        [Condition {
            arg: 0,
            test: Test::NotEquals(libc::SIGSYS as u64)
        }]
    );
    assert_eq!(
        when("prctl"),
        [Condition {
            arg: 0,
            test: Test::Equals(libc::PR_SET_NAME as u64)
        }]
    );
    assert_eq!(
        when("ioctl"),
        [Condition {
            arg: 1,
            test: Test::OneOf(vec![libc::FIONBIO, libc::FIONREAD])
        }]
    );
}

#[test]
fn malformed_entries_are_refused_naming_file_and_call() {
    let check = |text: &str| -> Result<(), String> {
        let parsed: File = toml::from_str(text).map_err(|e| e.to_string())?;
        for (name, raw) in parsed.syscalls {
            if let RawEntry::Full(FullEntry { when, errno, .. }) = raw {
                for c in when {
                    c.check().map_err(|m| format!("{name}: {m}"))?;
                }
                if let Some(e) = errno {
                    errno_value(&e).ok_or(format!("{name}: unknown errno {e}"))?;
                }
            }
        }
        Ok(())
    };
    assert!(check("[syscalls]\nread = \"why\"\n").is_ok());
    assert!(
        check("[syscalls]\nread = { why = \"x\", when = [{ arg = 6, equals = 1 }] }\n").is_err()
    );
    assert!(
        check("[syscalls]\nread = { why = \"x\", when = [{ arg = 0, equals = 0x100000000 }] }\n")
            .is_err()
    );
    assert!(check("[syscalls]\nread = { why = \"x\", errno = \"EWHAT\" }\n").is_err());
    assert!(
        check("[syscalls]\nread = { why = \"x\", when = [{ arg = 0, one_of = [] }] }\n").is_err()
    );
    assert!(check("[syscalls]\nread = { why = \"x\", because = \"y\" }\n").is_err());
    assert!(check("[syscall]\nread = \"why\"\n").is_err());
}

#[test]
fn the_filters_compile_for_both_architectures() {
    for profile in PROFILES {
        let entries = profile.entries().expect("valid");
        for arch in [TargetArch::x86_64, TargetArch::aarch64] {
            let (programs, applied) = compile(&entries, arch).expect("compiles");
            // The allow filter, then one per errno value (EPERM, ENOSYS).
            assert_eq!(programs.len(), 3, "{profile}");
            assert!(applied > 40);
            assert!(
                programs[0].len() < 4096,
                "BPF programs are limited to 4096 instructions"
            );
        }
    }
}
