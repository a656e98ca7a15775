//! The results: printed as a table, written to `target/bench/channels.json` as a flat object
//! of numbers and booleans, and summed up in the last line, `channels: k=v …`.

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
    "mail_in_per_s",
    "mail_in_p50_ms",
    "mail_in_p99_ms",
    "outbox_per_s",
    "chat_msg_p50_ms",
    "chat_msg_p99_ms",
    "chat_measured",
    "clamd",
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
        println!("channels bench — one run on loopback, real sockets, a real SQLite store");
        for (key, value) in self.figures.iter() {
            println!("  {key:<36} {value}");
        }
        for note in notes {
            println!("  note: {note}");
        }
        let path = benchkit::write_result("channels", &self.figures.json())
            .context("writing target/bench/channels.json")?;
        progress!("wrote {}", path.display());
        let line = self.figures.summary_line("channels", SUMMARY);
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
        r.num("mails", 2_000.0);
        r.num("p99_ms", 1.23456);
        r.flag("ok", true);
        let v: serde_json::Value = serde_json::from_str(&r.figures.json()).expect("valid JSON");
        assert_eq!(v["mails"], 2_000);
        assert_eq!(v["p99_ms"], 1.2346);
        assert_eq!(v["ok"], true);
    }
}
