//! `legatura up`: a development CA, a hub and one enrolled gateway, all on this machine.
//!
//! Everything is written under the data directory once (certificates, keys with mode 0600,
//! `hubd.toml`, `gatewayd.toml`) and reused on the next start, so a person can read and edit
//! what runs. The daemons run in this process through the same code as `hubd` and `gatewayd`.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;

/// The demo gateway is the Paris embassy's appliance: the mission id is the consulate id, so
/// the Paris demo accounts can sign in to the console through it and the others cannot.
const MISSION: &str = "ro-emb-paris";
const APPLIANCE: &str = "PAR-01";
const HUB_NAME: &str = "hub.legatura";
/// The address the demo hub takes mail for.
const MAIL_ADDRESS: &str = "contact@legatura.test";

/// The local ports `up` uses.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ports {
    hub_quic: u16,
    hub_admin: u16,
    status_page: u16,
    gateway_admin: u16,
    console: u16,
    noc: u16,
    portal: u16,
    /// The console's tunnel-side listener at the hub (PROXY v2, loopback).
    console_hub: u16,
    /// The console on the "central network" (here: loopback), for the 24/7 centre.
    console_central: u16,
    /// The hub status page through the gateway.
    status_via_gateway: u16,
    /// SMTP for incoming mail (what the ministry's relay would deliver to).
    smtp: u16,
    /// SIP (UDP and TCP) for the telephony bridge.
    sip: u16,
    /// SIP (UDP) at the gateway: the Paris embassy's desk phones register through it.
    gateway_sip: u16,
    /// RTP at the gateway (RTCP on the next port): the desk phones' audio, carried to the
    /// hub's relay.
    gateway_rtp: u16,
}

impl Ports {
    pub(crate) fn new(base: Option<u16>) -> Self {
        match base {
            None => Self {
                hub_quic: 4433,
                hub_admin: 9100,
                status_page: 9180,
                gateway_admin: 9101,
                console: 8080,
                noc: 9443,
                portal: 8000,
                console_hub: 9210,
                console_central: 9200,
                status_via_gateway: 8081,
                smtp: 2525,
                sip: 5060,
                gateway_sip: 5070,
                gateway_rtp: 5072,
            },
            Some(b) => Self {
                hub_quic: b,
                hub_admin: b.saturating_add(1),
                status_page: b.saturating_add(2),
                gateway_admin: b.saturating_add(3),
                console: b.saturating_add(4),
                noc: b.saturating_add(5),
                portal: b.saturating_add(6),
                console_hub: b.saturating_add(7),
                console_central: b.saturating_add(8),
                status_via_gateway: b.saturating_add(9),
                smtp: b.saturating_add(10),
                sip: b.saturating_add(11),
                gateway_sip: b.saturating_add(12),
                gateway_rtp: b.saturating_add(13),
            },
        }
    }
}

pub(crate) fn run(data: &Path, ports: Ports) -> anyhow::Result<()> {
    provision(data, ports)?;
    let accounts = crate::demo::seed(data)?
        + &crate::sipdemo::banner(data, ports.sip, ports.gateway_sip, ports.gateway_rtp)?;
    let hub_config =
        hubd::Config::load(&data.join("hub/hubd.toml")).map_err(|e| anyhow::anyhow!("{e}"))?;
    let gw_config = gatewayd::Config::load(&data.join("gateway/gatewayd.toml"))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    // The portal scans every upload with clamd: a private one with its own small signature
    // database when this machine has clamd, else uploads are refused until one is there.
    let clamd = match scan::local::LocalClamd::start(&data.join("clamd"), 32) {
        Ok(c) => Some(c),
        Err(e) => {
            say(&format!(
                "note: {e}; the portal will refuse document uploads until clamd runs"
            ));
            None
        }
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the runtime")?;
    let result = runtime.block_on(serve(data, hub_config, gw_config, ports, &accounts));
    drop(clamd);
    result
}

async fn serve(
    data: &Path,
    hub_config: hubd::Config,
    gw_config: gatewayd::Config,
    ports: Ports,
    accounts: &str,
) -> anyhow::Result<()> {
    let (stop_gw_tx, stop_gw) = watch::channel(false);
    let (stop_hub_tx, stop_hub) = watch::channel(false);
    let wait = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let mut hub = tokio::spawn(hubd::run(hub_config, wait(stop_hub)));

    // The gateway enrols the way an embassy box does: the NOC creates a one-time code, and the
    // appliance uses it on first start.
    if !gatewayd::enroll::is_enrolled(&gw_config) {
        let code = enrollment_code(data).await?;
        say(&format!(
            "Enrollment code for {MISSION}/{APPLIANCE}: {code} (handed to the gateway, which enrols with it now)"
        ));
        pki::write_private(&gatewayd::enroll::code_file(&gw_config), code.as_bytes())?;
    }
    let mut gateway = tokio::spawn(gatewayd::run(gw_config, wait(stop_gw)));

    let ready = wait_ready(ports.gateway_admin).await;
    // Ctrl-C is caught from before the banner asks for it.
    let interrupted = daemon::catch_shutdown_signal();
    say(&format!(
        "\nLegătura is up{}.\n\n  Citizens' portal:                              http://127.0.0.1:{}/\n  Agents' console, through the Paris gateway:    http://127.0.0.1:{}/\n  Agents' console, central network:              http://127.0.0.1:{}/\n  Hub status page, through the embassy gateway:  http://127.0.0.1:{}/\n  Gateway readiness and metrics:                 http://127.0.0.1:{}/readyz  /metrics  /status\n  Hub admin:                                     http://127.0.0.1:{}/status\n  The fleet (NOC API, operator certificate):     legatura fleet ls --data {}\n  Mail in (SMTP, to {MAIL_ADDRESS}):       127.0.0.1:{}\n  Mail out (captured, not sent):                 {}\n\n{}\nPress Ctrl-C to stop.\n",
        if ready {
            ""
        } else {
            " (the tunnel is still connecting; see the log)"
        },
        ports.portal,
        ports.console,
        ports.console_central,
        ports.status_via_gateway,
        ports.gateway_admin,
        ports.hub_admin,
        data.display(),
        ports.smtp,
        data.join("outbox-mail").display(),
        accounts,
    ));

    tokio::select! {
        _ = interrupted => {}
        r = gateway_or_hub_exit(&mut hub, &mut gateway) => return r,
    }
    say("Stopping: closing the gateway, then draining the hub.");
    // The gateway goes first, so the hub's drain finds nobody to wait for.
    stop_gw_tx.send_replace(true);
    gateway.await.context("gateway task")??;
    stop_hub_tx.send_replace(true);
    hub.await.context("hub task")??;
    Ok(())
}

async fn gateway_or_hub_exit(
    hub: &mut tokio::task::JoinHandle<anyhow::Result<()>>,
    gateway: &mut tokio::task::JoinHandle<anyhow::Result<()>>,
) -> anyhow::Result<()> {
    // Whichever stops first says why; a daemon that stops on its own is a failure.
    let (who, result) = tokio::select! {
        r = hub => ("the hub", r),
        r = gateway => ("the gateway", r),
    };
    match result {
        Ok(Ok(())) => anyhow::bail!("{who} stopped unexpectedly; see the log above"),
        Ok(Err(e)) => Err(e.context(format!("{who} stopped"))),
        Err(e) => Err(anyhow::Error::new(e).context(format!("{who} task"))),
    }
}

/// Asks the running hub's NOC API for the demo appliance's code, waiting for the API to come
/// up.
async fn enrollment_code(data: &Path) -> anyhow::Result<String> {
    let mut last = None;
    for _ in 0..50 {
        match crate::fleet::enroll(data, MISSION, APPLIANCE).await {
            Ok((code, _expires)) => return Ok(code),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(last
        .unwrap_or_else(|| anyhow::anyhow!("NOC API unreachable"))
        .context("creating the demo appliance's enrollment code"))
}

/// Polls the gateway's `/readyz` for up to 30 s: enrolment and the first connection take well
/// under a second, but a loaded machine can take longer, and the banner should say so only
/// when something is really wrong.
async fn wait_ready(admin_port: u16) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    for _ in 0..300 {
        if let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", admin_port)).await {
            let _ = s
                .write_all(b"GET /readyz HTTP/1.1\r\nHost: l\r\nConnection: close\r\n\r\n")
                .await;
            let mut out = String::new();
            let _ = s.read_to_string(&mut out).await;
            if out.starts_with("HTTP/1.1 200") {
                return true;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

use crate::say;

/// Creates what is missing: the PKI (root, issuing CA in the key store, hub and operator
/// certificates), both configuration files, and the gateway's pinned hub CA. The gateway's
/// own key and certificate come later, from enrollment.
fn provision(data: &Path, ports: Ports) -> anyhow::Result<()> {
    let (pki_dir, hub_dir, gw_dir) = (data.join("pki"), data.join("hub"), data.join("gateway"));
    for dir in [&hub_dir, &gw_dir] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    if !pki_dir.join("root.pem").exists() {
        crate::ca::init(&pki_dir, &[HUB_NAME, "localhost"], "noc")?;
    }
    let root = std::fs::read_to_string(pki_dir.join("root.pem")).context("reading the root CA")?;
    write_once(&gw_dir.join("hub-ca.pem"), &root)?;
    crate::sipdemo::provision(data)?;
    write_once(&hub_dir.join("hubd.toml"), &hub_toml(ports))?;
    write_once(&gw_dir.join("gatewayd.toml"), &gateway_toml(ports))?;
    write_once(
        &data.join("noc-address"),
        &format!("127.0.0.1:{}\n", ports.noc),
    )?;
    Ok(())
}

fn write_once(path: &Path, text: &str) -> anyhow::Result<()> {
    if !path.exists() {
        pki::write_public(path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn hub_toml(p: Ports) -> String {
    format!(
        r#"# hubd configuration written by `legatura up`; edit freely, it is kept.
hub_id = "hub-1"
listen = "127.0.0.1:{quic}"
admin = "127.0.0.1:{admin}"
state_dir = "state"
drain_grace = "5s"

[tls]
fleet_ca = "../pki/root.pem"
cert = "../pki/hub.pem"
key = "../pki/hub.key"

# The fleet PKI: the issuing CA's key stays in the key store (or an HSM: pkcs11:token=…).
[pki]
issuing_key = "keystore:../pki/keys/fleet-issuing.key"
issuing_cert = "../pki/issuing.pem"
hub_ca = "../pki/root.pem"
fleet_dir = "fleet"
audit_log = "audit.log"
audit_key = "keystore:../pki/keys/audit-checkpoint.key"

# The citizens' portal: forms, uploads scanned by clamd, receipts, status tracking.
[portal]
listen = "127.0.0.1:{portal}"
database = "cases.db"
attachments = "attachments"
clamd = "../clamd/clamd.sock"
receipt_key = "keystore:../pki/keys/receipt-signing.key"

# The e-mail channel: mail to {mail_address} on SMTP port {smtp} becomes a case; what the
# hub would send citizens is written to ../outbox-mail/ as .eml files instead of a relay
# (relay = "smtp://HOST:PORT" sends it).
[mail]
listen = "127.0.0.1:{smtp}"
hostname = "{HUB_NAME}"
database = "cases.db"
attachments = "attachments"
clamd = "../clamd/clamd.sock"
relay = "capture:../outbox-mail"
from = "Legătura <{mail_address}>"
portal_url = "http://127.0.0.1:{portal}"
# Demo only: every sender counts as verified (a real relay vouches with Authentication-Results).
trust_sender = true

[[mail.recipient]]
address = "{mail_address}"

# The telephony bridge: agents' phones register (digest; only HA1s in sip-agents.toml, mode
# 0600; the passwords are in ../sip-accounts.txt). A call to 200 (Romanian), 201 (English) or
# 209 (emergency) waits in that queue for an agent logged in from the console's Phone page.
[telephony]
listen = "127.0.0.1:{sip}"
# Who may call besides registered and embassy phones: a softphone on this machine.
trunks = ["127.0.0.1"]
agents = "sip-agents.toml"

[[telephony.queue]]
name = "ro"
numbers = ["200"]
language = "ro"
consulate = "ro-ccscrs"
wrap_up = "10s"

[[telephony.queue]]
name = "en"
numbers = ["201"]
language = "en"
consulate = "ro-ccscrs"
wrap_up = "10s"

[[telephony.queue]]
name = "emergency"
numbers = ["209"]
language = "ro"
consulate = "ro-ccscrs"
emergency = true
wrap_up = "10s"

# Media through the hub: a caller to a queue first hears the menu (1 Romanian, 2 English,
# 9 emergency) as early media, and the relay carries the call's audio.
[telephony.media]
ivr = true
# Embassy desk phones send their audio to their gateway's rtp service (RTCP on the next
# port), which the tunnel carries to the relay.
gateway_rtp_port = {gateway_rtp}

# The NOC API: operator certificates only.
[noc]
listen = "127.0.0.1:{noc}"
operator_ca = "../pki/root.pem"

[status_page]
listen = "127.0.0.1:{status}"

# The agents' console: embassy staff through their gateway (the hub tells the console which
# appliance each connection came through), the central centre on its own network.
[console]
tunnel_listen = "127.0.0.1:{console_hub}"
central_listen = "127.0.0.1:{console_central}"
database = "cases.db"

# Reached by gateways through the tunnel. Default deny: list who may use each service.
[[service]]
name = "status"
upstream = "127.0.0.1:{status}"
allow = ["*"]

[[service]]
name = "console"
upstream = "127.0.0.1:{console_hub}"
proxy_protocol = true
allow = ["*"]

# Embassy desk phones: SIP over UDP to the telephony bridge, which learns from the tunnel
# which mission each phone registered through.
[[service]]
name = "sip"
protocol = "udp"
upstream = "127.0.0.1:{sip}"
allow = ["*"]

# Their audio: each datagram goes to the relay port of the call its phone is in.
[[service]]
name = "rtp"
protocol = "udp"
upstream = "routed"
allow = ["*"]

[[service]]
name = "rtcp"
protocol = "udp"
upstream = "routed"
allow = ["*"]
"#,
        quic = p.hub_quic,
        admin = p.hub_admin,
        status = p.status_page,
        noc = p.noc,
        portal = p.portal,
        console_hub = p.console_hub,
        console_central = p.console_central,
        smtp = p.smtp,
        sip = p.sip,
        gateway_rtp = p.gateway_rtp,
        mail_address = MAIL_ADDRESS,
    )
}

fn gateway_toml(p: Ports) -> String {
    format!(
        r#"# gatewayd configuration written by `legatura up`; edit freely, it is kept.
hubs = ["127.0.0.1:{quic}"]
server_name = "{HUB_NAME}"
admin = "127.0.0.1:{admin}"

[tls]
hub_ca = "hub-ca.pem"
cert = "gateway.pem"
key = "gateway.key"

# What embassy staff open on their LAN, forwarded to the hub's service of the same name.
[[listen]]
service = "console"
tcp = "127.0.0.1:{console}"

[[listen]]
service = "status"
tcp = "127.0.0.1:{status}"

# The embassy's desk phones register here (SIP over UDP, carried to the hub's bridge).
[[listen]]
service = "sip"
udp = "127.0.0.1:{sip}"

# Their audio (RTP, and RTCP on the next port), which the hub's SDP points them at.
[[listen]]
service = "rtp"
udp = "127.0.0.1:{rtp}"

[[listen]]
service = "rtcp"
udp = "127.0.0.1:{rtcp}"
"#,
        quic = p.hub_quic,
        admin = p.gateway_admin,
        console = p.console,
        status = p.status_via_gateway,
        sip = p.gateway_sip,
        rtp = p.gateway_rtp,
        rtcp = p.gateway_rtp.saturating_add(1),
    )
}
