//! The baseline: Kamailio (Debian package) as a stateful relay with record-routing and a
//! fixed destination, its configuration kept in `kamailio/relay.cfg` beside this crate.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};

use crate::procs;

/// A running Kamailio, stopped by PID (its main process reaps its workers) when dropped.
#[derive(Debug)]
pub(crate) struct Kamailio {
    child: Child,
    _dir: tempfile::TempDir,
}

/// `relay.cfg` with the listening address and the destination filled in.
pub(crate) fn config(listen: SocketAddr, destination: SocketAddr) -> Result<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("kamailio/relay.cfg");
    let template =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(template
        .replace("LISTEN_ADDR", &listen.to_string())
        .replace("DESTINATION_URI", &format!("sip:{destination}")))
}

impl Kamailio {
    pub(crate) fn start(listen: SocketAddr, destination: SocketAddr) -> Result<Kamailio> {
        let dir = tempfile::tempdir()?;
        let cfg = dir.path().join("relay.cfg");
        std::fs::write(&cfg, config(listen, destination)?)?;
        let check = Command::new("kamailio")
            .args(["-c", "-f"])
            .arg(&cfg)
            .output()
            .context("kamailio (Debian package kamailio; `cargo xtask deps` installs it)")?;
        if !check.status.success() {
            bail!(
                "kamailio refused relay.cfg: {}",
                String::from_utf8_lossy(&check.stderr).trim()
            );
        }
        let log = std::fs::File::create(dir.path().join("kamailio.log"))?;
        // -DD: foreground, still forking the workers; -E: log to stderr; shared and private
        // memory large enough for a few thousand transactions.
        let child = Command::new("kamailio")
            .args(["-DD", "-E", "-m", "256", "-M", "16", "-f"])
            .arg(&cfg)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting kamailio")?;
        let mut kamailio = Kamailio { child, _dir: dir };
        // It is ready when its workers exist; a bind failure ends it.
        for _ in 0..50 {
            std::thread::sleep(Duration::from_millis(100));
            if let Some(status) = kamailio.child.try_wait()? {
                bail!("kamailio exited at start ({status})");
            }
            if procs::children(kamailio.pid()).len() >= 2 {
                return Ok(kamailio);
            }
        }
        Ok(kamailio)
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        procs::stop(&mut self.child, Duration::from_secs(3));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_names_the_listener_and_the_destination() {
        let cfg = config(
            "127.0.0.1:5060".parse().unwrap_or_else(|_| unreachable!()),
            "127.0.0.1:5070".parse().unwrap_or_else(|_| unreachable!()),
        )
        .unwrap_or_default();
        assert!(cfg.contains("listen=udp:127.0.0.1:5060"));
        assert!(cfg.contains("$du = \"sip:127.0.0.1:5070\";"));
        assert!(cfg.contains("loadmodule \"tm.so\"") && cfg.contains("record_route();"));
    }
}
