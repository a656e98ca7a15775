//! The results: printed as a table, written to `target/bench/telephony.json` as a flat object
//! of numbers and booleans, and summed up in the last line, `telephony: k=v …`.

use anyhow::{Context as _, Result};

use benchkit::Figures;

use crate::progress;

/// Every figure of the run, in the order measured.
#[derive(Debug, Default)]
pub(crate) struct Report {
    figures: Figures,
}

/// Keys of the last line, in order.
const SUMMARY: &[&str] = &[
    "cps_knee",
    "kamailio_cps_knee",
    "knee_ratio_vs_kamailio",
    "failed_calls_at_100cps",
    "answer_p95_ms",
    "rtp_relay_calls",
    "kib_per_dialog",
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

    /// Prints the table and the notes, writes the JSON and prints the last line.
    pub(crate) fn finish(self, notes: &[String]) -> Result<()> {
        println!(
            "telephony bench — one run on loopback: our engine and Kamailio, the same SIPp caller and phone"
        );
        for (key, value) in self.figures.iter() {
            println!("  {key:<36} {value}");
        }
        for note in notes {
            println!("  note: {note}");
        }
        let path = benchkit::write_result("telephony", &self.figures.json())
            .context("writing target/bench/telephony.json")?;
        progress!("wrote {}", path.display());
        let line = self.figures.summary_line("telephony", SUMMARY);
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
        r.num("calls", 2_000.0);
        r.num("p99_ms", 1.23456);
        r.flag("ok", true);
        let v: serde_json::Value = serde_json::from_str(&r.figures.json()).expect("valid JSON");
        assert_eq!(v["calls"], 2_000);
        assert_eq!(v["p99_ms"], 1.2346);
        assert_eq!(v["ok"], true);
    }
}
