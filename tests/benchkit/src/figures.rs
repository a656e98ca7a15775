//! A run's figures: numbers and booleans in the order measured, rendered the same way in the
//! printed table, the last line and `target/bench/NAME.json`.

use std::fmt::{self, Write as _};

/// One figure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    Num(f64),
    Bool(bool),
}

impl fmt::Display for Value {
    /// Numbers with up to 4 decimals (whole ones without), booleans as such: valid JSON.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Value::Num(n) if n.fract() == 0.0 && n.abs() < 1e15 => write!(f, "{n:.0}"),
            Value::Num(n) => {
                let s = format!("{n:.4}");
                f.write_str(s.trim_end_matches('0').trim_end_matches('.'))
            }
            Value::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// Every figure of a run, in the order measured.
#[derive(Debug, Default)]
pub struct Figures {
    entries: Vec<(String, Value)>,
}

impl Figures {
    /// Records a number. One that could not be measured (not finite) is left out, and
    /// `false` says so, for the caller to tell the reader.
    pub fn num(&mut self, key: &str, value: f64) -> bool {
        let finite = value.is_finite();
        if finite {
            self.entries.push((key.to_owned(), Value::Num(value)));
        }
        finite
    }

    pub fn flag(&mut self, key: &str, value: bool) {
        self.entries.push((key.to_owned(), Value::Bool(value)));
    }

    pub fn get(&self, key: &str) -> Option<Value> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    /// The figures in the order measured.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Value)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// One flat JSON object, a member per line.
    pub fn json(&self) -> String {
        let mut out = String::from("{\n");
        for (i, (key, value)) in self.entries.iter().enumerate() {
            let sep = if i + 1 == self.entries.len() { "" } else { "," };
            let _ = writeln!(
                out,
                "  {}: {value}{sep}",
                serde_json::Value::from(key.as_str())
            );
        }
        out.push_str("}\n");
        out
    }

    /// A benchmark's last line, `NAME: key=value …`, one pair per key in `keys`
    /// (`key=not_measured` for a figure the run did not get).
    pub fn summary_line(&self, name: &str, keys: &[&str]) -> String {
        let mut line = format!("{name}:");
        for key in keys {
            match self.get(key) {
                Some(v) => {
                    let _ = write!(line, " {key}={v}");
                }
                None => {
                    let _ = write!(line, " {key}=not_measured");
                }
            }
        }
        line
    }
}

/// The `q`-th percentile by nearest rank; sorts `samples`. `NaN` when there are none.
pub fn percentile(samples: &mut [f64], q: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort_by(f64::total_cmp);
    let rank = (q / 100.0 * samples.len() as f64).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
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
    fn the_json_is_one_flat_object_and_unmeasured_numbers_are_left_out() {
        let mut f = Figures::default();
        assert!(f.num("cases", 1_000_000.0));
        assert!(f.num("p99_ms", 1.23456));
        assert!(!f.num("nothing", f64::NAN));
        f.flag("ok", true);
        assert_eq!(
            f.json(),
            "{\n  \"cases\": 1000000,\n  \"p99_ms\": 1.2346,\n  \"ok\": true\n}\n"
        );
        assert_eq!(f.get("nothing"), None);
        assert_eq!(Value::Num(0.5).to_string(), "0.5");
    }
}
