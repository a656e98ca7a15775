//! The page itself: from what provisioning last said and what gatewayd says, one verdict in
//! words for the person at the embassy (what is wrong, what to do), the details beneath it,
//! and the same as JSON for scripts. Pure: no I/O, so every case is a unit test.
//!
//! Invariant: everything shown comes from the provisioning status file and gatewayd's
//! `/status`, neither of which holds a code or a key; every text is HTML-escaped.

use std::fmt::Write as _;

use crate::gatewayd::{Gatewayd, Status};
use crate::provision::{Provision, Said, State};

/// What the page is made from, gathered for one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub provision: Provision,
    pub gatewayd: Gatewayd,
}

/// How the box is doing, in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// The tunnel is up; nothing to do.
    Working,
    /// On its way (starting, enrolling); nothing to do yet.
    Waiting,
    /// Something needs someone.
    Problem,
}

impl Level {
    /// The name in `/status.json`'s `"verdict"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Working => "working",
            Self::Waiting => "waiting",
            Self::Problem => "problem",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Working => "OK",
            Self::Waiting => "WAITING",
            Self::Problem => "PROBLEM",
        }
    }
}

/// The verdict: a level, what it means, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub level: Level,
    pub summary: String,
    pub advice: String,
}

fn verdict(level: Level, summary: impl Into<String>, advice: impl Into<String>) -> Verdict {
    Verdict {
        level,
        summary: summary.into(),
        advice: advice.into(),
    }
}

const SET_CODE: &str = "Set the boot credential legatura.enroll-code (the SMBIOS OEM string \
     io.systemd.credential:legatura.enroll-code=<the code from the NOC>) and restart the box.";
const CONSOLE: &str = "If this lasts, read the serial console and call the NOC (docs/install.md).";

impl Snapshot {
    fn said(&self) -> Option<&Said> {
        match &self.provision {
            Provision::Said(said) => Some(said),
            _ => None,
        }
    }

    fn said_state(&self) -> Option<State> {
        self.said().map(|s| s.state)
    }

    fn status(&self) -> Option<&Status> {
        match &self.gatewayd {
            Gatewayd::Answered(status) => Some(status),
            _ => None,
        }
    }

    /// `mission/appliance`, when gatewayd knows it.
    pub fn identity(&self) -> Option<String> {
        let s = self.status()?;
        match (&s.mission, &s.appliance) {
            (Some(m), Some(a)) => Some(format!("{m}/{a}")),
            _ => None,
        }
    }

    /// What the page says first.
    pub fn verdict(&self) -> Verdict {
        match &self.gatewayd {
            Gatewayd::Answered(status) => self.verdict_from_gatewayd(status),
            Gatewayd::Unreadable(_) => verdict(
                Level::Problem,
                "gatewayd answers, but its status is unreadable.",
                CONSOLE,
            ),
            Gatewayd::NotRunning(_) => self.verdict_without_gatewayd(),
        }
    }

    fn verdict_from_gatewayd(&self, s: &Status) -> Verdict {
        let retry = s
            .retry_in_s
            .map_or_else(String::new, |n| format!(" in {}", duration(n)));
        match s.enrollment.as_deref() {
            Some("waiting_for_code") => verdict(
                Level::Problem,
                "Not enrolled: this box was given no enrollment code.",
                match self.said() {
                    Some(said) if said.state == State::NoCode => said.message.clone(),
                    _ => SET_CODE.to_owned(),
                },
            ),
            Some("enrolling") => verdict(
                Level::Waiting,
                "Enrolling with the hub.",
                "Nothing to do yet; this page refreshes itself.",
            ),
            Some("retrying") => verdict(
                Level::Problem,
                format!("Cannot reach the hub to enrol; trying again{retry}."),
                "Nothing to do on the box: check the embassy's uplink and firewall (UDP to the \
                 hub's port), or call the NOC. The code is kept and tried again; the box enrols \
                 as soon as the hub answers.",
            ),
            Some("refused") => verdict(
                Level::Problem,
                "The enrollment code was refused; it is not tried again.",
                format!("Read the last error below to the NOC; they issue a new code. {SET_CODE}"),
            ),
            _ if s.tunnel_up() => match self.said_state() {
                Some(State::EnrolledStateFull) => verdict(
                    Level::Problem,
                    "The tunnel to the hub is up, but the state partition is full: the \
                     certificate cannot be renewed.",
                    "Call the NOC the same day.",
                ),
                _ => verdict(
                    Level::Working,
                    "The tunnel to the hub is up.",
                    "Nothing to do.",
                ),
            },
            _ => verdict(
                Level::Problem,
                "Not connected: the tunnel to the hub is down; the box keeps reconnecting.",
                "Check the embassy's uplink and firewall (UDP to the hub's port). If it stays \
                 down, read the last error below to the NOC.",
            ),
        }
    }

    fn verdict_without_gatewayd(&self) -> Verdict {
        match &self.provision {
            Provision::Missing => verdict(
                Level::Waiting,
                "Starting: the provisioning step has not run yet.",
                CONSOLE,
            ),
            Provision::Unreadable(_) => verdict(
                Level::Problem,
                "The provisioning status is unreadable, and gatewayd is not running.",
                CONSOLE,
            ),
            Provision::Said(said) => {
                let advice = match said.state {
                    State::NotConfigured => {
                        "Set the boot credentials legatura.hub and legatura.hub-ca \
                         (docs/install.md) and restart the box. It checks again every 10 s."
                    }
                    State::BadCredential => {
                        "Correct the boot credential named above and restart the box."
                    }
                    State::StateFull => {
                        "Call the NOC with the figures above: the state partition has to be \
                         emptied before the code can be used. The box checks again every 10 s."
                    }
                    _ => {
                        return verdict(
                            Level::Problem,
                            "gatewayd is not running.",
                            format!("It is started again within 10 s. {CONSOLE}"),
                        );
                    }
                };
                verdict(Level::Problem, said.message.clone(), advice)
            }
        }
    }

    /// The page as HTML.
    pub fn html(&self) -> String {
        let v = self.verdict();
        let identity = self.identity();
        let mut page = String::with_capacity(4096);
        let _ = write!(
            page,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width\">\
             <meta http-equiv=\"refresh\" content=\"10\">\
             <title>Legătura appliance: {label}</title>\
             <style>body{{font-family:sans-serif;max-width:48em;margin:1em auto;padding:0 1em}}\
             th{{text-align:left;vertical-align:top;padding:.2em 1em .2em 0}}\
             td{{padding:.2em 0}}.working{{color:#060}}.waiting{{color:#850}}\
             .problem{{color:#a00}}</style></head><body>\n\
             <h1>Legătura appliance {who}</h1>\n\
             <p class=\"{level}\" id=\"verdict\"><strong>{label}: {summary}</strong></p>\n\
             <p id=\"advice\">{advice}</p>\n<table>\n",
            label = v.level.label(),
            level = v.level.name(),
            who = escape(identity.as_deref().unwrap_or("(not enrolled)")),
            summary = escape(&v.summary),
            advice = escape(&v.advice),
        );
        for (name, value) in self.rows() {
            let _ = writeln!(
                page,
                "<tr><th>{}</th><td>{}</td></tr>",
                escape(name),
                escape(&value)
            );
        }
        page.push_str(
            "</table>\n<p>This page refreshes every 10 seconds and shows no codes and no keys. \
             The same for scripts: <a href=\"/status.json\">/status.json</a>.</p>\n\
             </body></html>\n",
        );
        page
    }

    /// The details beneath the verdict, as label and text.
    fn rows(&self) -> Vec<(&'static str, String)> {
        let status = self.status();
        let appliance = match (
            status.and_then(|s| s.appliance.as_ref()),
            status.and_then(|s| s.mission.as_ref()),
        ) {
            (Some(a), Some(m)) => format!("{a} of mission {m}"),
            _ => "not known (not enrolled, or gatewayd is not running)".to_owned(),
        };
        let enrollment = match status.and_then(|s| s.enrollment.as_deref()) {
            Some("waiting_for_code") => "waiting for an enrollment code".to_owned(),
            Some("enrolling") => "enrolling with the hub now".to_owned(),
            Some("retrying") => "the hub could not be reached; the code is tried again".to_owned(),
            Some("refused") => "the code was refused; a new one is needed".to_owned(),
            Some("enrolled") => "enrolled".to_owned(),
            Some(other) => other.to_owned(),
            None => "not known (gatewayd is not running)".to_owned(),
        };
        let tunnel = match status {
            Some(s) if s.tunnel_up() => {
                let mut text = "up".to_owned();
                if let Some(id) = &s.hub_id {
                    let _ = write!(text, ", to the hub {id}");
                }
                if let Some(hub) = &s.hub {
                    let _ = write!(text, " at {hub}");
                }
                if let Some(up) = s.up_for_s {
                    let _ = write!(text, ", for {}", duration(up));
                }
                text
            }
            Some(_) => "down".to_owned(),
            None => "not known (gatewayd is not running)".to_owned(),
        };
        let last_error = match status.and_then(|s| s.last_error.as_ref()) {
            Some(e) => match e.ago_s {
                Some(ago) => format!("{} ({} ago)", e.message, duration(ago)),
                None => e.message.clone(),
            },
            None => "none".to_owned(),
        };
        let provisioning = match &self.provision {
            Provision::Missing => "nothing yet since this boot".to_owned(),
            Provision::Unreadable(why) => format!("its status file is unreadable: {why}"),
            Provision::Said(said) => said.message.clone(),
        };
        let gatewayd = match &self.gatewayd {
            Gatewayd::Answered(_) => "running".to_owned(),
            Gatewayd::NotRunning(why) => format!("gatewayd is not running: {why}"),
            Gatewayd::Unreadable(why) => format!("its status is unreadable: {why}"),
        };
        vec![
            ("Appliance", appliance),
            ("Enrollment", enrollment),
            ("Tunnel to the hub", tunnel),
            ("Last error", last_error),
            ("Provisioning said", provisioning),
            ("gatewayd", gatewayd),
        ]
    }

    /// The page as JSON.
    pub fn json(&self) -> serde_json::Value {
        let v = self.verdict();
        let status = self.status();
        let provision = match &self.provision {
            Provision::Missing => serde_json::json!({ "state": "missing" }),
            Provision::Unreadable(why) => {
                serde_json::json!({ "state": "unreadable", "error": why })
            }
            Provision::Said(said) => serde_json::json!({
                "state": said.state.name(),
                "message": said.message,
                "at_unix": said.at_unix,
            }),
        };
        let gatewayd = match &self.gatewayd {
            Gatewayd::Answered(_) => serde_json::json!({ "running": true }),
            Gatewayd::NotRunning(why) => serde_json::json!({ "running": false, "error": why }),
            Gatewayd::Unreadable(why) => {
                serde_json::json!({ "running": true, "error": why })
            }
        };
        serde_json::json!({
            "verdict": v.level.name(),
            "summary": v.summary,
            "advice": v.advice,
            "mission": status.and_then(|s| s.mission.clone()),
            "appliance": status.and_then(|s| s.appliance.clone()),
            "enrollment": status.and_then(|s| s.enrollment.clone()),
            "tunnel": {
                "state": status.map_or("unknown", |s| if s.tunnel_up() { "up" } else { "down" }),
                "hub": status.and_then(|s| s.hub.clone()),
                "hub_id": status.and_then(|s| s.hub_id.clone()),
                "up_for_s": status.and_then(|s| s.up_for_s),
                "retry_in_s": status.and_then(|s| s.retry_in_s),
            },
            "last_error": status.and_then(|s| s.last_error.as_ref()).map(|e| serde_json::json!({
                "message": e.message,
                "ago_s": e.ago_s,
            })),
            "provision": provision,
            "gatewayd": gatewayd,
        })
    }
}

/// `text` safe inside HTML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Seconds in words a person reads out: `45 s`, `3 min 20 s`, `2 h 5 min`, `4 d 1 h`.
pub fn duration(s: u64) -> String {
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        3600..86_400 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests;
