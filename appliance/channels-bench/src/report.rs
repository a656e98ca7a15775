//! The results: printed as a table, written to `target/bench/channels.json` as a flat object
//! of numbers and booleans, and summed up in the last line, `channels: k=v …`.

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

    /// Prints the table and the notes, writes the JSON and prints the last line.
    pub(crate) fn finish(self, notes: &[String]) -> Result<()> {
        println!("channels bench — one run on loopback, real sockets, a real SQLite store");
        for (key, value) in &self.entries {
            println!("  {key:<36} {}", render(*value));
        }
        for note in notes {
            println!("  note: {note}");
        }
        let path = benchkit::write_result("channels", &self.json())
            .context("writing target/bench/channels.json")?;
        progress!("wrote {}", path.display());
        let mut line = String::from("channels:");
        for key in SUMMARY {
            match self.get(key) {
                Some(v) => {
                    let _ = write!(line, " {key}={}", render(v));
                }
                None => {
                    let _ = write!(line, " {key}=not_measured");
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let mut v: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        assert_eq!(percentile(&mut v, 50.0), 50.0);
        assert_eq!(percentile(&mut v, 99.0), 99.0);
        assert!(percentile(&mut [], 50.0).is_nan());
    }

    #[test]
    fn the_json_is_one_flat_object() {
        let mut r = Report::default();
        r.num("mails", 2_000.0);
        r.num("p99_ms", 1.23456);
        r.flag("ok", true);
        let v: serde_json::Value = serde_json::from_str(&r.json()).expect("valid JSON");
        assert_eq!(v["mails"], 2_000);
        assert_eq!(v["p99_ms"], 1.2346);
        assert_eq!(v["ok"], true);
    }
}
