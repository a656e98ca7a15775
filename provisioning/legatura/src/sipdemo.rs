//! Demo SIP accounts for `legatura up`: two agents with random passwords. The hub's
//! credentials file (`hub/sip-agents.toml`) holds only their HA1s; the passwords, for the
//! person configuring a softphone, are in `sip-accounts.txt`. Both files are mode 0600 and
//! kept across starts.

use std::path::Path;

use anyhow::Context;
use telephony::credentials::{NewAgent, random_password, render};

/// The realm `[telephony]` uses by default; the HA1s are computed with it.
const REALM: &str = "legatura";

/// Creates the two files if they are missing.
pub(crate) fn provision(data: &Path) -> anyhow::Result<()> {
    let agents_file = data.join("hub/sip-agents.toml");
    let accounts_file = data.join("sip-accounts.txt");
    if agents_file.exists() && accounts_file.exists() {
        return Ok(());
    }
    let passwords = [random_password(), random_password()];
    let agents = [
        NewAgent {
            username: "agent1",
            password: &passwords[0],
            extension: Some("101"),
            staff: Some("op.ionescu"),
        },
        NewAgent {
            username: "agent2",
            password: &passwords[1],
            extension: Some("102"),
            staff: Some("sup.georgescu"),
        },
    ];
    pki::write_private(&agents_file, render(REALM, &agents).as_bytes())
        .with_context(|| format!("writing {}", agents_file.display()))?;
    let mut text = String::from("Demo SIP accounts (realm \"legatura\"):\n");
    for a in &agents {
        text.push_str(&format!(
            "  {:<8} extension {}  password {}\n",
            a.username,
            a.extension.unwrap_or("-"),
            a.password
        ));
    }
    pki::write_private(&accounts_file, text.as_bytes())
        .with_context(|| format!("writing {}", accounts_file.display()))?;
    Ok(())
}

/// What to print: where SIP listens (at the hub, and at the gateway for embassy phones) and
/// the accounts.
pub(crate) fn banner(
    data: &Path,
    sip: u16,
    gateway_sip: u16,
    gateway_rtp: u16,
) -> anyhow::Result<String> {
    let file = data.join("sip-accounts.txt");
    let accounts =
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    let hub = std::fs::read_to_string(data.join("hub/hubd.toml")).unwrap_or_default();
    if !hub.contains("[telephony]") {
        return Ok(format!(
            "\nTelephony is off: this data directory's hub/hubd.toml predates it. Add a\n\
             [telephony] section (listen = \"127.0.0.1:{sip}\", agents = \"sip-agents.toml\"), see\n\
             docs/telephony.md.\n"
        ));
    }
    // Both files are kept once written; an older data directory may lack the gateway's port.
    let gateway = std::fs::read_to_string(data.join("gateway/gatewayd.toml")).unwrap_or_default();
    let embassy = if gateway.contains("service = \"sip\"") && hub.contains("name = \"sip\"") {
        format!(
            "An embassy desk phone registers through the Paris gateway instead: the same\n\
             account with registrar/outbound proxy 127.0.0.1:{gateway_sip} (UDP); the hub sees\n\
             it as the ro-emb-paris mission's phone.{audio}\n",
            audio = if gateway.contains("service = \"rtp\"") {
                format!(
                    " Its audio goes to the gateway too\n\
                     (127.0.0.1:{gateway_rtp}, RTCP on the next port) and rides the tunnel."
                )
            } else {
                String::new()
            }
        )
    } else {
        String::new()
    };
    Ok(format!(
        "\nTelephony (SIP, UDP and TCP): 127.0.0.1:{sip}. Register a softphone as\n\
         sip:agent1@127.0.0.1:{sip} with the password below, then call sip:101@127.0.0.1:{sip}\n\
         from another softphone or SIPp (docs/telephony.md). agent1 is op.ionescu's phone and\n\
         agent2 sup.georgescu's: signed in to the console, Phone > Log in to the queues, then\n\
         dial sip:200@127.0.0.1:{sip} (Romanian), 201 (English) or 209 (emergency): the menu\n\
         answers first (press 1 for Romanian, 2 for English, 9 for an emergency), then the\n\
         call waits for a ready agent.\n{embassy}{accounts}"
    ))
}
