//! The results: printed next to their targets, written to `target/bench/tunnel.json` as a flat
//! object of numbers and booleans, and summed up in the last line, `tunnel: key=value …`.

use std::fmt::Write as _;

use anyhow::{Context as _, Result};

use crate::progress;

/// One measured value.
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

/// A goal from the tunnel reference (§10.2), reported, never enforced.
struct Target {
    key: &'static str,
    /// `true` when larger is better.
    at_least: bool,
    goal: f64,
    what: &'static str,
}

const TARGETS: &[Target] = &[
    Target {
        key: "throughput_ratio_vs_stunnel",
        at_least: true,
        goal: 0.5,
        what: "1 flow, × stunnel4",
    },
    Target {
        key: "throughput_ratio_vs_stunnel_8flows",
        at_least: true,
        goal: 0.8,
        what: "8 flows, × stunnel4",
    },
    Target {
        key: "cpu_per_gib_ratio_vs_stunnel",
        at_least: false,
        goal: 1.3,
        what: "CPU per GiB, × stunnel4 (1 flow)",
    },
    Target {
        key: "added_latency_p50_us",
        at_least: false,
        goal: 250.0,
        what: "added p50, µs (new stream)",
    },
    Target {
        key: "gateways_held",
        at_least: true,
        goal: 2000.0,
        what: "idle appliances on one hub",
    },
    Target {
        key: "kib_per_idle_connection",
        at_least: false,
        goal: 150.0,
        what: "hub RSS per idle appliance, KiB",
    },
    Target {
        key: "reconnect_400_s",
        at_least: false,
        goal: 2.0,
        what: "400 back after hub SIGKILL, s",
    },
];

/// Keys of the last line, in order.
const SUMMARY: &[&str] = &[
    "throughput_ratio_vs_stunnel",
    "throughput_ratio_vs_stunnel_8flows",
    "tunnel_mib_s",
    "stunnel_mib_s",
    "direct_tcp_mib_s",
    "tunnel_mib_s_8flows",
    "stunnel_mib_s_8flows",
    "direct_tcp_mib_s_8flows",
    "cpu_per_gib_ratio_vs_stunnel",
    "added_latency_p50_us",
    "added_latency_p99_us",
    "added_latency_ratio_vs_stunnel_new_conn",
    "handshake_p50_ms",
    "handshake_p99_ms",
    "gateways_held",
    "kib_per_idle_connection",
    "reconnect_400_s",
    "reconnect_keepalive_s",
    "in_netns",
    "lo_mtu_1500",
];

impl Report {
    pub(crate) fn num(&mut self, key: &str, value: f64) {
        self.entries.push((key.to_owned(), Value::Num(value)));
    }

    pub(crate) fn num_owned(&mut self, key: String, value: f64) {
        self.entries.push((key, Value::Num(value)));
    }

    pub(crate) fn flag(&mut self, key: &str, value: bool) {
        self.entries.push((key.to_owned(), Value::Bool(value)));
    }

    fn get(&self, key: &str) -> Option<Value> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    fn num_of(&self, key: &str) -> f64 {
        match self.get(key) {
            Some(Value::Num(n)) => n,
            _ => f64::NAN,
        }
    }

    /// Prints the table, writes the JSON (for a complete run only, so that a partial run never
    /// replaces a complete one), and prints the last line.
    pub(crate) fn finish(mut self, complete: bool) -> Result<()> {
        for t in TARGETS {
            if self.get(t.key).is_none() {
                continue;
            }
            let v = self.num_of(t.key);
            let met = if t.at_least { v >= t.goal } else { v <= t.goal };
            self.flag(&format!("{}_meets_target", t.key), met);
        }
        self.print_table();
        if complete {
            let path = benchkit::write_result("tunnel", &self.json())
                .context("cannot write target/bench/tunnel.json")?;
            progress!("wrote {}", path.display());
        } else {
            progress!("partial run (--only): no JSON written");
        }
        let mut line = String::from("tunnel:");
        for key in SUMMARY {
            if let Some(v) = self.get(key) {
                let _ = write!(line, " {key}={}", render(v));
            }
        }
        println!("{line}");
        Ok(())
    }

    fn print_table(&self) {
        let n = |k: &str| self.num_of(k);
        println!("tunnel bench — one run, network namespace, loopback MTU 1500");
        let has = |k: &str| self.get(k).is_some();
        if has("tunnel_mib_s") {
            println!(
                "  throughput (MiB/s, median of {})   direct TCP   stunnel4     tunnel",
                crate::REPS
            );
        }
        for (label, s) in [("1 flow ", ""), ("8 flows", "_8flows")]
            .into_iter()
            .filter(|(_, s)| has(&format!("tunnel_mib_s{s}")))
        {
            println!(
                "    {label}                          {:>10.1} {:>10.1} {:>10.1}   (CPU-s per GiB: stunnel4 {:.2}, tunnel {:.2})",
                n(&format!("direct_tcp_mib_s{s}")),
                n(&format!("stunnel_mib_s{s}")),
                n(&format!("tunnel_mib_s{s}")),
                n(&format!("stunnel_cpu_s_per_gib{s}")),
                n(&format!("tunnel_cpu_s_per_gib{s}"))
            );
        }
        if has("tunnel_lost_packets") {
            println!(
                "    QUIC packets the gateway declared lost over all runs: {}",
                n("tunnel_lost_packets")
            );
        }
        if has("added_latency_p50_us") {
            self.print_latency();
        }
        if has("handshake_p50_ms") {
            println!(
                "  full mTLS handshake to Welcome: p50 {:.2} ms, p99 {:.2} ms (one gateway reused: p50 {:.2} ms)",
                n("handshake_p50_ms"),
                n("handshake_p99_ms"),
                n("handshake_same_gateway_p50_ms")
            );
        }
        if has("gateways_held") {
            println!(
                "  idle fleet: {} of {} appliances held; hub RSS {:.0} → {:.0} KiB, {:.1} KiB each",
                n("gateways_held"),
                n("gateways_attempted"),
                n("hub_rss_idle_kib"),
                n("hub_rss_loaded_kib"),
                n("kib_per_idle_connection")
            );
        }
        if has("reconnect_400_s") {
            println!(
                "  hub SIGKILL + restart: {} of 400 back in {:.3} s from the restart ({:.3} s from the kill); keepalive {} s, idle timeout {} s",
                n("reconnected"),
                n("reconnect_400_s"),
                n("reconnect_400_from_kill_s"),
                n("reconnect_keepalive_s"),
                n("reconnect_idle_timeout_s")
            );
        }
        println!("  targets (reported, not enforced):");
        for t in TARGETS.iter().filter(|t| self.get(t.key).is_some()) {
            let v = n(t.key);
            let met = matches!(
                self.get(&format!("{}_meets_target", t.key)),
                Some(Value::Bool(true))
            );
            let cmp = if t.at_least { "≥" } else { "≤" };
            println!(
                "    {:<36} {:>10.3}   target {cmp} {:<8} {}",
                t.what,
                v,
                t.goal,
                if met { "met" } else { "MISSED" }
            );
        }
    }

    fn print_latency(&self) {
        let n = |k: &str| self.num_of(k);
        println!("  latency, 1 KiB req/resp, new TCP connection (µs)   p50        p99");
        for (label, k) in [
            ("direct TCP", "direct_tcp"),
            ("stunnel4", "stunnel"),
            ("tunnel", "tunnel"),
        ] {
            println!(
                "    {label:<12}                           {:>8.1}   {:>8.1}",
                n(&format!("{k}_latency_p50_us")),
                n(&format!("{k}_latency_p99_us"))
            );
        }
        println!(
            "    added by the tunnel {:.1} / {:.1} µs; by stunnel4 {:.1} / {:.1} µs; ratio (p50) {:.3}",
            n("added_latency_p50_us"),
            n("added_latency_p99_us"),
            n("stunnel_added_latency_p50_us"),
            n("stunnel_added_latency_p99_us"),
            n("added_latency_ratio_vs_stunnel_new_conn")
        );
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

/// A value as JSON (and in the last line): numbers rounded to three decimals, a value that
/// could not be measured as `null`.
fn render(value: Value) -> String {
    match value {
        Value::Bool(b) => b.to_string(),
        Value::Num(n) if n.is_finite() && n.fract() == 0.0 && n.abs() < 1e15 => format!("{n:.0}"),
        Value::Num(n) if n.is_finite() => {
            serde_json::Value::from((n * 1000.0).round() / 1000.0).to_string()
        }
        Value::Num(_) => "null".to_owned(),
    }
}

/// The median of `values` (the mean of the middle two for an even count).
pub(crate) fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// (max − min) / median, in percent.
pub(crate) fn spread_pct(values: &[f64]) -> f64 {
    let (min, max) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    (max - min) / median(values) * 100.0
}

/// The nearest-rank percentile of sorted values.
pub(crate) fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// User plus system CPU seconds used so far by the processes `pids` (all their threads).
pub(crate) fn cpu_seconds(pids: &[u32]) -> Result<f64> {
    // /proc reports clock ticks in USER_HZ, which is 100 on every Linux architecture we run.
    const TICKS_PER_SECOND: f64 = 100.0;
    let mut ticks = 0u64;
    for pid in pids {
        let path = format!("/proc/{pid}/stat");
        let stat = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
        // Fields after the parenthesised command name, which may itself hold spaces: state is
        // the first, utime the 12th and stime the 13th.
        let rest = stat
            .rsplit_once(')')
            .map(|(_, r)| r)
            .with_context(|| format!("malformed {path}"))?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        for i in [11, 12] {
            ticks += fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .with_context(|| format!("malformed {path}"))?;
        }
    }
    Ok(ticks as f64 / TICKS_PER_SECOND)
}
