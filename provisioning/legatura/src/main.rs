//! `legatura`, the operator CLI. `legatura up` runs the whole platform on this machine with
//! embedded defaults: a hub and one enrolled embassy gateway, with a development CA.

mod ca;
mod demo;
mod fleet;
mod hub_credential;
mod hw;
mod noc;
mod operator;
mod sipdemo;
mod up;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Legătura: the consular contact centre platform.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a hub and one embassy gateway on this machine until Ctrl-C.
    Up {
        /// Where keys, certificates, configuration and state live.
        #[arg(long, default_value = "legatura-data")]
        data: PathBuf,
        /// Use thirteen consecutive ports from here instead of the defaults (4433/udp, 9100,
        /// 9180, 9101, 8080, 9443, 8000, 9210, 9200, 8081, 2525, 5060 and 5070/udp).
        #[arg(long)]
        port_base: Option<u16>,
    },
    /// The certificate authority.
    Ca {
        #[command(subcommand)]
        command: CaCommand,
    },
    /// The appliance fleet, through the hub's NOC API.
    Fleet {
        /// The data directory holding the operator's credentials and the NOC address.
        #[arg(long, default_value = "legatura-data", global = true)]
        data: PathBuf,
        #[command(subcommand)]
        command: FleetCommand,
    },
    /// The hash-chained audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// This workstation as a NOC operator.
    Operator {
        #[command(subcommand)]
        command: OperatorCommand,
    },
    /// Citizens' receipts.
    Receipt {
        #[command(subcommand)]
        command: ReceiptCommand,
    },
    /// The appliance hardware.
    Hw {
        #[command(subcommand)]
        command: HwCommand,
    },
}

#[derive(Debug, Subcommand)]
enum HwCommand {
    /// Compare this machine with a hardware profile; one PASS/FAIL/WARN line per check.
    Check {
        /// A shipped profile's name (embassy-small, hub-server, qemu-dev) or a profile file.
        #[arg(long, default_value = "embassy-small")]
        profile: String,
    },
    /// List the shipped hardware profiles.
    Profiles,
}

#[derive(Debug, Subcommand)]
enum OperatorCommand {
    /// Enrol with the one-time code from `legatura fleet operator-enroll`.
    Enroll {
        code: String,
        /// The hub's tunnel endpoint (host:port, UDP).
        #[arg(long)]
        hub: String,
        /// The hub CA to trust (the fleet root).
        #[arg(long)]
        hub_ca: PathBuf,
        /// The NOC API address (host:port) to use afterwards.
        #[arg(long)]
        noc: String,
        /// Where to keep the operator's credentials.
        #[arg(long, default_value = "legatura-data")]
        data: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum ReceiptCommand {
    /// Check a receipt offline: the signature and the ministry's published key.
    Verify {
        file: PathBuf,
        /// The receipt-signing public key (hex).
        #[arg(long, default_value = "legatura-data/pki/receipt.pub")]
        key: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum CaCommand {
    /// Create the root CA, the issuing CA (key in the key store), the hub's certificate and the
    /// first operator's certificate.
    Init {
        #[arg(long)]
        dir: PathBuf,
        /// DNS names of the hub.
        #[arg(long, default_value = "hub.legatura")]
        hub_name: Vec<String>,
        #[arg(long, default_value = "noc")]
        operator: String,
    },
    /// Write the boot credential a hub appliance takes its PKI from (`legatura.hub-pki`): the
    /// hub's certificate and key, the CA certificates and the key store, never the root key.
    HubCredential {
        /// The directory `ca init` wrote.
        #[arg(long)]
        dir: PathBuf,
        /// Where to write the SMBIOS string `io.systemd.credential.binary:legatura.hub-pki=…`.
        #[arg(long, default_value = "hub-pki.cred")]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum FleetCommand {
    /// Create a one-time enrollment code for an appliance at a mission.
    Enroll {
        #[arg(long)]
        mission: String,
        #[arg(long)]
        appliance: String,
    },
    /// Revoke an appliance (`PAR-01` or `paris/PAR-01`): every hub refuses it within seconds.
    Revoke { appliance: String },
    /// List every appliance.
    Ls,
    /// Create a one-time code that enrols a new NOC operator.
    OperatorEnroll {
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check the chain and the checkpoint signatures; name the first broken entry.
    Verify {
        #[arg(default_value = "legatura-data/hub/audit.log")]
        log: PathBuf,
        /// The audit-checkpoint public key (hex).
        #[arg(long, default_value = "legatura-data/pki/audit.pub")]
        key: PathBuf,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    daemon::logging::init();
    let result = match cli.command {
        Command::Up { data, port_base } => up::run(&data, up::Ports::new(port_base)),
        Command::Ca { command: CaCommand::Init { dir, hub_name, operator } } => {
            let names: Vec<&str> = hub_name.iter().map(String::as_str).collect();
            ca::init(&dir, &names, &operator).map(|_| say(&format!("PKI created in {}; move root.key offline.", dir.display())))
        }
        Command::Ca { command: CaCommand::HubCredential { dir, out } } => hub_credential::write(&dir, &out).map(|()| {
            say(&format!("{} written: give it to the hub appliance as an SMBIOS OEM string (docs/install.md); it holds the hub's keys", out.display()))
        }),
        Command::Fleet { data, command } => runtime().and_then(|rt| {
            rt.block_on(async {
                match command {
                    FleetCommand::Enroll { mission, appliance } => fleet::enroll(&data, &mission, &appliance).await.map(|(code, expires)| {
                        say(&format!("Enrollment code for {mission}/{appliance} (single use, at most 5 attempts, expires {expires}):\n\n    {code}\n"))
                    }),
                    FleetCommand::Revoke { appliance } => fleet::revoke(&data, &appliance)
                        .await
                        .map(|n| say(&format!("{appliance} revoked; {n} live connection(s) closed at this hub, the others follow within seconds"))),
                    FleetCommand::Ls => fleet::ls(&data).await,
                    FleetCommand::OperatorEnroll { name } => fleet::enroll_operator(&data, &name).await.map(|(code, expires)| {
                        say(&format!("Enrollment code for operator {name} (single use, at most 5 attempts, expires {expires}):\n\n    {code}\n"))
                    }),
                }
            })
        }),
        Command::Audit { command: AuditCommand::Verify { log, key } } => fleet::audit_verify(&log, &key),
        Command::Operator { command: OperatorCommand::Enroll { code, hub, hub_ca, noc, data } } => runtime().and_then(|rt| {
            rt.block_on(operator::enroll(&code, &hub, &hub_ca, &noc, &data))
                .map(|name| say(&format!("enrolled as NOC operator {name}; try: legatura fleet ls --data {}", data.display())))
        }),
        Command::Receipt { command: ReceiptCommand::Verify { file, key } } => receipt_verify(&file, &key),
        Command::Hw { command: HwCommand::Check { profile } } => hw::check(&profile),
        Command::Hw { command: HwCommand::Profiles } => hw::profiles(),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("legatura: {error:#}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}

/// `legatura receipt verify`: prints what the receipt says once its signature checks out.
fn receipt_verify(file: &std::path::Path, key: &std::path::Path) -> anyhow::Result<()> {
    use anyhow::Context;
    let text = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let key_text =
        std::fs::read_to_string(key).with_context(|| format!("reading {}", key.display()))?;
    let key = hex::decode(key_text.trim()).context("the receipt public key is not hex")?;
    let r =
        receipts::verify(&text, &[key]).map_err(|e| anyhow::anyhow!("receipt NOT valid: {e}"))?;
    let mut out = format!(
        "receipt valid: case {} received {} ({})\n",
        r.case_no, r.received_at, r.request_type
    );
    for d in &r.documents {
        out.push_str(&format!(
            "  {}  {} bytes  sha256 {}\n",
            d.name, d.bytes, d.sha256
        ));
    }
    say(out.trim_end());
    Ok(())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

#[allow(clippy::print_stdout)]
pub(crate) fn say(text: &str) {
    println!("{text}");
}
