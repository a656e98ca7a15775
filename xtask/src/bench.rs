//! `cargo xtask bench NAME`: benchmarks are programs, each its own workspace package.
//!
//! A benchmark prints ratios against a baseline it measures in the same run (e.g. the tunnel
//! against stunnel), so its numbers mean something on any machine. They are not timed tests.

use anyhow::{Result, bail};

use crate::metadata::Metadata;
use crate::{cmd, deps};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Benchmark to run; see `--list`.
    #[arg(required_unless_present = "list", conflicts_with = "list")]
    name: Option<String>,
    /// List the benchmarks, then exit.
    #[arg(long)]
    list: bool,
    /// Arguments for the benchmark program.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

impl Args {
    /// The benchmark asked for, if any.
    pub(crate) fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

/// A benchmark name and the package whose binary runs it.
struct Bench {
    name: &'static str,
    package: &'static str,
    about: &'static str,
}

/// Every benchmark; adding one is adding a line.
const BENCHES: &[Bench] = &[
    Bench {
        name: "tunnel",
        package: "tunnel-bench",
        about: "TCP and UDP through the tunnel, against stunnel over the same links",
    },
    Bench {
        name: "casestore",
        package: "casestore-bench",
        about: "1M cases: intake vs plain rusqlite, recency search, queue pages, bytes per case",
    },
    Bench {
        name: "console",
        package: "console-bench",
        about: "1M cases: the console's queue pages, case views, dashboard, direct and through the tunnel",
    },
    Bench {
        name: "channels",
        package: "channels-bench",
        about: "mail in over SMTP, the outbox to an aiosmtpd relay, 200 live chats to the agent",
    },
    Bench {
        name: "telephony",
        package: "telephony-bench",
        about: "SIP calls through the bridge against Kamailio (ramp knee, 100/s), RTP relay, memory",
    },
    Bench {
        name: "pki",
        package: "pki-bench",
        about: "issuance and signing in SoftHSM2 vs the key store; enrollment; revocation",
    },
];

pub(crate) fn run(args: &Args) -> Result<()> {
    let Some(name) = args.name.as_deref() else {
        for bench in BENCHES {
            println!("{:<12} {:<16} {}", bench.name, bench.package, bench.about);
        }
        return Ok(());
    };
    let Some(bench) = BENCHES.iter().find(|b| b.name == name) else {
        let names: Vec<&str> = BENCHES.iter().map(|b| b.name).collect();
        bail!("no benchmark `{name}`; known: {}", names.join(", "));
    };
    if Metadata::load()?.package(bench.package).is_none() {
        bail!(
            "benchmark `{}` runs package `{}`, which is not a workspace member yet \
             (add it to `members` in the root Cargo.toml)",
            bench.name,
            bench.package
        );
    }
    // Baselines such as stunnel and iperf3 come from Debian.
    deps::ensure()?;
    cmd::run(
        cmd::cargo()
            .args(["run", "--release", "--package", bench.package, "--"])
            .args(&args.args),
    )
}
