//! The systemd units the appliance ships score at most 2.0 in `systemd-analyze security` and
//! draw no warnings from it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed expectation is a failed test

use std::path::Path;
use std::process::Command;

const MAX_EXPOSURE: f64 = 2.0;

#[test]
fn every_unit_is_hardened() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../os-image/systemd");
    let mut units: Vec<_> = std::fs::read_dir(&dir)
        .expect("os-image/systemd exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "service"))
        .collect();
    units.sort();
    assert!(
        units.len() >= 2,
        "expected the hubd and gatewayd units in {}",
        dir.display()
    );
    for unit in units {
        let out = Command::new("systemd-analyze")
            .args(["security", "--offline=true", "--no-pager"])
            .arg(&unit)
            .output()
            .expect("systemd-analyze (Debian package systemd) runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.trim().is_empty(),
            "{}: systemd-analyze warned:\n{stderr}",
            unit.display()
        );
        let score: f64 = stdout
            .lines()
            .find_map(|l| l.split("Overall exposure level for ").nth(1))
            .and_then(|rest| rest.split(": ").nth(1))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{}: no exposure score in:\n{stdout}", unit.display()));
        assert!(
            score <= MAX_EXPOSURE,
            "{}: exposure {score} > {MAX_EXPOSURE}",
            unit.display()
        );
    }
}
