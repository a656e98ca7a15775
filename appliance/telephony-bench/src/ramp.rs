//! The capacity knee: the same SIPp caller ramps its call rate through a relay (our engine or
//! Kamailio) to the same SIPp phone until the first failed call or retransmission, on
//! either SIPp. The knee is the highest rate of a period that ended before that.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::sipp::{self, Period, Sipp};
use crate::{procs, progress};

/// The ramp, the same for both relays.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ramp {
    pub(crate) start: u32,
    pub(crate) step: u32,
    /// Seconds per step.
    pub(crate) interval: u32,
    pub(crate) max: u32,
    /// How long each call is held before the caller hangs up, in ms.
    pub(crate) hold_ms: u32,
}

/// What a ramp found.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Knee {
    /// The highest call rate of a clean period (calls created per second).
    pub(crate) cps: f64,
    /// The ramp's step then.
    pub(crate) step: f64,
    /// False when the ramp reached its maximum cleanly: the knee is higher than measured.
    pub(crate) found: bool,
    /// CPU of the relay (with its worker processes) per call created, ms.
    pub(crate) cpu_ms_per_call: f64,
    pub(crate) calls: u64,
    pub(crate) load_before: f64,
    /// Calls the relay refused with 5xx (e.g. 503 with its tables full).
    pub(crate) server_errors: u64,
    /// UDP datagrams the kernel dropped on full receive buffers during the ramp.
    pub(crate) rcvbuf_errors: u64,
    /// Of those, dropped at the relay's own SIP socket.
    pub(crate) relay_drops: u64,
}

/// The knee in SIPp's periods: `bad` is when the first period with a failed call or a
/// retransmission ended (on the caller or the phone); a caller's period counts as clean
/// if it ended at least one period before that.
pub(crate) fn knee(caller: &[Period], phone: &[Period]) -> (f64, f64, Option<f64>) {
    let bad = caller
        .iter()
        .chain(phone)
        .filter(|p| p.failed > 0 || p.retransmissions > 0)
        .map(|p| p.at)
        .min_by(f64::total_cmp);
    let clean = caller
        .iter()
        .filter(|p| bad.is_none_or(|b| p.at <= b - 0.95))
        .max_by(|a, b| a.rate.total_cmp(&b.rate));
    match clean {
        Some(p) => (p.rate, p.target, bad),
        None => (0.0, 0.0, bad),
    }
}

/// Runs one ramp against `relay` (whose CPU is `relay_pid`'s and its children's), the phone
/// already listening on `phone_port` and reachable through the relay.
pub(crate) fn run(
    name: &str,
    relay: SocketAddr,
    relay_pid: u32,
    phone: &Sipp,
    ramp: Ramp,
) -> Result<Knee> {
    let load_before = procs::loadavg();
    let script = sipp::scenario("uac.xml");
    let target = relay.to_string();
    let numbers =
        [ramp.start, ramp.step, ramp.interval, ramp.max, ramp.hold_ms].map(|n| n.to_string());
    let limit = (ramp.max * (ramp.hold_ms / 1000 + 2)).to_string();
    let args = [
        "-sf",
        script.to_str().unwrap_or_default(),
        &target,
        "-s",
        crate::engine::AGENT,
        "-pause_msg_ign",
        "-r",
        &numbers[0],
        "-rate_increase",
        &numbers[1],
        "-rate_interval",
        &numbers[2],
        "-rate_max",
        &numbers[3],
        "-d",
        &numbers[4],
        "-l",
        &limit,
    ];
    let cpu_before = procs::cpu_ms_with_children(relay_pid);
    let rcvbuf_before = procs::udp_rcvbuf_errors();
    let mut caller = Sipp::start(
        &format!("{name} ramp caller"),
        &sipp::at(procs::free_port()?, &args),
    )?;
    let steps = (ramp.max - ramp.start) / ramp.step.max(1) + 1;
    let deadline = Instant::now() + Duration::from_secs(u64::from(steps * ramp.interval) + 10);
    let mut at_max = 0;
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let (c, p) = (caller.periods(), phone.periods());
        let (_, _, bad) = knee(&c, &p);
        let last = c.last().map_or(0.0, |p| p.at);
        if bad.is_some_and(|b| last >= b + 1.0) {
            break;
        }
        if let Some(p) = c.last()
            && p.target >= f64::from(ramp.max)
        {
            at_max += 1;
            // Three clean periods at the maximum are enough.
            if at_max >= 6 {
                break;
            }
        }
        if Instant::now() > deadline {
            progress!("{name}: the ramp ran out of time");
            break;
        }
    }
    let cpu = procs::cpu_ms_with_children(relay_pid) - cpu_before;
    let rcvbuf_errors = procs::udp_rcvbuf_errors().saturating_sub(rcvbuf_before);
    let relay_drops = procs::udp_drops_by_port()
        .into_iter()
        .filter(|(port, _)| *port == relay.port())
        .map(|(_, drops)| drops)
        .sum();
    caller.stop();
    let periods = caller.periods();
    let (cps, step, bad) = knee(&periods, &phone.periods());
    let calls = periods.last().map_or(0, |p| p.created_total);
    progress!(
        "{name}: knee {cps:.0} calls/s (step {step:.0}){}; {calls} calls",
        if bad.is_some() {
            ""
        } else {
            ", the ramp's maximum, no failure"
        }
    );
    Ok(Knee {
        cps,
        step,
        found: bad.is_some(),
        cpu_ms_per_call: if calls > 0 {
            cpu / calls as f64
        } else {
            f64::NAN
        },
        calls,
        load_before,
        server_errors: caller.server_errors(),
        rcvbuf_errors,
        relay_drops,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn period(at: f64, rate: f64, failed: u64, retransmissions: u64) -> Period {
        Period {
            at,
            target: (rate / 100.0).ceil() * 100.0,
            rate,
            current: 0,
            successful: 0,
            failed,
            retransmissions,
            created_total: 0,
            successful_total: 0,
            failed_total: 0,
            retransmissions_total: 0,
        }
    }

    #[test]
    fn the_knee_is_the_best_period_before_the_first_bad_one_on_either_side() {
        let caller = [
            period(10.0, 100.0, 0, 0),
            period(11.0, 200.0, 0, 0),
            period(12.0, 300.0, 0, 0),
            period(13.0, 400.0, 0, 1),
            period(14.0, 350.0, 3, 9),
        ];
        assert_eq!(knee(&caller, &[]), (300.0, 300.0, Some(13.0)));
        // A retransmission by the phone in the period ending at 12.5 makes 300 doubtful.
        let phone = [period(11.5, 0.0, 0, 0), period(12.5, 0.0, 0, 1)];
        assert_eq!(knee(&caller, &phone), (200.0, 200.0, Some(12.5)));
        // Clean throughout: the best period, and no failure.
        assert_eq!(knee(&caller[..3], &[]), (300.0, 300.0, None));
    }
}
