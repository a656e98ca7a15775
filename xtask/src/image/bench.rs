//! `cargo xtask bench image`: two builds (reproducible?, how long, how big), the units'
//! exposure scores, and the time from power-on to the tunnel being up at the hub, measured by
//! the `image_boot` system test on the image just built.

use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, Result};

use super::{Role, check};
use crate::{cmd, deps};

/// Where the system test leaves its figures for the benchmark (`key=value` lines).
const FIGURES_ENV: &str = "LEGATURA_IMAGE_FIGURES";

pub(crate) fn bench(root: &Path) -> Result<()> {
    deps::ensure()?;
    let checked = check::compare(root, Role::Gateway)?;
    let build_s = checked.first.build_s.unwrap_or_default();
    let image_mib = checked.first.bytes as f64 / 1_048_576.0;
    let exposure_gatewayd = exposure(root, "gatewayd.service")?;
    let exposure_hubd = exposure(root, "hubd.service")?;
    let exposure_lan_status = exposure(root, "legatura-lan-status.service")?;

    let bench_dir = root.join("target/bench");
    std::fs::create_dir_all(&bench_dir)?;
    let figures = bench_dir.join("image-boot.txt");
    let _ = std::fs::remove_file(&figures);
    cmd::run(cmd::cargo().args(["build", "-p", "hubd", "-p", "gatewayd", "-p", "legatura"]))?;
    cmd::run(
        cmd::cargo()
            .env(FIGURES_ENV, &figures)
            .args(["test", "-p", "system", "--test", "image_boot", "--"])
            .args(["--exact", "the_appliance_enrols_and_its_tunnel_comes_up"]),
    )?;
    let text = std::fs::read_to_string(&figures)
        .with_context(|| format!("the boot test left no figures in {}", figures.display()))?;
    let figure = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .map(str::trim)
            .with_context(|| format!("no {key} in {}", figures.display()))
    };
    let boot_to_tunnel_s: f64 = figure("boot_to_tunnel_s")?.parse()?;
    let kvm = figure("kvm")? == "true";

    let json = serde_json::json!({
        "reproducible": checked.reproducible,
        "image_mib": round1(image_mib),
        "build_s": round1(build_s),
        "boot_to_tunnel_s": round1(boot_to_tunnel_s),
        "kvm": kvm,
        "exposure_gatewayd": exposure_gatewayd,
        "exposure_hubd": exposure_hubd,
        "exposure_lan_status": exposure_lan_status,
    });
    let path = bench_dir.join("image.json");
    std::fs::write(&path, format!("{}\n", serde_json::to_string_pretty(&json)?))?;
    say!("wrote {}", path.display());
    println!(
        "image: reproducible={} image_mib={:.1} build_s={:.1} boot_to_tunnel_s={:.1} kvm={kvm} \
         exposure_gatewayd={exposure_gatewayd} exposure_hubd={exposure_hubd} \
         exposure_lan_status={exposure_lan_status}",
        checked.reproducible, image_mib, build_s, boot_to_tunnel_s
    );
    Ok(())
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// `systemd-analyze security --offline=true` of one of the units the image installs.
fn exposure(root: &Path, unit: &str) -> Result<f64> {
    let path = root.join("os-image/systemd").join(unit);
    let out = cmd::stdout_of(
        Command::new("systemd-analyze")
            .args(["security", "--offline=true", "--no-pager"])
            .arg(&path),
    )?;
    out.lines()
        .find_map(|l| l.split("Overall exposure level for ").nth(1))
        .and_then(|rest| rest.split(": ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("no exposure score for {unit} in:\n{out}"))
}
