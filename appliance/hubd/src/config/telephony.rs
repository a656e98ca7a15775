//! `[telephony]`: the SIP bridge (registrar, B2BUA, queues; docs/telephony.md).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use daemon::ConfigError;
use serde::Deserialize;

/// `[telephony]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelephonySection {
    /// SIP on UDP and TCP, the same port on both.
    pub listen: SocketAddr,
    /// The address the trunk and the phones reach the hub at, written in Via and Contact.
    /// Required when `listen` is a wildcard (`0.0.0.0` or `[::]`).
    pub advertise: Option<SocketAddr>,
    /// The digest realm. The agents file's HA1s were computed with it, so changing it means
    /// recomputing them all.
    #[serde(default = "default_realm")]
    pub realm: String,
    /// The agents' credentials: username, HA1 (never the password), extension. Mode 0600:
    /// an HA1 answers any challenge of this realm.
    pub agents: PathBuf,
    /// How long an agent's phone rings before the caller hears 480 and the phone is
    /// cancelled.
    #[serde(default = "default_ring", with = "humantime_serde")]
    pub ring_timeout: Duration,
    /// New calls per second the bridge is sized for: finished transactions wait out their
    /// RFC 3261 timers in a table this large (rate × 32 s × 4); past it they are forgotten
    /// early, as over TCP.
    #[serde(default = "default_max_call_rate")]
    pub max_call_rate: usize,
    /// The case store calls are linked to and stored in; `console.database` when absent.
    pub database: Option<PathBuf>,
    /// Queue calls answered within this count towards the service level.
    #[serde(default = "default_service_level", with = "humantime_serde")]
    pub service_level: Duration,
    /// The SIP trunks' addresses or networks (`"203.0.113.10"`, `"198.51.100.0/24"`): with
    /// them only a trunk, a phone behind an embassy gateway or a registered phone may place a
    /// call, anyone else gets 403. Without them anyone who reaches `listen` may call, and
    /// hubd says so when it starts.
    pub trunks: Option<Vec<String>>,
    /// How often a phone registered through an embassy gateway is sent `OPTIONS` so its
    /// tunnel flow stays open: well under the tunnel's `flow_idle_timeout` (120 s).
    #[serde(default = "default_keepalive", with = "humantime_serde")]
    pub keepalive: Duration,
    /// `[[telephony.queue]]`: the call queues.
    #[serde(default, rename = "queue")]
    pub queues: Vec<QueueSection>,
    /// `[telephony.media]`: audio anchored at the hub (relay, menu, queue messages,
    /// recording); SDP passes through untouched without it.
    pub media: Option<MediaSection>,
}

/// `[telephony.media]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaSection {
    /// RTP/RTCP ports, `"FIRST-LAST"`: each leg of a call takes an even/odd pair.
    #[serde(default = "default_ports")]
    pub ports: String,
    /// The address the relay binds; `telephony.listen`'s address when absent.
    pub bind: Option<IpAddr>,
    /// The address written in SDP; `telephony.advertise`'s (or `bind`) when absent.
    pub advertise: Option<IpAddr>,
    /// A call with no packet on either leg for this long is closed.
    #[serde(default = "default_media_idle", with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// Queue callers hear the menu (language, emergency) before joining the queue.
    #[serde(default = "default_true")]
    pub ivr: bool,
    /// The menu prompt: raw 8 kHz A-law; the built-in one when absent.
    pub menu: Option<PathBuf>,
    /// Where recordings are written; needed when `record_queues` names any queue.
    pub recordings: Option<PathBuf>,
    /// Queues whose calls are recorded, both legs.
    #[serde(default)]
    pub record_queues: Vec<String>,
    /// The port of the embassy gateways' media service (RTP; RTCP on the next port), the
    /// listen port of their `rtp` and `rtcp` UDP services, which this hub routes to the
    /// relay (`upstream = "routed"`). Phones behind a gateway are sent there in SDP; without
    /// it they are given the relay's own address.
    pub gateway_rtp_port: Option<u16>,
}

impl MediaSection {
    /// The port range, checked by [`TelephonySection::check`].
    pub fn port_range(&self) -> Option<media::PortRange> {
        let (first, last) = self.ports.split_once('-')?;
        let first: u16 = first.trim().parse().ok()?;
        let last: u16 = last.trim().parse().ok()?;
        // At least one even/odd pair, never a privileged port.
        (first >= 1024 && last > first).then_some(media::PortRange { first, last })
    }
}

fn default_ports() -> String {
    "20000-20999".to_owned()
}

fn default_media_idle() -> Duration {
    Duration::from_secs(60)
}

fn default_true() -> bool {
    true
}

/// `[[telephony.queue]]`: calls to `name` or one of `numbers` wait here for an agent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueSection {
    pub name: String,
    #[serde(default)]
    pub numbers: Vec<String>,
    /// The language an agent must speak (`ro`, `en`…); any agent when absent.
    pub language: Option<String>,
    /// The consulate whose cases its calls open (a consulate id of the taxonomy).
    pub consulate: Option<String>,
    #[serde(default)]
    pub emergency: bool,
    #[serde(default = "default_queue_ring", with = "humantime_serde")]
    pub ring_timeout: Duration,
    #[serde(default = "default_wrap_up", with = "humantime_serde")]
    pub wrap_up: Duration,
    #[serde(default = "default_max_missed")]
    pub max_missed: u32,
    #[serde(default = "default_capacity")]
    pub capacity: usize,
    /// The prompt a waiting caller hears, repeated, with `[telephony.media]`: raw 8 kHz
    /// A-law, relative to hubd.toml.
    pub message: Option<String>,
}

impl QueueSection {
    pub fn to_config(&self) -> telephony::QueueConfig {
        let mut q = telephony::QueueConfig::new(&self.name);
        q.numbers = self.numbers.clone();
        q.language = self.language.clone();
        q.consulate = self.consulate.clone();
        q.emergency = self.emergency;
        q.ring_timeout = self.ring_timeout;
        q.wrap_up = self.wrap_up;
        q.max_missed = self.max_missed;
        q.capacity = self.capacity;
        q.message = self.message.clone();
        q
    }
}

fn default_max_call_rate() -> usize {
    1_000
}

fn default_service_level() -> Duration {
    Duration::from_secs(20)
}

fn default_queue_ring() -> Duration {
    Duration::from_secs(20)
}

fn default_wrap_up() -> Duration {
    Duration::from_secs(30)
}

fn default_max_missed() -> u32 {
    3
}

fn default_capacity() -> usize {
    50
}

/// A dialled number or queue name: what a request URI's user part can hold.
fn is_number(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.+*#".contains(&b))
}

/// An address (a one-address network) or a network in CIDR notation.
fn parse_net(s: &str) -> Option<ipnet::IpNet> {
    s.parse::<ipnet::IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(ipnet::IpNet::from))
}

impl TelephonySection {
    /// `trunks` as networks (each checked when the file is loaded).
    pub fn trunk_networks(&self) -> Option<Vec<ipnet::IpNet>> {
        self.trunks
            .as_ref()
            .map(|t| t.iter().filter_map(|s| parse_net(s)).collect())
    }
}

fn default_keepalive() -> Duration {
    Duration::from_secs(30)
}

fn default_realm() -> String {
    "legatura".to_owned()
}

fn default_ring() -> Duration {
    Duration::from_secs(60)
}

impl TelephonySection {
    pub(super) fn check(&self, origin: &str) -> Result<(), ConfigError> {
        if self.listen.ip().is_unspecified() && self.advertise.is_none() {
            return Err(ConfigError::invalid(
                origin,
                "telephony.advertise",
                "is needed when telephony.listen is a wildcard: Via and Contact need an address",
            ));
        }
        if self.realm.is_empty() || self.realm.contains(['"', '\\']) {
            return Err(ConfigError::invalid(
                origin,
                "telephony.realm",
                "must be non-empty, without quotes or backslashes",
            ));
        }
        if self.ring_timeout.is_zero() {
            return Err(ConfigError::invalid(
                origin,
                "telephony.ring_timeout",
                "must not be zero",
            ));
        }
        for (i, trunk) in self.trunks.iter().flatten().enumerate() {
            if parse_net(trunk).is_none() {
                return Err(ConfigError::invalid(
                    origin,
                    &format!("telephony.trunks[{i}]"),
                    format!("{trunk:?} is not an IP address or network (\"198.51.100.0/24\")"),
                ));
            }
        }
        if self.keepalive < Duration::from_secs(1) {
            return Err(ConfigError::invalid(
                origin,
                "telephony.keepalive",
                "must be at least 1s",
            ));
        }
        if !(1..=100_000).contains(&self.max_call_rate) {
            return Err(ConfigError::invalid(
                origin,
                "telephony.max_call_rate",
                "must be between 1 and 100000 calls per second",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, q) in self.queues.iter().enumerate() {
            let key = |field: &str| format!("telephony.queue[{i}].{field}");
            for number in std::iter::once(&q.name).chain(&q.numbers) {
                if !is_number(number) {
                    return Err(ConfigError::invalid(
                        origin,
                        &key(if *number == q.name { "name" } else { "numbers" }),
                        "must be 1-64 of [A-Za-z0-9-_.+*#]",
                    ));
                }
                if !seen.insert(number.clone()) {
                    return Err(ConfigError::invalid(
                        origin,
                        &key("numbers"),
                        format!("{number:?} already reaches another queue"),
                    ));
                }
            }
            if q.language.as_deref().is_some_and(|l| !is_number(l)) {
                return Err(ConfigError::invalid(
                    origin,
                    &key("language"),
                    "must be a language code",
                ));
            }
            if q.ring_timeout.is_zero() {
                return Err(ConfigError::invalid(
                    origin,
                    &key("ring_timeout"),
                    "must not be zero",
                ));
            }
            if q.max_missed == 0 {
                return Err(ConfigError::invalid(
                    origin,
                    &key("max_missed"),
                    "must be at least 1",
                ));
            }
            if q.capacity == 0 {
                return Err(ConfigError::invalid(
                    origin,
                    &key("capacity"),
                    "must be at least 1",
                ));
            }
        }
        if let Some(media) = &self.media {
            self.check_media(origin, media)?;
        }
        Ok(())
    }

    fn check_media(&self, origin: &str, media: &MediaSection) -> Result<(), ConfigError> {
        if media.port_range().is_none() {
            return Err(ConfigError::invalid(
                origin,
                "telephony.media.ports",
                "must be \"FIRST-LAST\" with 1024 <= FIRST < LAST <= 65535",
            ));
        }
        if media
            .gateway_rtp_port
            .is_some_and(|p| !(1024..u16::MAX).contains(&p))
        {
            return Err(ConfigError::invalid(
                origin,
                "telephony.media.gateway_rtp_port",
                "must be between 1024 and 65534 (RTCP takes the next port)",
            ));
        }
        if media.idle_timeout.is_zero() {
            return Err(ConfigError::invalid(
                origin,
                "telephony.media.idle_timeout",
                "must not be zero",
            ));
        }
        if self.media_advertise().is_none_or(|ip| ip.is_unspecified()) {
            return Err(ConfigError::invalid(
                origin,
                "telephony.media.advertise",
                "is needed when the relay binds a wildcard: SDP needs an address",
            ));
        }
        for queue in &media.record_queues {
            if !self.queues.iter().any(|q| &q.name == queue) {
                return Err(ConfigError::invalid(
                    origin,
                    "telephony.media.record_queues",
                    format!("{queue:?} is not a telephony.queue name"),
                ));
            }
        }
        if !media.record_queues.is_empty() && media.recordings.is_none() {
            return Err(ConfigError::invalid(
                origin,
                "telephony.media.recordings",
                "is needed when record_queues names a queue",
            ));
        }
        Ok(())
    }

    fn media_bind(&self) -> IpAddr {
        self.media
            .as_ref()
            .and_then(|m| m.bind)
            .unwrap_or(self.listen.ip())
    }

    /// The address in SDP: `media.advertise`, else SIP's advertised address, else the bind.
    fn media_advertise(&self) -> Option<IpAddr> {
        let media = self.media.as_ref()?;
        Some(
            media
                .advertise
                .or(self.advertise.map(|a| a.ip()))
                .unwrap_or(self.media_bind()),
        )
    }

    /// `[telephony.media]` as the bridge takes it; the menu prompt is read here.
    pub fn media_settings(&self) -> anyhow::Result<Option<telephony::MediaSettings>> {
        let Some(section) = &self.media else {
            return Ok(None);
        };
        let bind = self.media_bind();
        let mut relay = media::MediaConfig::new(bind);
        relay.advertise = self.media_advertise().unwrap_or(bind);
        if let Some(ports) = section.port_range() {
            relay.ports = ports;
        }
        relay.idle_timeout = section.idle_timeout;
        relay.recordings = section.recordings.clone();
        if let Some(menu) = &section.menu {
            relay.menu = Some(media::Prompt::load(menu)?);
        }
        let mut settings = telephony::MediaSettings::new(relay);
        settings.ivr = section.ivr;
        settings.record_queues = section.record_queues.clone();
        settings.gateway_rtp_port = section.gateway_rtp_port;
        Ok(Some(settings))
    }

    pub(super) fn resolve(&mut self, config: &Path) {
        self.agents = daemon::config::relative_to(config, &self.agents);
        if let Some(db) = &mut self.database {
            *db = daemon::config::relative_to(config, db);
        }
        for queue in &mut self.queues {
            if let Some(message) = &mut queue.message {
                let path = daemon::config::relative_to(config, Path::new(message.as_str()));
                *message = path.to_string_lossy().into_owned();
            }
        }
        if let Some(media) = &mut self.media {
            for path in [&mut media.menu, &mut media.recordings]
                .into_iter()
                .flatten()
            {
                *path = daemon::config::relative_to(config, path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::Config;

    const BASE: &str = "listen = \"0.0.0.0:4433\"\nstate_dir = \"state\"\n\
[tls]\nfleet_ca = \"ca.pem\"\ncert = \"hub.pem\"\nkey = \"hub.key\"\n";

    fn parse(section: &str) -> Result<Config, String> {
        Config::parse(&format!("{BASE}[telephony]\n{section}"), "hubd.toml")
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_section_parses_with_defaults() {
        let c =
            parse("listen = \"127.0.0.1:5060\"\nagents = \"sip-agents.toml\"\n").expect("valid");
        let t = c.telephony.expect("section");
        assert_eq!(t.realm, "legatura");
        assert_eq!(t.ring_timeout, std::time::Duration::from_secs(60));
        assert_eq!(t.max_call_rate, 1_000);
        assert!(t.advertise.is_none());
        assert!(t.trunks.is_none());
        let c = parse(
            "listen = \"127.0.0.1:5060\"\nagents = \"a\"\ntrunks = [\"203.0.113.10\", \"198.51.100.0/24\"]\n",
        )
        .expect("valid");
        let trunks = c
            .telephony
            .expect("section")
            .trunk_networks()
            .expect("trunks");
        assert!(trunks[0].contains(&"203.0.113.10".parse::<std::net::IpAddr>().expect("ip")));
        assert!(!trunks[0].contains(&"203.0.113.11".parse::<std::net::IpAddr>().expect("ip")));
        assert!(trunks[1].contains(&"198.51.100.77".parse::<std::net::IpAddr>().expect("ip")));
    }

    #[test]
    fn mistakes_name_their_key() {
        for (section, key) in [
            (
                "listen = \"0.0.0.0:5060\"\nagents = \"a\"\n",
                "telephony.advertise",
            ),
            (
                "listen = \"127.0.0.1:5060\"\nagents = \"a\"\nrealm = \"a\\\"b\"\n",
                "telephony.realm",
            ),
            (
                "listen = \"127.0.0.1:5060\"\nagents = \"a\"\nring_timeout = \"0s\"\n",
                "telephony.ring_timeout",
            ),
            (
                "listen = \"127.0.0.1:5060\"\nagents = \"a\"\nmax_call_rate = 0\n",
                "telephony.max_call_rate",
            ),
            (
                "listen = \"127.0.0.1:5060\"\nagents = \"a\"\nkeepalive = \"0s\"\n",
                "telephony.keepalive",
            ),
            (
                "listen = \"127.0.0.1:5060\"\nagents = \"a\"\ntrunks = [\"203.0.113.0/33\"]\n",
                "telephony.trunks[0]",
            ),
            (
                "listen = \"127.0.0.1:5060\"\nagents = \"a\"\npassword = \"x\"\n",
                "password",
            ),
        ] {
            let error = parse(section).expect_err(section);
            assert!(error.contains(key), "{section}: {error}");
        }
        let wildcard =
            "listen = \"0.0.0.0:5060\"\nadvertise = \"192.0.2.1:5060\"\nagents = \"a\"\n";
        assert!(parse(wildcard).is_ok());
    }

    const SIP: &str = "listen = \"127.0.0.1:5060\"\nagents = \"a\"\n";

    #[test]
    fn queues_parse_with_defaults() {
        let c = parse(&format!(
            "{SIP}[[telephony.queue]]\nname = \"ro\"\nnumbers = [\"200\"]\nlanguage = \"ro\"\n\
             [[telephony.queue]]\nname = \"sos\"\nemergency = true\nwrap_up = \"5s\"\n"
        ))
        .expect("valid");
        let t = c.telephony.expect("section");
        assert_eq!(t.queues.len(), 2);
        let ro = t.queues[0].to_config();
        assert_eq!(ro.numbers, ["200"]);
        assert_eq!(ro.ring_timeout, std::time::Duration::from_secs(20));
        assert_eq!((ro.max_missed, ro.capacity), (3, 50));
        let sos = t.queues[1].to_config();
        assert!(sos.emergency);
        assert_eq!(sos.wrap_up, std::time::Duration::from_secs(5));
    }

    #[test]
    fn queue_mistakes_name_their_key() {
        for (queue, key) in [
            ("name = \"a b\"\n", "telephony.queue[0].name"),
            (
                "name = \"ro\"\nnumbers = [\"ro\"]\n",
                "telephony.queue[0].numbers",
            ),
            (
                "name = \"ro\"\nmax_missed = 0\n",
                "telephony.queue[0].max_missed",
            ),
            (
                "name = \"ro\"\ncapacity = 0\n",
                "telephony.queue[0].capacity",
            ),
            (
                "name = \"ro\"\nring_timeout = \"0s\"\n",
                "telephony.queue[0].ring_timeout",
            ),
            ("name = \"ro\"\nlanguge = \"ro\"\n", "languge"),
        ] {
            let error = parse(&format!("{SIP}[[telephony.queue]]\n{queue}")).expect_err(queue);
            assert!(error.contains(key), "{queue}: {error}");
        }
    }

    #[test]
    fn media_parses_with_defaults_and_paths_beside_the_config() {
        let dir = std::env::temp_dir().join(format!("hubd-media-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("hubd.toml");
        std::fs::write(
            &file,
            format!(
                "{BASE}[telephony]\n{SIP}[[telephony.queue]]\nname = \"ro\"\n\
                 message = \"queue-ro.alaw\"\n[telephony.media]\nrecordings = \"rec\"\n\
                 record_queues = [\"ro\"]\nivr = false\nports = \"30000-30099\"\n"
            ),
        )
        .expect("write");
        let c = Config::load(&file).expect("valid");
        let t = c.telephony.expect("section");
        let m = t.media.as_ref().expect("media");
        assert_eq!(
            m.port_range(),
            Some(media::PortRange {
                first: 30_000,
                last: 30_099
            })
        );
        assert_eq!(m.recordings, Some(dir.join("rec")));
        assert_eq!(
            t.queues[0].message.as_deref().map(std::path::Path::new),
            Some(dir.join("queue-ro.alaw").as_path())
        );
        let settings = t.media_settings().expect("loads").expect("some");
        let _ = std::fs::remove_dir_all(&dir);
        assert!(!settings.ivr);
        assert_eq!(settings.record_queues, ["ro"]);
        assert_eq!(settings.relay.advertise.to_string(), "127.0.0.1");
        assert_eq!(
            settings.relay.idle_timeout,
            std::time::Duration::from_secs(60)
        );

        // Defaults: the menu on, the SIP address advertised in SDP.
        let c = parse(&format!("{SIP}[telephony.media]\n")).expect("valid");
        let settings = c.telephony.expect("section").media_settings().expect("ok");
        let settings = settings.expect("some");
        assert!(settings.ivr);
        assert_eq!(settings.relay.ports.first, 20_000);
        assert_eq!(settings.gateway_rtp_port, None);
        let c = parse(&format!(
            "{SIP}[telephony.media]\ngateway_rtp_port = 5062\n"
        ))
        .expect("valid");
        let settings = c.telephony.expect("section").media_settings().expect("ok");
        assert_eq!(settings.expect("some").gateway_rtp_port, Some(5062));
    }

    #[test]
    fn media_mistakes_name_their_key() {
        let wildcard =
            "listen = \"0.0.0.0:5060\"\nadvertise = \"192.0.2.1:5060\"\nagents = \"a\"\n";
        assert!(parse(&format!("{wildcard}[telephony.media]\n")).is_ok());
        for (sip, media, key) in [
            (SIP, "ports = \"20000\"\n", "telephony.media.ports"),
            (SIP, "ports = \"80-90\"\n", "telephony.media.ports"),
            (SIP, "ports = \"20010-20000\"\n", "telephony.media.ports"),
            (
                SIP,
                "idle_timeout = \"0s\"\n",
                "telephony.media.idle_timeout",
            ),
            (SIP, "bind = \"0.0.0.0\"\n", "telephony.media.advertise"),
            (
                SIP,
                "record_queues = [\"nope\"]\nrecordings = \"r\"\n",
                "telephony.media.record_queues",
            ),
            (
                SIP,
                "record_queues = [\"ro\"]\n",
                "telephony.media.recordings",
            ),
            (
                SIP,
                "gateway_rtp_port = 65535\n",
                "telephony.media.gateway_rtp_port",
            ),
            (SIP, "recordnigs = \"r\"\n", "recordnigs"),
        ] {
            let text =
                format!("{sip}[[telephony.queue]]\nname = \"ro\"\n[telephony.media]\n{media}");
            let error = parse(&text).expect_err(media);
            assert!(error.contains(key), "{media}: {error}");
        }
    }
}
