//! `[mail]`: the e-mail channel (appliance/mail): the SMTP listener the ministry's relay
//! delivers to, the relay outgoing mail goes through (or a capture directory), and the outbox
//! worker's settings.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use daemon::ConfigError;
use serde::Deserialize;

/// `[mail]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSection {
    /// Where the relay delivers incoming mail (SMTP).
    pub listen: SocketAddr,
    /// This hub's mail name: greeting, EHLO, and the domain of Message-IDs.
    pub hostname: String,
    /// The case store (the same file as `portal.database`, so the console sees mail cases).
    pub database: PathBuf,
    /// Where attachments are kept, content-addressed (the portal's directory).
    pub attachments: PathBuf,
    /// clamd's Unix socket: attachments are scanned like portal uploads.
    pub clamd: PathBuf,
    /// The addresses mail is accepted for; anything else is refused at RCPT.
    #[serde(rename = "recipient")]
    pub recipients: Vec<MailRecipient>,
    /// Largest message, in bytes (announced with SIZE).
    #[serde(default = "default_max_size")]
    pub max_message_size: usize,
    /// `smtp://HOST:PORT`, `smtp+starttls://HOST:PORT` or `capture:DIR`.
    pub relay: String,
    /// The CA of the relay's certificate (PEM), for `smtp+starttls://`.
    pub relay_ca: Option<PathBuf>,
    /// From of outgoing mail, e.g. `"Legătura <contact@mae.ro>"`.
    pub from: String,
    /// The portal's base URL, for tracking links.
    pub portal_url: String,
    /// STARTTLS certificate and key (PEM); both or neither.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Refuse MAIL before STARTTLS.
    #[serde(default)]
    pub require_tls: bool,
    #[serde(default = "default_language")]
    pub default_language: String,
    /// The relay's `authserv-id`: a sender is verified when the relay's
    /// `Authentication-Results` says `dmarc=pass` for its domain.
    pub authserv_id: Option<String>,
    /// Take every From address as verified (only when the relay itself rejects
    /// unauthenticated mail).
    #[serde(default)]
    pub trust_sender: bool,
    /// A directory of `LANG.toml` templates replacing the shipped ones.
    pub templates: Option<PathBuf>,
    /// Delivery attempts before an outbox event is dead-lettered.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// The first retry's delay; later ones double, up to an hour.
    #[serde(default = "default_backoff", with = "humantime_serde")]
    pub retry_backoff: Duration,
    /// Acknowledgements one address may receive per hour.
    #[serde(default = "default_acks")]
    pub acks_per_hour: u64,
    /// Messages one sender may hand in per hour (more get "try later").
    #[serde(default = "default_per_sender")]
    pub messages_per_sender_per_hour: u32,
}

/// `[[mail.recipient]]`: an accepted address and the residence its mail is routed by.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailRecipient {
    pub address: String,
    /// ISO 3166-1 alpha-2; empty routes to the circumscription table's fallback.
    #[serde(default)]
    pub country: String,
    #[serde(default)]
    pub city: String,
}

fn default_max_size() -> usize {
    35 << 20
}
fn default_language() -> String {
    "ro".to_owned()
}
fn default_attempts() -> u32 {
    8
}
fn default_backoff() -> Duration {
    Duration::from_secs(30)
}
fn default_acks() -> u64 {
    5
}
fn default_per_sender() -> u32 {
    30
}

impl MailSection {
    /// Checks what serde cannot.
    pub(crate) fn check(&self, origin: &str) -> Result<(), ConfigError> {
        let bad = |key: &str, why: String| Err(ConfigError::invalid(origin, key, why));
        if let Err(e) = self.relay.parse::<mail::RelaySpec>() {
            return bad("mail.relay", e);
        }
        if !mail::valid_from(&self.from) {
            return bad("mail.from", format!("{:?} is not a mailbox", self.from));
        }
        if self.recipients.is_empty() {
            return bad("mail.recipient", "list at least one address".to_owned());
        }
        for (i, r) in self.recipients.iter().enumerate() {
            if !r.address.contains('@') || r.address.trim() != r.address {
                return bad(
                    &format!("mail.recipient[{i}].address"),
                    format!("{:?} is not an address", r.address),
                );
            }
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return bad(
                "mail.tls_key",
                "give tls_cert and tls_key together".to_owned(),
            );
        }
        if self.require_tls && self.tls_cert.is_none() {
            return bad("mail.require_tls", "needs tls_cert and tls_key".to_owned());
        }
        if !(self.portal_url.starts_with("http://") || self.portal_url.starts_with("https://")) {
            return bad(
                "mail.portal_url",
                "must start with http:// or https://".to_owned(),
            );
        }
        if casestore::Language::new(&self.default_language).is_err() {
            return bad("mail.default_language", "is not a language tag".to_owned());
        }
        if self.max_message_size < 64 << 10 {
            return bad("mail.max_message_size", "must be at least 65536".to_owned());
        }
        if self.hostname.is_empty() || self.hostname.contains(char::is_whitespace) {
            return bad("mail.hostname", "must be a host name".to_owned());
        }
        Ok(())
    }

    /// Paths relative to the file that names them.
    pub(crate) fn resolve(&mut self, file: &Path) {
        for p in [&mut self.database, &mut self.attachments, &mut self.clamd] {
            *p = daemon::config::relative_to(file, p);
        }
        for p in [
            &mut self.relay_ca,
            &mut self.tls_cert,
            &mut self.tls_key,
            &mut self.templates,
        ]
        .into_iter()
        .flatten()
        {
            *p = daemon::config::relative_to(file, p);
        }
        if let Some(dir) = self.relay.strip_prefix("capture:") {
            self.relay = format!(
                "capture:{}",
                daemon::config::relative_to(file, Path::new(dir)).display()
            );
        }
    }

    /// The capture directory, if outgoing mail is captured.
    pub fn capture_dir(&self) -> Option<PathBuf> {
        self.relay.strip_prefix("capture:").map(PathBuf::from)
    }

    /// The channel's configuration.
    pub fn to_mail_config(&self) -> Result<mail::MailConfig, String> {
        let relay = self.relay.parse::<mail::RelaySpec>()?;
        let mailboxes = self
            .recipients
            .iter()
            .map(|r| mail::Mailbox {
                address: r.address.clone(),
                country: r.country.clone(),
                city: r.city.clone(),
            })
            .collect();
        let mut c = mail::MailConfig::new(
            self.listen,
            &self.hostname,
            mailboxes,
            relay,
            &self.from,
            &self.portal_url,
        );
        c.tls = self.tls_cert.clone().zip(self.tls_key.clone());
        c.require_tls = self.require_tls;
        c.max_message_bytes = self.max_message_size;
        c.relay_ca = self.relay_ca.clone();
        c.default_language = self.default_language.clone();
        c.authserv_id = self.authserv_id.clone();
        c.trust_sender = self.trust_sender;
        c.templates = self.templates.clone();
        c.max_attempts = self.max_attempts;
        c.backoff = self.retry_backoff;
        c.acks_per_hour = self.acks_per_hour;
        c.limits.messages_per_sender_per_hour = self.messages_per_sender_per_hour;
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Config;

    const BASE: &str = r#"
listen = "0.0.0.0:4433"
state_dir = "state"

[tls]
fleet_ca = "fleet-ca.pem"
cert = "hub.pem"
key = "hub.key"

[mail]
listen = "127.0.0.1:2525"
hostname = "hub.mae.test"
database = "cases.db"
attachments = "attachments"
clamd = "clamd.sock"
relay = "smtp://127.0.0.1:2526"
from = "Legătura <contact@mae.test>"
portal_url = "https://cetateni.mae.test"

[[mail.recipient]]
address = "contact@mae.test"

[[mail.recipient]]
address = "paris@mae.test"
country = "FR"
"#;

    #[test]
    fn a_mail_section_maps_onto_the_channel() {
        let config = Config::parse(BASE, "hubd.toml").expect("valid");
        let m = config.mail.expect("[mail]");
        assert_eq!(m.recipients.len(), 2);
        let c = m.to_mail_config().expect("maps");
        assert_eq!(c.max_message_bytes, 35 << 20);
        assert_eq!(c.mailboxes[1].country, "FR");
        assert_eq!(c.max_attempts, 8);
        assert!(c.tls.is_none());
    }

    #[test]
    fn mail_typos_fail_closed_naming_the_key() {
        for (from, to, expected) in [
            (
                "relay = \"smtp://127.0.0.1:2526\"",
                "relay = \"smtps://x:1\"",
                "mail.relay",
            ),
            (
                "relay = \"smtp://127.0.0.1:2526\"",
                "relay = \"capture:\"",
                "mail.relay",
            ),
            (
                "from = \"Legătura <contact@mae.test>\"",
                "from = \"nobody\"",
                "mail.from",
            ),
            ("hostname = ", "hostnme = ", "unknown field `hostnme`"),
            (
                "portal_url = \"https://cetateni.mae.test\"",
                "portal_url = \"cetateni\"",
                "mail.portal_url",
            ),
            (
                "address = \"paris@mae.test\"",
                "address = \"paris\"",
                "mail.recipient[1].address",
            ),
            ("[mail]\n", "[mail]\ntls_cert = \"c.pem\"\n", "mail.tls_key"),
            (
                "[mail]\n",
                "[mail]\nrequire_tls = true\n",
                "mail.require_tls",
            ),
        ] {
            let text = BASE.replace(from, to);
            assert_ne!(text, BASE, "{from}");
            let err = Config::parse(&text, "hubd.toml").expect_err(to).to_string();
            assert!(err.contains(expected), "{err} should name {expected}");
        }
    }
}
