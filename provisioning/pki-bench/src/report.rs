//! The results: printed beside their targets, written to `target/bench/pki.json` as a flat
//! object of numbers and booleans, and summed up in the last line, `pki: key=value …`.

use std::fmt::Write as _;

use anyhow::{Context as _, Result};

use benchkit::{Figures, Value};

use crate::progress;

/// Every figure of the run, in the order measured.
#[derive(Debug, Default)]
pub(crate) struct Report {
    figures: Figures,
}

/// A goal, reported and never enforced; `goal: None` is a figure shown without one.
struct Target {
    key: &'static str,
    /// `true` when larger is better.
    at_least: bool,
    goal: Option<f64>,
    what: &'static str,
}

const TARGETS: &[Target] = &[
    Target {
        key: "issuance_p99_ms",
        at_least: false,
        goal: None,
        what: "issuance p99, SoftHSM2 key, ms",
    },
    Target {
        key: "hsm_vs_software_ratio",
        at_least: true,
        goal: None,
        what: "signatures/s, SoftHSM2 × software",
    },
    Target {
        key: "enroll_s",
        at_least: false,
        goal: None,
        what: "code typed → tunnel up, s",
    },
    Target {
        key: "revocation_p99_s",
        at_least: false,
        goal: Some(5.0),
        what: "revocation under traffic p99, s",
    },
];

/// Keys of the last line, in order.
const SUMMARY: &[&str] = &[
    "issuance_p50_ms",
    "issuance_p99_ms",
    "issuance_software_p99_ms",
    "hsm_signatures_per_s",
    "software_signatures_per_s",
    "hsm_vs_software_ratio",
    "enroll_s",
    "revocation_p50_s",
    "revocation_p99_s",
    "revocation_max_s",
    "revocation_p99_s_meets_target",
    "revoked_gateways_stayed_out",
];

impl Report {
    /// Records a number; one that could not be measured (not finite) is left out, so the JSON
    /// holds numbers and booleans only.
    pub(crate) fn num(&mut self, key: &str, value: f64) {
        if !self.figures.num(key, value) {
            progress!("{key} could not be measured ({value}); left out");
        }
    }

    pub(crate) fn flag(&mut self, key: &str, value: bool) {
        self.figures.flag(key, value);
    }

    fn get(&self, key: &str) -> Option<Value> {
        self.figures.get(key)
    }

    fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    fn n(&self, key: &str) -> f64 {
        match self.get(key) {
            Some(Value::Num(n)) => n,
            _ => f64::NAN,
        }
    }

    fn yes(&self, key: &str) -> &'static str {
        match self.get(key) {
            Some(Value::Bool(true)) => "yes",
            Some(Value::Bool(false)) => "NO",
            _ => "-",
        }
    }

    /// Prints the table, writes the JSON (for a complete run only, so that a partial run never
    /// replaces a complete one), and prints the last line.
    pub(crate) fn finish(mut self, complete: bool) -> Result<()> {
        for t in TARGETS {
            if let (Some(goal), true) = (t.goal, self.has(t.key)) {
                let v = self.n(t.key);
                let met = if t.at_least { v >= goal } else { v <= goal };
                self.flag(&format!("{}_meets_target", t.key), met);
            }
        }
        self.print_table();
        if complete {
            let path = benchkit::write_result("pki", &self.figures.json())
                .context("writing target/bench/pki.json")?;
            progress!("wrote {}", path.display());
        } else {
            progress!("partial run (--only): no JSON written");
        }
        let mut line = String::from("pki:");
        for key in SUMMARY {
            if let Some(v) = self.get(key) {
                let _ = write!(line, " {key}={}", v);
            }
        }
        println!("{line}");
        Ok(())
    }

    fn print_table(&self) {
        println!("pki bench — one run; issuing key in SoftHSM2, baseline the software key store");
        if self.has("issuance_p50_ms") {
            println!(
                "  issuance, CSR → certificate ({} per backend, interleaved)   p50 ms    p99 ms",
                self.n("issuances")
            );
            for (label, k) in [("SoftHSM2", "issuance"), ("software", "issuance_software")] {
                println!(
                    "    {label:<58} {:>7.3}   {:>7.3}",
                    self.n(&format!("{k}_p50_ms")),
                    self.n(&format!("{k}_p99_ms"))
                );
            }
            println!(
                "    SoftHSM2 × software (p50) {:.2}; every certificate verifies: {}",
                self.n("issuance_p50_hsm_vs_software_ratio"),
                self.yes("issued_certificates_verify")
            );
        }
        if self.has("hsm_signatures_per_s") {
            println!(
                "  signatures/s, 64-byte messages, one thread: SoftHSM2 {:.0}, software {:.0} \
                 (SoftHSM2 × software {:.3})",
                self.n("hsm_signatures_per_s"),
                self.n("software_signatures_per_s"),
                self.n("hsm_vs_software_ratio")
            );
        }
        if self.has("demo_gateway_ready") {
            println!(
                "  legatura up: demo gateway ready at the banner: {}",
                self.yes("demo_gateway_ready")
            );
        }
        if self.has("enroll_s") {
            println!(
                "  enrollment, code typed → tunnel up: {:.3} s (gatewayd enroll {:.3} s, daemon \
                 start → /readyz 200 {:.3} s)",
                self.n("enroll_s"),
                self.n("enroll_exchange_s"),
                self.n("enroll_start_to_ready_s")
            );
        }
        if self.has("revocation_p99_s") {
            println!(
                "  revocation under traffic ({} appliances; from `legatura fleet revoke` to \
                 /readyz 503 or a failed request):",
                self.n("revocations")
            );
            println!(
                "    p50 {:.3} s, p99 {:.3} s, max {:.3} s; CLI p50 {:.3} s",
                self.n("revocation_p50_s"),
                self.n("revocation_p99_s"),
                self.n("revocation_max_s"),
                self.n("revocation_cli_p50_s")
            );
            println!(
                "    p99 to /readyz 503 {:.3} s; traffic cut {:.3} s (requests every 50 ms), a \
                 failed request seen {:.3} s (client timeout {} s)",
                self.n("revocation_readyz_p99_s"),
                self.n("revocation_traffic_cut_p99_s"),
                self.n("revocation_traffic_fail_seen_p99_s"),
                self.n("revocation_request_timeout_s")
            );
            println!(
                "    timed out: {}; revoked gateways stayed out: {}; unrevoked gateway still \
                 ready: {}",
                self.n("revocation_timeouts"),
                self.yes("revoked_gateways_stayed_out"),
                self.yes("unrevoked_gateway_still_ready")
            );
        }
        println!("  targets (reported, not enforced):");
        for t in TARGETS.iter().filter(|t| self.has(t.key)) {
            let v = self.n(t.key);
            let (target, verdict) = match t.goal {
                Some(goal) => {
                    let met = matches!(
                        self.get(&format!("{}_meets_target", t.key)),
                        Some(Value::Bool(true))
                    );
                    let cmp = if t.at_least { "≥" } else { "≤" };
                    (format!("{cmp} {goal}"), if met { "met" } else { "MISSED" })
                }
                None => ("none".to_owned(), ""),
            };
            println!(
                "    {:<36} {v:>10.3}   target {target:<8} {verdict}",
                t.what
            );
        }
    }
}
