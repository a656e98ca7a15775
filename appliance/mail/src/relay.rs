//! Where outgoing mail goes: the ministry's SMTP relay through `lettre` (rustls on ring;
//! `smtp://` in clear on a trusted network, `smtp+starttls://` with TLS required against a
//! configured CA), or, for `legatura up` and demonstrations, a capture directory where each
//! mail is written as an `.eml` file a person can open.

use std::path::PathBuf;
use std::time::Duration;

use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};

/// A relay setting as configured: `smtp://host:port`, `smtp+starttls://host:port` or
/// `capture:DIR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelaySpec {
    Smtp {
        host: String,
        port: u16,
        starttls: bool,
    },
    Capture(PathBuf),
}

impl std::str::FromStr for RelaySpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(dir) = s.strip_prefix("capture:") {
            if dir.is_empty() {
                return Err("capture: needs a directory".to_owned());
            }
            return Ok(RelaySpec::Capture(PathBuf::from(dir)));
        }
        let (rest, starttls) = if let Some(r) = s.strip_prefix("smtp+starttls://") {
            (r, true)
        } else if let Some(r) = s.strip_prefix("smtp://") {
            (r, false)
        } else {
            return Err(format!(
                "{s:?}: use smtp://HOST:PORT, smtp+starttls://HOST:PORT or capture:DIR"
            ));
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| format!("{s:?} has no :PORT"))?;
        let port: u16 = port
            .parse()
            .map_err(|_| format!("{s:?}: {port:?} is not a port"))?;
        if host.is_empty() {
            return Err(format!("{s:?} has no host"));
        }
        Ok(RelaySpec::Smtp {
            host: host.trim_matches(['[', ']']).to_owned(),
            port,
            starttls,
        })
    }
}

/// Why a mail was not handed over.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The relay refused for good (5xx): retrying will not help.
    #[error("the relay refused the mail: {0}")]
    Permanent(String),
    /// The relay was unreachable or answered 4xx: try again later.
    #[error("the relay did not take the mail: {0}")]
    Transient(String),
}

/// A configured relay.
#[derive(Clone)]
pub enum Relay {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Capture(PathBuf),
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Relay::Smtp(_) => f.write_str("Relay::Smtp"),
            Relay::Capture(dir) => f.debug_tuple("Relay::Capture").field(dir).finish(),
        }
    }
}

impl Relay {
    /// Builds the relay; `ca_pem` is the CA the relay's certificate must chain to (STARTTLS).
    pub fn new(
        spec: &RelaySpec,
        hello_name: &str,
        ca_pem: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Self, String> {
        match spec {
            RelaySpec::Capture(dir) => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("creating {}: {e}", dir.display()))?;
                Ok(Relay::Capture(dir.clone()))
            }
            RelaySpec::Smtp {
                host,
                port,
                starttls,
            } => {
                let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
                    .port(*port)
                    .timeout(Some(timeout))
                    .hello_name(ClientId::Domain(hello_name.to_owned()));
                if *starttls {
                    let ca = ca_pem.ok_or("smtp+starttls:// needs the relay's CA (relay_ca)")?;
                    let params = TlsParameters::builder(host.clone())
                        .certificate_store(lettre::transport::smtp::client::CertificateStore::None)
                        .add_root_certificate(
                            Certificate::from_pem(ca).map_err(|e| format!("relay_ca: {e}"))?,
                        )
                        .build_rustls()
                        .map_err(|e| format!("relay TLS: {e}"))?;
                    builder = builder.tls(Tls::Required(params));
                }
                Ok(Relay::Smtp(builder.build()))
            }
        }
    }

    /// Hands `message` over; `name` names the capture file.
    pub async fn send(&self, message: Message, name: &str) -> Result<(), SendError> {
        match self {
            Relay::Smtp(transport) => match transport.send(message).await {
                Ok(_) => Ok(()),
                Err(e) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
                Err(e) => Err(SendError::Transient(e.to_string())),
            },
            Relay::Capture(dir) => {
                let bytes = message.formatted();
                let name: String = name
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '-' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                let path = dir.join(format!("{name}.eml"));
                let tmp = dir.join(format!(".{name}.tmp"));
                let shown = path.display().to_string();
                let write = move || -> std::io::Result<()> {
                    std::fs::write(&tmp, &bytes)?;
                    std::fs::rename(&tmp, &path)
                };
                tokio::task::spawn_blocking(write)
                    .await
                    .map_err(|e| SendError::Transient(e.to_string()))?
                    .map_err(|e| SendError::Transient(format!("{shown}: {e}")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_settings_parse_or_say_what_is_wrong() {
        assert_eq!(
            "smtp://127.0.0.1:2525".parse::<RelaySpec>(),
            Ok(RelaySpec::Smtp {
                host: "127.0.0.1".into(),
                port: 2525,
                starttls: false
            })
        );
        assert_eq!(
            "smtp+starttls://relay.mae.ro:587/".parse::<RelaySpec>(),
            Ok(RelaySpec::Smtp {
                host: "relay.mae.ro".into(),
                port: 587,
                starttls: true
            })
        );
        assert_eq!(
            "capture:../outbox-mail".parse::<RelaySpec>(),
            Ok(RelaySpec::Capture("../outbox-mail".into()))
        );
        for bad in [
            "smtps://x:1",
            "smtp://x",
            "smtp://:25",
            "smtp://x:99999",
            "capture:",
        ] {
            assert!(bad.parse::<RelaySpec>().is_err(), "{bad}");
        }
    }
}
