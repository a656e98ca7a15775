//! The hub's applications as a test configures them: the citizens' `[portal]`, the agents'
//! `[console]`, and the `console` service that carries embassy staff to it through the tunnel
//! with a PROXY v2 header naming their appliance. Rendered after a [`crate::HubSpec`]'s text.

use std::net::SocketAddr;
use std::path::PathBuf;

/// A hub's `[portal]`.
#[derive(Debug, Clone)]
pub struct PortalSpec {
    /// Where citizens' browsers reach it: an address of the hub host.
    pub listen: SocketAddr,
    /// The case store (shared with the console when both name the same file).
    pub database: PathBuf,
    pub attachments: PathBuf,
    /// clamd's socket. Only uploads are scanned: a test that sends none needs no clamd here.
    pub clamd: PathBuf,
    /// `keystore:…/receipt-signing.key`, as `legatura ca init` writes it.
    pub receipt_key: String,
}

/// A hub's `[console]` and its `console` service.
#[derive(Debug, Clone)]
pub struct ConsoleSpec {
    /// The tunnel side, on loopback: the `console` service's upstream, which the hub reaches
    /// with `proxy_protocol = true`.
    pub tunnel_listen: SocketAddr,
    /// The central network's listener, if any.
    pub central_listen: Option<SocketAddr>,
    pub database: PathBuf,
}

/// The applications of one hub; each part is optional.
#[derive(Debug, Clone, Default)]
pub struct AppsSpec {
    pub portal: Option<PortalSpec>,
    pub console: Option<ConsoleSpec>,
}

impl AppsSpec {
    /// The text appended to the hub's configuration: the `console` service (open to every
    /// appliance of the fleet: which staff may use which appliance is the console's decision),
    /// then `[portal]` and `[console]`.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        if let Some(c) = &self.console {
            out += &format!(
                "[[service]]\nname = \"console\"\nprotocol = \"tcp\"\nupstream = \"{}\"\n\
                 proxy_protocol = true\nallow = [\"*\"]\n\n",
                c.tunnel_listen
            );
        }
        if let Some(p) = &self.portal {
            out += &format!(
                "[portal]\nlisten = \"{}\"\ndatabase = {}\nattachments = {}\nclamd = {}\n\
                 receipt_key = {}\n\n",
                p.listen,
                path(&p.database),
                path(&p.attachments),
                path(&p.clamd),
                q(&p.receipt_key)
            );
        }
        if let Some(c) = &self.console {
            out += &format!(
                "[console]\ntunnel_listen = \"{}\"\ndatabase = {}\n",
                c.tunnel_listen,
                path(&c.database)
            );
            if let Some(central) = c.central_listen {
                out += &format!("central_listen = \"{central}\"\n");
            }
            out.push('\n');
        }
        out
    }
}

/// A TOML basic string (a JSON string is one).
fn q(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

fn path(p: &std::path::Path) -> String {
    q(&p.to_string_lossy())
}
