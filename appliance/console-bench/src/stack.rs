//! Everything the browsers talk to, in this process: the console with its central listener
//! and its tunnel-side `OriginListener`, a `tunnel::Hub` whose `console` service
//! (`proxy_protocol: true`) delivers to that listener, and a `tunnel::Gateway` with the
//! appliance identity `ro-emb-paris/PAR-01` listening for the service on loopback, as
//! `legatura up` wires them, over real QUIC and mutual TLS from the fixture PKI. Also the two
//! staff accounts the load signs in with.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use casestore::{
    AgentId, ConsulateId, Language, Name, NewStaff, Options, PasswordHash, StaffRole, Store,
};
use console_client::Account;
use tokio::net::TcpListener;
use tunnel::{
    AllowRule, Credentials, Gateway, GatewayConfig, Hub, HubConfig, HubHandle, Metrics, Protocol,
    Service, ServiceName, ServiceTable,
};
use tunnel_origin::{OriginCounters, OriginListener};

use crate::progress;

/// The gateway's appliance identity: the officer's mission.
pub(crate) const MISSION: &str = "ro-emb-paris";
const APPLIANCE: &str = "PAR-01";
/// The central contact centre (the demo table's fallback).
const CENTRAL: &str = "ro-ccscrs";
const SERVICE: &str = "console";

/// The staff accounts the load signs in with, which live only in the benchmark's store:
/// (id, role, consulate, password, TOTP secret).
const ACCOUNTS: [(&str, StaffRole, &str, &str, &[u8; staffauth::SECRET_LEN]); 2] = [
    (
        "bench.officer",
        StaffRole::Officer,
        MISSION,
        "console-bench officer password",
        b"console-bench-off-01",
    ),
    (
        "bench.supervisor",
        StaffRole::Supervisor,
        CENTRAL,
        "console-bench supervisor password",
        b"console-bench-sup-01",
    ),
];

/// The running servers.
#[derive(Debug)]
pub(crate) struct Stack {
    pub(crate) store: Arc<Store>,
    /// The console's central listener.
    pub(crate) central: SocketAddr,
    /// The gateway's listener for the console service.
    pub(crate) gateway: SocketAddr,
    pub(crate) officer: Account,
    pub(crate) supervisor: Account,
    origin: OriginCounters,
    hub: HubHandle,
    gw: Gateway,
    /// The audit log and its key.
    _dir: tempfile::TempDir,
}

impl Stack {
    pub(crate) async fn start(db: &Path) -> Result<Self> {
        let store = Arc::new(Store::open(db, Options::default())?);
        let (officer, supervisor) = accounts(&store)?;
        let dir = tempfile::Builder::new()
            .prefix("console-bench-")
            .tempdir()?;
        let keys = keys::SoftwareStore::open(dir.path().join("keys"))?;
        let signer = keys.generate(keys::KeyRole::AuditCheckpoint)?;
        let audit = audit::AuditLog::open(dir.path().join("audit.log"), signer, 100)?;
        let console = console::Console::new(
            store.clone(),
            Arc::new(audit),
            console::Settings::new(ConsulateId::new(CENTRAL)?),
        )?;

        let central = TcpListener::bind("127.0.0.1:0").await?;
        let central_addr = central.local_addr()?;
        tokio::spawn(console.clone().serve_central(central));
        let origin = OriginListener::bind(([127, 0, 0, 1], 0).into()).await?;
        let origin_addr = origin.local_addr();
        let counters = origin.counters();
        tokio::spawn(console.clone().serve_tunnel(origin));

        let fleet = pki::fixture::fleet().context("the fixture PKI")?;
        let services = ServiceTable::new([Service {
            name: ServiceName::new(SERVICE).context("service name")?,
            protocol: Protocol::Tcp,
            upstream: tunnel::Upstream::Address(origin_addr.to_string()),
            proxy_protocol: true,
            allow: vec![
                format!("{MISSION}/*")
                    .parse::<AllowRule>()
                    .context("allow rule")?,
            ],
        }])
        .context("service table")?;
        let hub_credentials = Credentials::from_pem(
            &fleet.ca().cert_pem(),
            &fleet.hub().cert_pem,
            &fleet.hub().key_pem,
        )
        .context("hub credentials")?;
        let hub = Hub::bind(
            HubConfig::new(([127, 0, 0, 1], 0).into(), hub_credentials, services),
            Metrics::default(),
        )
        .context("cannot start the hub")?;
        let issued = fleet
            .appliance(MISSION, APPLIANCE)
            .context("the appliance certificate")?;
        let credentials =
            Credentials::from_pem(&fleet.ca().cert_pem(), &issued.cert_pem, &issued.key_pem)
                .context("gateway credentials")?;
        let mut config = GatewayConfig::new(
            vec![hub.local_addr()?.to_string()],
            pki::fixture::HUB_DNS_NAME.to_owned(),
            credentials,
        );
        config.bind = ([127, 0, 0, 1], 0).into();
        let gw = Gateway::new(config, Metrics::default()).context("cannot start the gateway")?;
        gw.start();
        if !gw.wait_ready(Duration::from_secs(10)).await {
            bail!("the gateway did not connect to the in-process hub within 10 s");
        }
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let gateway_addr = listener.local_addr()?;
        let (serving, name) = (gw.clone(), ServiceName::new(SERVICE)?);
        tokio::spawn(async move { serving.serve_tcp(listener, name).await });
        progress!(
            "console on {central_addr} (central) and {origin_addr} (tunnel side); \
             gateway {MISSION}/{APPLIANCE} listening on {gateway_addr}"
        );
        Ok(Self {
            store,
            central: central_addr,
            gateway: gateway_addr,
            officer,
            supervisor,
            origin: counters,
            hub,
            gw,
            _dir: dir,
        })
    }

    /// Connections the console's tunnel side accepted and refused.
    pub(crate) fn origin_counters(&self) -> (u64, u64) {
        (
            self.origin.accepted(),
            self.origin.refused() + self.origin.timed_out(),
        )
    }

    pub(crate) async fn shutdown(self) {
        self.gw.shutdown().await;
        self.hub.close();
    }
}

/// The officer and the supervisor, created on the first run against this store.
fn accounts(store: &Store) -> Result<(Account, Account)> {
    let mut out = Vec::new();
    for (id, role, consulate, password, secret) in ACCOUNTS {
        let agent = AgentId::new(id)?;
        let totp = staffauth::TotpSecret::from_bytes(secret).context("TOTP secret length")?;
        if store.staff(&agent)?.is_none() {
            store.create_staff(&NewStaff {
                id: agent,
                display_name: Name::new(id)?,
                role,
                consulate: ConsulateId::new(consulate)?,
                languages: vec![Language::new("ro")?, Language::new("en")?],
                password_phc: PasswordHash::new(staffauth::hash_password(password)?)?,
                totp_secret: Some(casestore::TotpSecret::new(totp.as_bytes().to_vec())?),
            })?;
        }
        out.push(Account {
            id: id.to_owned(),
            password: password.to_owned(),
            totp,
        });
    }
    let supervisor = out.pop().context("two accounts")?;
    let officer = out.pop().context("two accounts")?;
    Ok((officer, supervisor))
}
