//! The results: printed as a table, written to `target/bench/console.json` as a flat object
//! of numbers and booleans (full-size runs only), and summed up in the last line,
//! `console: k=v …`.

use std::fmt::Write as _;

use anyhow::{Context as _, Result};

use benchkit::{Figures, Value};

use crate::progress;

/// Every figure of the run, in the order measured.
#[derive(Debug, Default)]
pub(crate) struct Report {
    figures: Figures,
}

/// Keys of the last line, in order.
const SUMMARY: &[&str] = &[
    "cases",
    "store_build_s",
    "direct_queue_page_p50_ms",
    "direct_queue_page_p99_ms",
    "gateway_queue_page_p50_ms",
    "gateway_queue_page_p99_ms",
    "direct_case_view_p50_ms",
    "direct_case_view_p99_ms",
    "gateway_case_view_p50_ms",
    "gateway_case_view_p99_ms",
    "dashboard_p50_ms",
    "dashboard_p99_ms",
    "direct_rps",
    "gateway_rps",
    "dashboard_rps",
    "tunnel_overhead_ratio",
    "tunnel_overhead_p99_ratio",
    "tunnel_added_p50_ms",
    "queue_page_p99_ok",
    "case_view_p99_ok",
    "dashboard_p99_ok",
    "tunnel_overhead_ok",
];

/// The targets, as the table states them: (flag, what, goal).
const TARGETS: &[(&str, &str)] = &[
    ("queue_page_p99_ok", "queue page p99 < 50 ms, both paths"),
    ("case_view_p99_ok", "case view p99 < 50 ms, both paths"),
    ("dashboard_p99_ok", "dashboard p99 < 200 ms"),
    (
        "tunnel_overhead_ok",
        "through-gateway p50 ÷ direct p50 < 1.5",
    ),
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
    pub(crate) fn finish(self, full_size: bool) -> Result<()> {
        println!(
            "console bench — one run; direct = the central listener, gateway = through the tunnel"
        );
        for (key, value) in self.figures.iter() {
            println!("  {key:<36} {value}");
        }
        println!("  targets (reported, not enforced):");
        for (key, what) in TARGETS {
            if let Some(Value::Bool(met)) = self.get(key) {
                println!("    {what:<44} {}", if met { "met" } else { "MISSED" });
            }
        }
        if full_size {
            let path = benchkit::write_result("console", &self.figures.json())
                .context("writing target/bench/console.json")?;
            progress!("wrote {}", path.display());
        } else {
            progress!("smaller than 1,000,000 cases: no JSON written");
        }
        let mut line = String::from("console:");
        for key in SUMMARY {
            if let Some(v) = self.get(key) {
                let _ = write!(line, " {key}={}", v);
            }
        }
        println!("{line}");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_is_one_flat_object() {
        let mut r = Report::default();
        r.num("cases", 1_000_000.0);
        r.num("p99_ms", 1.23456);
        r.flag("ok", true);
        let v: serde_json::Value = serde_json::from_str(&r.figures.json()).expect("valid JSON");
        assert_eq!(v["cases"], 1_000_000);
        assert_eq!(v["p99_ms"], 1.2346);
        assert_eq!(v["ok"], true);
    }
}
