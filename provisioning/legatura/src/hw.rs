//! `legatura hw check` and `legatura hw profiles`.

use std::path::Path;

use anyhow::Context;

use crate::say;

fn find(profile: &str) -> anyhow::Result<hwcheck::Profile> {
    let shipped = hwcheck::builtin().context("the shipped hardware profiles")?;
    if let Some(p) = shipped.iter().find(|p| p.name == profile) {
        return Ok(p.clone());
    }
    let path = Path::new(profile);
    if path.exists() {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {profile}"))?;
        return Ok(hwcheck::parse(&text, profile)?);
    }
    let names: Vec<_> = shipped.iter().map(|p| p.name.as_str()).collect();
    anyhow::bail!(
        "no hardware profile {profile:?}; the shipped ones are {}, or give a file",
        names.join(", ")
    )
}

/// Prints one line per check and fails when any check failed.
pub(crate) fn check(profile: &str) -> anyhow::Result<()> {
    let profile = find(profile)?;
    let lines = hwcheck::check(&profile, &hwcheck::Machine::this());
    let mut text = format!("Checking this machine against {}:\n", profile.description);
    for line in &lines {
        text.push_str(&format!("  {line}\n"));
    }
    say(&text);
    let failed = lines
        .iter()
        .filter(|l| l.verdict == hwcheck::Verdict::Fail)
        .count();
    if failed == 0 {
        say(&format!("This machine can run as {}.", profile.name));
        Ok(())
    } else {
        anyhow::bail!(
            "{failed} check(s) failed: this machine cannot run as {}",
            profile.name
        )
    }
}

pub(crate) fn profiles() -> anyhow::Result<()> {
    for p in hwcheck::builtin()? {
        say(&format!("{:<14} {}", p.name, p.description));
    }
    Ok(())
}
