//! `gatewayd`, the embassy gateway daemon: load the configuration, bind the local listeners,
//! confine the process ([`confine`]), keep the tunnel to the hub up, and report readiness.
//! Wiring only; the tunnel crate owns the protocol.
//!
//! [`run`] never confines: it is for hosts that run the gateway beside other work
//! (`legatura up`). The binary calls [`run_with`] and [`Sandboxing::FromConfig`].

pub mod config;
pub mod confine;
pub mod enroll;
pub mod renew;
pub mod report;

use std::sync::{Arc, OnceLock};

use anyhow::Context;
use prometheus_client::registry::Registry;
use tracing::{info, warn};
use tunnel::{Credentials, Gateway, GatewayConfig, Metrics};

pub use config::Config;
pub use confine::Sandboxing;
pub use report::{Enrollment, Report, TunnelWarnings};

/// The first wait before a code whose hub could not be reached is tried again; it doubles up
/// to `[reconnect] backoff_cap`.
const ENROLL_RETRY_FIRST: std::time::Duration = std::time::Duration::from_secs(2);

/// Builds the tunnel's configuration from the file's.
pub fn gateway_config(config: &Config) -> anyhow::Result<GatewayConfig> {
    let t = &config.tls;
    let creds = Credentials::from_files(&t.hub_ca, &t.cert, &t.key)
        .context("loading the gateway's TLS files")?;
    let mut g = GatewayConfig::new(config.hubs.clone(), config.server_name.clone(), creds);
    g.transport = config.transport.settings();
    let r = &config.reconnect;
    g.backoff_base = r.backoff_base;
    g.backoff_cap = r.backoff_cap;
    g.backoff_stable = r.stable_after;
    g.handshake_timeout = r.handshake_timeout;
    g.watchdog_interval = r.watchdog;
    g.drain_grace = r.drain_grace;
    g.connections = r.connections;
    Ok(g)
}

/// Runs the daemon in a process shared with other work, unconfined, until `stop` resolves
/// (see [`run_with`]).
pub async fn run(
    config: Config,
    stop: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    run_with(config, Sandboxing::Skip, stop).await
}

/// Runs the daemon until `stop` resolves. An appliance without a certificate first waits for
/// its enrollment code (from `gatewayd enroll CODE` or the code file) and enrols, trying the
/// code again while the hub cannot be reached. With
/// [`Sandboxing::FromConfig`] the process is confined once started: before it waits for a
/// code, or once its listeners are bound and its credentials loaded.
pub async fn run_with(
    config: Config,
    sandboxing: Sandboxing,
    stop: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    tokio::pin!(stop);
    let mut confined = sandboxing == Sandboxing::Skip;
    let enrolled = enroll::is_enrolled(&config);
    let report = Report::new(
        if enrolled {
            Enrollment::Enrolled
        } else {
            Enrollment::WaitingForCode
        },
        enroll::identity(&config),
    );

    // The admin endpoint answers from the start, so that what holds enrollment up can be read
    // on loopback (the appliance's LAN status page does) while the daemon waits; `/readyz`
    // stays 503 until a tunnel is admitted.
    let metrics = Metrics::default();
    let mut registry = Registry::default();
    metrics.register(&mut registry);
    let started: Arc<OnceLock<Gateway>> = Arc::new(OnceLock::new());
    let (ready_gw, status_gw, status_report) = (started.clone(), started.clone(), report.clone());
    let admin = admin::Admin::new(
        registry,
        Arc::new(move || match ready_gw.get() {
            Some(gw) if gw.is_ready() => Ok(()),
            Some(_) => Err("no admitted tunnel to a hub".into()),
            None => Err("not enrolled yet".into()),
        }),
        Arc::new(move || status_report.json(status_gw.get().map(Gateway::status).as_ref())),
    );
    let admin_listener = tokio::net::TcpListener::bind(config.admin)
        .await
        .with_context(|| format!("binding admin {}", config.admin))?;
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(async move { admin.serve(admin_listener).await });

    if !enrolled {
        // Waiting for a code may take days: confined from the start, the key and certificate
        // directories writable.
        if !confined {
            confine::confine(&config)?;
            confined = true;
        }
        let file = enroll::code_file(&config);
        let status = format!(
            "enrollment pending: run `gatewayd enroll CODE` or write the code to {}",
            file.display()
        );
        info!("{status}");
        daemon::notify::ready(&status);
        // The wait may last days: systemd's watchdog is fed meanwhile, or it would kill and
        // restart the daemon every interval. Dropping the set stops the task.
        let mut watchdog = tokio::task::JoinSet::new();
        watchdog.spawn(daemon::notify::watchdog());
        // A code whose hub could not be reached is kept and tried again, later and later; a
        // refused code is dropped, and the daemon waits for a new one.
        let mut code: Option<String> = None;
        let mut backoff = ENROLL_RETRY_FIRST;
        let mut due = tokio::time::Instant::now();
        loop {
            if let Some(fresh) = enroll::take_code_file(&file)? {
                code = Some(fresh);
                backoff = ENROLL_RETRY_FIRST;
                due = tokio::time::Instant::now();
            }
            if let Some(typed) = code.take_if(|_| tokio::time::Instant::now() >= due) {
                report.enrollment(Enrollment::Enrolling, None);
                match enroll::enroll(&config, &typed).await {
                    Ok(enrolled) => {
                        info!(mission = %enrolled.mission, appliance = %enrolled.appliance, "enrolled");
                        report.enrolled(
                            pki::ApplianceId::new(&enrolled.mission, &enrolled.appliance).ok(),
                        );
                        break;
                    }
                    Err(error) if error.is_retryable() => {
                        warn!(%error, retry_in_s = backoff.as_secs(), "cannot reach the hub to enrol; retrying");
                        daemon::notify::status(&format!("enrollment: {error}; retrying"));
                        report.error(&error.to_string());
                        report.enrollment(Enrollment::Retrying, Some(backoff));
                        code = Some(typed);
                        due = tokio::time::Instant::now() + backoff;
                        backoff =
                            (backoff * 2).min(config.reconnect.backoff_cap.max(ENROLL_RETRY_FIRST));
                    }
                    Err(error) => {
                        warn!(%error, "enrollment failed; waiting for a new code");
                        daemon::notify::status(&format!("enrollment failed: {error}"));
                        report.error(&error.to_string());
                        report.enrollment(Enrollment::Refused, None);
                    }
                }
            }
            if enroll::is_enrolled(&config) {
                report.enrolled(enroll::identity(&config));
                break;
            }
            tokio::select! {
                _ = &mut stop => return Ok(()),
                _ = tokio::time::sleep(std::time::Duration::from_secs(2)) => {}
            }
        }
        drop(watchdog);
    }
    let gateway = Gateway::new(gateway_config(&config)?, metrics.clone())
        .context("starting the tunnel endpoint")?;

    // Bind every listener before declaring readiness, so a port clash fails the start.
    for config::ServiceListener {
        service,
        tcp,
        udp,
        advertise,
    } in config.services()
    {
        if let Some(addr) = tcp {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding {addr} for service {service}"))?;
            info!(%service, %addr, "TCP listener");
            let (gw, service) = (gateway.clone(), service.clone());
            tasks.spawn(async move { gw.serve_tcp(listener, service).await });
        }
        if let Some(addr) = udp {
            let socket = tokio::net::UdpSocket::bind(addr)
                .await
                .with_context(|| format!("binding {addr}/udp for service {service}"))?;
            info!(%service, %addr, ?advertise, "UDP listener");
            let (gw, service) = (gateway.clone(), service.clone());
            tasks.spawn(async move { gw.serve_udp_advertised(socket, service, advertise).await });
        }
    }
    let _ = started.set(gateway.clone());

    if !confined {
        confine::confine(&config)?;
    }
    gateway.start();
    tasks.spawn({
        let (config, gateway, report) = (config.clone(), gateway.clone(), report.clone());
        async move {
            renew::run(config, gateway, report).await;
            Ok(())
        }
    });
    daemon::notify::ready("connecting to the hub");
    let mut ready = gateway.watch_ready();
    let status = async {
        loop {
            let up = *ready.borrow_and_update();
            daemon::notify::status(if up {
                "tunnel up"
            } else {
                "tunnel down; reconnecting"
            });
            if ready.changed().await.is_err() {
                return;
            }
        }
    };

    tokio::select! {
        _ = &mut stop => info!("stopping"),
        _ = status => {}
        _ = daemon::notify::watchdog() => {}
        Some(done) = tasks.join_next() => {
            // A listener died: report it and exit so the supervisor restarts the daemon.
            let error = match done { Ok(Ok(())) => anyhow::anyhow!("a listener stopped"), Ok(Err(e)) => e.into(), Err(e) => e.into() };
            warn!(%error, "listener failed");
            gateway.shutdown().await;
            return Err(error.context("a local listener failed"));
        }
    }
    daemon::notify::stopping();
    gateway.shutdown().await;
    Ok(())
}
