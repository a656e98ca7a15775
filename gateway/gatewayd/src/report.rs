//! What gatewayd says about itself on its admin endpoint's `/status`, beyond the tunnel's own
//! state: where enrollment stands, which appliance this is, and the last thing that went wrong
//! (a failed enrollment or renewal, or a warning the tunnel logged). The appliance's LAN status
//! page (`gateway/lan-status`) reads it from loopback.
//!
//! Invariant: nothing here is secret. The enrollment code, keys and certificates never enter
//! a [`Report`]; error texts are those the console already shows, cut to [`MAX_ERROR`] bytes.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use pki::ApplianceId;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::Context;

/// The longest error text kept, in bytes: a status document stays small whatever a peer said.
pub const MAX_ERROR: usize = 400;

/// Where enrollment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enrollment {
    /// No certificate and no code: the daemon waits for `gatewayd enroll CODE` or the code file.
    WaitingForCode,
    /// A code was taken and is being tried now.
    Enrolling,
    /// The hub could not be reached with the code; it is tried again later.
    Retrying,
    /// The hub (or the code's own check) refused the code; a new code is needed.
    Refused,
    /// The appliance holds its certificate.
    Enrolled,
}

impl Enrollment {
    /// The name in `/status`'s `"enrollment"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::WaitingForCode => "waiting_for_code",
            Self::Enrolling => "enrolling",
            Self::Retrying => "retrying",
            Self::Refused => "refused",
            Self::Enrolled => "enrolled",
        }
    }
}

/// A failure worth showing: what, and when.
#[derive(Debug, Clone)]
struct Noted {
    message: String,
    at: SystemTime,
    seen: Instant,
}

impl Noted {
    fn new(message: &str) -> Self {
        Self {
            message: cut(message, MAX_ERROR),
            at: SystemTime::now(),
            seen: Instant::now(),
        }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "message": self.message,
            "at_unix": self.at.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
            "ago_s": self.seen.elapsed().as_secs(),
        })
    }
}

#[derive(Debug)]
struct State {
    enrollment: Enrollment,
    retry_at: Option<Instant>,
    identity: Option<ApplianceId>,
    last_error: Option<Noted>,
}

/// The daemon's own account of itself. Cheap to clone; every clone is the same report.
#[derive(Debug, Clone)]
pub struct Report {
    state: Arc<Mutex<State>>,
}

/// The last warning the tunnel logged, recorded by [`TunnelWarnings`]. Global because the
/// logging is: one subscriber per process.
static TUNNEL_WARNING: Mutex<Option<Noted>> = Mutex::new(None);

impl Report {
    /// A report starting at `enrollment`, for the appliance `identity` if it is known.
    pub fn new(enrollment: Enrollment, identity: Option<ApplianceId>) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                enrollment,
                retry_at: None,
                identity,
                last_error: None,
            })),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Enrollment moved to `enrollment`; `retry_in` when it is tried again by itself.
    pub fn enrollment(&self, enrollment: Enrollment, retry_in: Option<Duration>) {
        self.with(|s| {
            s.enrollment = enrollment;
            s.retry_at = retry_in.map(|d| Instant::now() + d);
        });
    }

    /// The appliance enrolled as `identity`.
    pub fn enrolled(&self, identity: Option<ApplianceId>) {
        self.with(|s| {
            s.enrollment = Enrollment::Enrolled;
            s.retry_at = None;
            if identity.is_some() {
                s.identity = identity;
            }
        });
    }

    /// Something failed; shown as `last_error` until something newer does.
    pub fn error(&self, message: &str) {
        self.with(|s| s.last_error = Some(Noted::new(message)));
    }

    /// The `/status` document: the report merged with the tunnel's `status`.
    pub fn json(&self, tunnel: Option<&tunnel::GatewayStatus>) -> serde_json::Value {
        let tunnel_warning = TUNNEL_WARNING
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        self.with(|s| {
            let last = match (&s.last_error, tunnel_warning) {
                (Some(own), Some(tunnel)) if tunnel.seen > own.seen => Some(tunnel),
                (Some(own), _) => Some(own.clone()),
                (None, tunnel) => tunnel,
            };
            let connected = tunnel.is_some_and(|t| t.connected);
            serde_json::json!({
                "tunnel": if connected { "up" } else { "down" },
                "hub": tunnel.and_then(|t| t.hub).map(|h| h.to_string()),
                "hub_id": tunnel.and_then(|t| t.hub_id.clone()),
                "up_for_s": tunnel.and_then(|t| t.up_for).map(|d| d.as_secs()),
                "rtt_ms": tunnel.and_then(|t| t.rtt).map(|d| d.as_secs_f64() * 1000.0),
                "enrollment": s.enrollment.name(),
                "retry_in_s": s.retry_at.map(|at| at.saturating_duration_since(Instant::now()).as_secs()),
                "mission": s.identity.as_ref().map(ApplianceId::mission),
                "appliance": s.identity.as_ref().map(ApplianceId::appliance),
                "last_error": last.as_ref().map(Noted::json),
            })
        })
    }
}

/// A logging layer that keeps the last warning or error the tunnel logged (`cannot open
/// tunnel`, `tunnel lost; reconnecting`, …) with its fields, for `/status`'s `last_error`.
/// Installed by the binary beside the usual logging.
#[derive(Debug, Default, Clone, Copy)]
pub struct TunnelWarnings;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for TunnelWarnings {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let meta = event.metadata();
        if *meta.level() > tracing::Level::WARN || !meta.target().starts_with("tunnel") {
            return;
        }
        let mut line = Line::default();
        event.record(&mut line);
        let text = if line.fields.is_empty() {
            line.message
        } else {
            format!("{}: {}", line.message, line.fields.join(", "))
        };
        *TUNNEL_WARNING
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Noted::new(&text));
    }
}

/// An event as one line: its message, then `name=value` for each other field.
#[derive(Default)]
struct Line {
    message: String,
    fields: Vec<String>,
}

impl Visit for Line {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_owned();
        } else {
            self.fields.push(format!("{}={value}", field.name()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.fields.push(format!("{}={value:?}", field.name()));
        }
    }
}

/// `text` cut to at most `max` bytes on a character boundary, marked with `…` when cut.
fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests;
