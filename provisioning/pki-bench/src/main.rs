//! `pki-bench`, run by `cargo xtask bench pki`: the fleet PKI measured with its issuing key in a
//! PKCS#11 token (SoftHSM2) and, in the same run, in the software key store, so that every HSM
//! figure has a baseline measured on the same machine moments earlier.
//!
//! Parts, in the order they run:
//! - `issuance`: CSR → appliance certificate through [`pki::Ca::with_signer`] and
//!   [`pki::Ca::sign_appliance_csr`], [`issuance::ISSUANCES`] times per backend, the two
//!   backends interleaved; every certificate is then checked against the issuing CA's key;
//! - `signing`: [`keys::Signer::sign`] on 64-byte messages, one thread, about 2 s per backend;
//! - `enroll`: the real binaries on loopback. `legatura up` runs a hub and its demo gateway;
//!   a second appliance gets a code from `legatura fleet enroll`, and the time from
//!   `gatewayd enroll CODE` to its daemon's `/readyz` answering 200 is measured;
//! - `revocation`: [`revocation::REVOCATIONS`] appliances, one after the other, each with a
//!   gatewayd carrying an HTTP request every 50 ms; `legatura fleet revoke` is timed until the
//!   gateway's `/readyz` turns 503 or its requests fail.
//!
//! SoftHSM2 reads `SOFTHSM2_CONF` from the process environment when it is initialised. Rather
//! than `set_var` (unsafe since Rust 2024, and racy once threads exist), the program writes a
//! throwaway configuration and token directory and re-executes itself with the variable set
//! ([`hsm::reexec`]); the token is created with `softhsm2-util`, so this crate needs no
//! cryptoki of its own (`keys` is the only PKCS#11 user).
//!
//! `PKI_BENCH_KEEP=1` keeps the scratch directory: `up`'s data directory and log, and each
//! extra gateway's configuration, key, certificate and log.
//!
//! Output: a table with targets beside values, `target/bench/pki.json` (a flat object of
//! numbers and booleans, complete runs only) and, as the last line, `pki: key=value …`. Targets
//! are reported, never enforced: this is a benchmark, not a timed test.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod enroll;
mod hsm;
mod issuance;
mod report;
mod revocation;
mod system;

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Result, bail};

use crate::report::Report;

/// The parts of the benchmark, in the order they run.
const PARTS: [&str; 4] = ["issuance", "signing", "enroll", "revocation"];

/// Progress on stderr, so stdout holds only the results.
macro_rules! progress {
    ($($arg:tt)*) => { eprintln!("pki-bench: {}", format_args!($($arg)*)) };
}
pub(crate) use progress;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parts = match parse_args(&args) {
        Ok(Some(parts)) => parts,
        Ok(None) => {
            println!(
                "usage: pki-bench                 the whole benchmark; writes target/bench/pki.json"
            );
            println!(
                "       pki-bench --only PARTS    some of {} (comma-separated); writes no JSON",
                PARTS.join(",")
            );
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("pki-bench: error: {error:#}");
            return ExitCode::from(2);
        }
    };
    let result = if hsm::in_child() {
        bench(&parts).map(|()| ExitCode::SUCCESS)
    } else {
        hsm::reexec(&args)
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("pki-bench: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The parts to run, or `None` for `--help`.
fn parse_args(args: &[String]) -> Result<Option<Vec<&'static str>>> {
    match args.first().map(String::as_str) {
        None => Ok(Some(PARTS.to_vec())),
        Some("-h" | "--help") => Ok(None),
        Some("--only") => {
            let Some(list) = args.get(1) else {
                bail!(
                    "--only takes a comma-separated list of: {}",
                    PARTS.join(",")
                );
            };
            let mut parts = Vec::new();
            for name in list.split(',') {
                match PARTS.iter().find(|p| **p == name) {
                    Some(p) => parts.push(*p),
                    None => bail!("unknown part `{name}`; parts: {}", PARTS.join(",")),
                }
            }
            Ok(Some(parts))
        }
        Some(other) => bail!("unknown argument `{other}`; see `pki-bench --help`"),
    }
}

/// Runs `parts` (inside the re-executed child, where SoftHSM2 has its own token directory).
fn bench(parts: &[&str]) -> Result<()> {
    let wants = |p: &str| parts.contains(&p);
    let mut report = Report::default();
    // Built first, so that a build failure costs no measurement and no build overlaps one.
    let binaries = if wants("enroll") || wants("revocation") {
        let build = Instant::now();
        let binaries = system::Binaries::build()?;
        report.num("build_s", build.elapsed().as_secs_f64());
        Some(binaries)
    } else {
        None
    };
    let started = Instant::now();

    if wants("issuance") || wants("signing") {
        let keys = hsm::Backends::create()?;
        if wants("issuance") {
            issuance::issuance(&keys, &mut report)?;
        }
        if wants("signing") {
            issuance::signing(&keys, &mut report)?;
        }
    }
    if let Some(binaries) = &binaries {
        let temp = tempfile::Builder::new().prefix("pki-bench-").tempdir()?;
        // Dropped after the daemons below, which use it.
        let (scratch, _removed_at_end) = if std::env::var_os("PKI_BENCH_KEEP").is_some() {
            let kept = temp.keep();
            progress!("keeping {} (PKI_BENCH_KEEP)", kept.display());
            (kept, None)
        } else {
            (temp.path().to_path_buf(), Some(temp))
        };
        let mut up = system::Up::start(binaries, &scratch.join("up"))?;
        report.flag("demo_gateway_ready", up.demo_ready);
        let second = if wants("enroll") {
            Some(enroll::enroll(binaries, &up, &scratch, &mut report)?)
        } else {
            None
        };
        if wants("revocation") {
            revocation::revocations(binaries, &mut up, &scratch, &mut report)?;
        }
        if let Some(mut second) = second {
            // Revocations must hit their target only: the first enrolled appliance stays up.
            let still_ready = second.is_ready();
            report.flag("unrevoked_gateway_still_ready", still_ready);
            drop(second);
        }
        drop(up);
    }
    // Measurement time, without the build.
    report.num("measure_s", started.elapsed().as_secs_f64());
    report.finish(parts.len() == PARTS.len())
}
