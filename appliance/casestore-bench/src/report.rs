//! The results: printed beside their targets, written to `target/bench/casestore.json` as a
//! flat object of numbers and booleans, and summed up in the last line, `casestore: k=v …`.

use std::fmt::Write as _;

use anyhow::{Context as _, Result};

use benchkit::{Figures, Value};

use crate::progress;

/// Every figure of the run, in the order measured.
#[derive(Debug, Default)]
pub(crate) struct Report {
    figures: Figures,
}

/// A goal, reported and never enforced.
struct Target {
    key: &'static str,
    at_least: bool,
    goal: f64,
    what: &'static str,
}

const TARGETS: &[Target] = &[
    Target {
        key: "intake_ratio_vs_raw_sqlite",
        at_least: true,
        goal: 0.5,
        what: "intake, store API ÷ plain rusqlite",
    },
    Target {
        key: "search_p99_ms",
        at_least: false,
        goal: 10.0,
        what: "search, top 50 by recency, p99 ms",
    },
    Target {
        key: "queue_page_p99_ms",
        at_least: false,
        goal: 20.0,
        what: "queue page, p99 ms",
    },
];

/// Keys of the last line, in order.
const SUMMARY: &[&str] = &[
    "cases",
    "intake_per_s",
    "raw_sqlite_insert_per_s",
    "intake_ratio_vs_raw_sqlite",
    "intake_pages_per_case",
    "raw_sqlite_pages_per_case",
    "search_p99_ms",
    "queue_page_p99_ms",
    "db_bytes_per_case",
    "bulk_import_cases_per_s",
    "portal_submit_per_s",
    "counters_consistent",
];

impl Report {
    /// Records a number; one that could not be measured (not finite) is left out.
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

    /// Prints the table, writes the JSON (for a full-size run only, so a quick run never
    /// replaces a real one) and prints the last line.
    pub(crate) fn finish(mut self, full_size: bool) -> Result<()> {
        for t in TARGETS {
            if let Some(Value::Num(v)) = self.get(t.key) {
                let met = if t.at_least { v >= t.goal } else { v <= t.goal };
                self.flag(&format!("{}_meets_target", t.key), met);
            }
        }
        println!("casestore bench — one run; baseline: the same rows with plain rusqlite");
        for (key, value) in self.figures.iter() {
            println!("  {key:<36} {value}");
        }
        println!("  targets (reported, not enforced):");
        for t in TARGETS {
            if let (Some(Value::Num(v)), Some(Value::Bool(met))) = (
                self.get(t.key),
                self.get(&format!("{}_meets_target", t.key)),
            ) {
                let cmp = if t.at_least { "≥" } else { "≤" };
                println!(
                    "    {:<40} {v:>10.3}   target {cmp} {:<6} {}",
                    t.what,
                    t.goal,
                    if met { "met" } else { "MISSED" }
                );
            }
        }
        if full_size {
            let path = benchkit::write_result("casestore", &self.figures.json())
                .context("writing target/bench/casestore.json")?;
            progress!("wrote {}", path.display());
        } else {
            progress!("smaller than 1,000,000 cases: no JSON written");
        }
        let mut line = String::from("casestore:");
        for key in SUMMARY {
            if let Some(v) = self.get(key) {
                let _ = write!(line, " {key}={}", v);
            }
        }
        println!("{line}");
        Ok(())
    }
}
