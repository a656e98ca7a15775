//! The results: printed beside their targets, written to `target/bench/casestore.json` as a
//! flat object of numbers and booleans, and summed up in the last line, `casestore: k=v …`.

use std::fmt::Write as _;

use anyhow::{Context as _, Result};

use crate::progress;

#[derive(Debug, Clone, Copy)]
enum Value {
    Num(f64),
    Bool(bool),
}

/// Every figure of the run, in the order measured.
#[derive(Debug, Default)]
pub(crate) struct Report {
    entries: Vec<(String, Value)>,
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
    "search_p99_ms",
    "queue_page_p99_ms",
    "db_bytes_per_case",
    "bulk_import_cases_per_s",
    "portal_submit_per_s",
    "counters_consistent",
];

/// The `q`-th percentile by nearest rank; sorts `samples`. `NaN` when there are none.
pub(crate) fn percentile(samples: &mut [f64], q: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort_by(f64::total_cmp);
    let rank = (q / 100.0 * samples.len() as f64).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}

impl Report {
    /// Records a number; one that could not be measured (not finite) is left out.
    pub(crate) fn num(&mut self, key: &str, value: f64) {
        if value.is_finite() {
            self.entries.push((key.to_owned(), Value::Num(value)));
        } else {
            progress!("{key} could not be measured ({value}); left out");
        }
    }

    pub(crate) fn flag(&mut self, key: &str, value: bool) {
        self.entries.push((key.to_owned(), Value::Bool(value)));
    }

    fn get(&self, key: &str) -> Option<Value> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
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
        for (key, value) in &self.entries {
            println!("  {key:<36} {}", render(*value));
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
            let path = benchkit::write_result("casestore", &self.json())
                .context("writing target/bench/casestore.json")?;
            progress!("wrote {}", path.display());
        } else {
            progress!("smaller than 1,000,000 cases: no JSON written");
        }
        let mut line = String::from("casestore:");
        for key in SUMMARY {
            if let Some(v) = self.get(key) {
                let _ = write!(line, " {key}={}", render(v));
            }
        }
        println!("{line}");
        Ok(())
    }

    fn json(&self) -> String {
        let mut out = String::from("{\n");
        for (i, (key, value)) in self.entries.iter().enumerate() {
            let sep = if i + 1 == self.entries.len() { "" } else { "," };
            let _ = writeln!(
                out,
                "  {}: {}{sep}",
                serde_json::Value::from(key.as_str()),
                render(*value)
            );
        }
        out.push_str("}\n");
        out
    }
}

/// A value as JSON: numbers with up to 4 decimals, booleans as such.
fn render(v: Value) -> String {
    match v {
        Value::Num(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{n:.0}"),
        Value::Num(n) => {
            let s = format!("{n:.4}");
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        }
        Value::Bool(b) => b.to_string(),
    }
}
