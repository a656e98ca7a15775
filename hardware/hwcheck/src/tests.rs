use std::path::Path;

use super::*;

fn write(root: &Path, path: &str, text: &str) {
    let p = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn nic(root: &Path, name: &str) {
    std::fs::create_dir_all(root.join(format!("sys/class/net/{name}/device"))).unwrap();
}

fn profile() -> Profile {
    let mut p = builtin()
        .unwrap()
        .into_iter()
        .find(|p| p.name == "embassy-small")
        .unwrap();
    // The tree lives on whatever disk the test runs on.
    p.min_storage_gib = 0;
    p
}

/// An embassy box as the profile wants it.
fn good_box(root: &Path) {
    let cpuinfo: String = (0..4)
        .map(|i| format!("processor\t: {i}\nmodel name\t: x\n\n"))
        .collect();
    write(root, "/proc/cpuinfo", &cpuinfo);
    write(
        root,
        "/proc/meminfo",
        "MemTotal:        8039584 kB\nMemFree: 1 kB\n",
    );
    nic(root, "eth0");
    nic(root, "eth1");
    std::fs::create_dir_all(root.join("sys/class/net/lo")).unwrap();
    write(root, "/sys/class/tpm/tpm0/tpm_version_major", "2\n");
    write(root, "/dev/tpmrm0", "");
    write(root, "/dev/watchdog0", "");
    std::fs::create_dir_all(root.join("sys/class/tty/ttyS0")).unwrap();
    write(
        root,
        "/sys/kernel/security/lsm",
        "lockdown,capability,landlock,yama",
    );
    write(root, "/proc/filesystems", "nodev\tsysfs\n\text4\n\terofs\n");
    std::fs::create_dir_all(root.join("sys/module/dm_verity")).unwrap();
    write(root, "/proc/sys/net/core/rmem_max", "4194304\n");
    write(root, "/proc/sys/net/core/wmem_max", "8388608\n");
    write(root, "/run/systemd/timesync/synchronized", "");
}

fn verdict(lines: &[Line], check: &str) -> Verdict {
    lines.iter().find(|l| l.check == check).unwrap().verdict
}

#[test]
fn the_shipped_profiles_parse_and_an_unknown_key_is_named() {
    let all = builtin().unwrap();
    let mut names: Vec<_> = all.iter().map(|p| p.name.clone()).collect();
    names.sort();
    assert_eq!(names, ["embassy-small", "hub-server", "qemu-dev"]);
    let text = include_str!("../../profiles/qemu-dev.toml").replace("min_nics", "min_nic");
    let err = parse(&text, "qemu-dev.toml").unwrap_err().to_string();
    assert!(
        err.starts_with("qemu-dev.toml:") && err.contains("min_nic"),
        "{err}"
    );
}

#[test]
fn a_box_that_meets_the_profile_passes_every_line() {
    let dir = tempfile::tempdir().unwrap();
    good_box(dir.path());
    let lines = check(&profile(), &Machine::at(dir.path()));
    for line in &lines {
        assert_eq!(line.verdict, Verdict::Pass, "{line}");
    }
    assert!(passed(&lines));
    assert_eq!(lines.len(), 12);
    let cpu = lines.iter().find(|l| l.check == "cpu").unwrap().to_string();
    assert_eq!(cpu, "PASS  cpu             4 cores (needs at least 2)");
    let nics = lines.iter().find(|l| l.check == "network cards").unwrap();
    assert!(
        nics.detail.starts_with("2 "),
        "loopback is not a card: {nics}"
    );
}

#[test]
fn what_is_missing_fails_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    good_box(root);
    std::fs::remove_dir_all(root.join("sys/class/net/eth1")).unwrap();
    std::fs::remove_dir_all(root.join("sys/class/tpm")).unwrap();
    std::fs::remove_file(root.join("dev/tpmrm0")).unwrap();
    write(root, "/proc/sys/net/core/wmem_max", "212992\n");
    std::fs::remove_file(root.join("run/systemd/timesync/synchronized")).unwrap();
    std::fs::remove_dir_all(root.join("sys/module/dm_verity")).unwrap();
    let lines = check(&profile(), &Machine::at(root));
    assert!(!passed(&lines));
    for failed in [
        "network cards",
        "tpm 2.0",
        "socket buffers",
        "clock",
        "dm-verity",
    ] {
        assert_eq!(
            verdict(&lines, failed),
            Verdict::Fail,
            "{failed}: {lines:#?}"
        );
    }
    assert_eq!(verdict(&lines, "memory"), Verdict::Pass);
    let tpm = lines.iter().find(|l| l.check == "tpm 2.0").unwrap();
    assert_eq!(
        tpm.to_string(),
        "FAIL  tpm 2.0         no TPM 2.0; the appliance key and measured boot need it"
    );
    // On a hub, the image's kernel features are not required.
    let mut hub = profile();
    hub.role = Role::Hub;
    let lines = check(&hub, &Machine::at(root));
    assert_eq!(verdict(&lines, "dm-verity"), Verdict::Warn);
}

#[test]
fn what_cannot_be_read_is_a_warning_not_a_guess() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    good_box(root);
    std::fs::remove_file(root.join("sys/kernel/security/lsm")).unwrap();
    std::fs::remove_dir_all(root.join("run")).unwrap();
    let lines = check(&profile(), &Machine::at(root));
    assert_eq!(verdict(&lines, "landlock"), Verdict::Warn);
    assert_eq!(verdict(&lines, "clock"), Verdict::Warn);
    assert!(passed(&lines), "warnings alone do not stop a deployment");
    // An unreadable /proc is a failure: the numbers are what the profile is about.
    std::fs::remove_file(root.join("proc/meminfo")).unwrap();
    let lines = check(&profile(), &Machine::at(root));
    assert_eq!(verdict(&lines, "memory"), Verdict::Fail);
}

#[test]
fn this_machine_gets_a_line_for_every_check() {
    let qemu = builtin()
        .unwrap()
        .into_iter()
        .find(|p| p.name == "qemu-dev")
        .unwrap();
    let machine = Machine::this();
    let lines = check(&qemu, &machine);
    assert_eq!(lines.len(), 12);
    let cores = std::thread::available_parallelism().unwrap().get() as u64;
    assert!(machine.cpus().unwrap() >= cores);
    assert!(machine.memory_mib().unwrap() > 256);
}
