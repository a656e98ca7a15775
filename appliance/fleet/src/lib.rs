//! The hub's fleet manager: the record of every appliance, one-time enrollment codes,
//! certificate issuance and renewal through the issuing CA's key backend, and revocation that
//! takes effect at every hub instance within seconds.
//!
//! It is the tunnel's [`FleetHooks`]: the tunnel asks it whether an appliance is revoked (in
//! the TLS verifier, on every stream, and in a sweep over live connections) and hands it the
//! bytes of enrollment and renewal exchanges.
//!
//! Invariants: a certificate's identity comes from this record, never from a CSR; every
//! enrollment attempt, issuance, renewal, revocation and refusal is audited; state changes are
//! durable (fsync) before they are acknowledged.

mod enroll;
mod state;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, SystemTime};

use pki::renew::{RenewRequest, RenewResponse};
use pki::{ApplianceId, Ca};
use tracing::{info, warn};
use tunnel::{EnrollSession, FleetHooks};

pub use state::{Appliance, ApplianceState, Code, IssuedCert, State, StateError};

/// Where security events go. Implemented by the audit log; a test may collect them.
pub trait AuditSink: Send + Sync + std::fmt::Debug {
    /// Records one event. Must not fail silently: an implementation that cannot write logs it.
    fn record(
        &self,
        kind: &str,
        actor: &str,
        subject: &str,
        outcome: &str,
        detail: serde_json::Value,
    );
}

/// The fleet manager's settings.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    pub state_dir: PathBuf,
    /// Lifetime of appliance certificates (24 h by default).
    pub leaf_lifetime: Duration,
    /// Lifetime of enrollment codes (14 days by default).
    pub code_lifetime: Duration,
    /// Wrong attempts a code survives.
    pub max_attempts: u32,
    /// Largest accepted difference between the appliance's clock and the hub's.
    pub max_clock_skew: Duration,
    /// The CA gateways pin for the hub (PEM), handed over at enrollment.
    pub hub_ca_pem: String,
    /// The issuing CA certificate (PEM), presented by appliances after their leaf.
    pub chain_pem: String,
}

impl FleetConfig {
    pub fn new(state_dir: PathBuf, hub_ca_pem: String, chain_pem: String) -> Self {
        Self {
            state_dir,
            leaf_lifetime: Duration::from_secs(24 * 3600),
            code_lifetime: Duration::from_secs(14 * 86_400),
            max_attempts: 5,
            max_clock_skew: Duration::from_secs(300),
            hub_ca_pem,
            chain_pem,
        }
    }
}

/// Why a NOC action failed.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Identity(#[from] tunnel_proto::InvalidIdentity),
    #[error("{0:?} is not an operator name: use 1-32 of a-z, 0-9, '.', '_' or '-'")]
    InvalidOperator(String),
    #[error("{0} is active; revoke it before enrolling it again")]
    AlreadyActive(String),
    #[error("no appliance {0}")]
    Unknown(String),
    #[error("cannot make an enrollment code")]
    Code(#[from] pki::enroll::CodeError),
    #[error("cannot sign the CRL")]
    Crl(#[from] pki::IssueError),
}

/// When an appliance was last seen, and from where, until written to the records.
#[derive(Debug, Clone)]
struct Seen {
    at: i64,
    remote: Option<String>,
    software: Option<String>,
}

/// What `legatura fleet ls` shows of one appliance.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ApplianceView {
    pub mission: String,
    pub appliance: String,
    pub state: &'static str,
    pub connected: bool,
    pub last_seen: Option<i64>,
    pub remote: Option<String>,
    pub transport: &'static str,
    pub cert_not_after: Option<i64>,
    pub software: Option<String>,
}

/// The fleet manager.
#[derive(Debug)]
pub struct Fleet {
    config: FleetConfig,
    store: state::Store,
    ca: Ca,
    audit: Arc<dyn AuditSink>,
    cache: RwLock<Cache>,
    /// Appliances connected to this hub instance now.
    live: Mutex<HashMap<ApplianceId, usize>>,
    /// Last-seen facts not yet written to the records: connections come and go in storms, and
    /// each must not cost a durable write on the hub's network threads ([`Fleet::flush_seen`]).
    seen: Mutex<HashMap<ApplianceId, Seen>>,
    /// Enrollment sessions outlive the call that starts them and hold the fleet through this.
    me: Weak<Fleet>,
}

#[derive(Debug, Default)]
struct Cache {
    state: State,
    modified: Option<SystemTime>,
    revoked: HashSet<ApplianceId>,
}

impl Cache {
    fn set(&mut self, state: State, modified: Option<SystemTime>) {
        self.revoked = state
            .appliances
            .values()
            .filter(|a| a.state == ApplianceState::Revoked)
            .filter_map(|a| ApplianceId::new(&a.mission, &a.appliance).ok())
            .collect();
        self.state = state;
        self.modified = modified;
    }
}

fn key(id: &ApplianceId) -> String {
    id.to_string()
}

impl Fleet {
    /// Opens the state in `config.state_dir`; `ca` is the issuing CA (its key in a backend).
    pub fn open(
        config: FleetConfig,
        ca: Ca,
        audit: Arc<dyn AuditSink>,
    ) -> Result<Arc<Self>, FleetError> {
        let store = state::Store::new(&config.state_dir)?;
        let mut cache = Cache::default();
        cache.set(store.load()?, store.modified());
        Ok(Arc::new_cyclic(|me| Self {
            config,
            store,
            ca,
            audit,
            cache: RwLock::new(cache),
            live: Mutex::new(HashMap::new()),
            seen: Mutex::new(HashMap::new()),
            me: me.clone(),
        }))
    }

    /// Reloads the state if another hub instance changed it. Cheap when nothing changed; call
    /// it often (the hub does, every few hundred milliseconds).
    pub fn refresh(&self) -> Result<(), FleetError> {
        let modified = self.store.modified();
        if modified
            == self
                .cache
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .modified
        {
            return Ok(());
        }
        let state = self.store.load()?;
        self.cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .set(state, modified);
        Ok(())
    }

    /// Applies a change durably and refreshes the cache.
    fn update<T>(&self, change: impl FnOnce(&mut State) -> T) -> Result<T, FleetError> {
        let (state, out) = self.store.update(change)?;
        self.cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .set(state, self.store.modified());
        Ok(out)
    }

    /// Creates (or re-arms) an appliance and returns its one-time enrollment code.
    pub fn create_enrollment(
        &self,
        mission: &str,
        appliance: &str,
        operator: &str,
    ) -> Result<pki::enroll::EnrollCode, FleetError> {
        let id = ApplianceId::new(mission, appliance)?;
        let code = pki::enroll::EnrollCode::generate()?;
        let now = state::now();
        let expires =
            now + i64::try_from(self.config.code_lifetime.as_secs()).unwrap_or(i64::MAX / 2);
        let outcome = self.update(|s| {
            if s.appliances
                .get(&key(&id))
                .is_some_and(|a| a.state == ApplianceState::Active)
            {
                return Err(FleetError::AlreadyActive(id.to_string()));
            }
            // Older codes for this appliance die with the new one.
            s.codes
                .retain(|_, c| !(c.mission == id.mission() && c.appliance == id.appliance()));
            // Code ids are short; a clash with a live code is regenerated by the caller's retry.
            s.codes.insert(
                code.id().to_owned(),
                Code {
                    id: code.id().to_owned(),
                    secret: code.secret().to_owned(),
                    mission: id.mission().to_owned(),
                    appliance: id.appliance().to_owned(),
                    created: now,
                    expires,
                    attempts: 0,
                    used: false,
                    operator: None,
                },
            );
            let entry = s.appliances.entry(key(&id)).or_insert_with(|| Appliance {
                mission: id.mission().to_owned(),
                appliance: id.appliance().to_owned(),
                state: ApplianceState::Pending,
                created: now,
                enrolled_at: None,
                revoked_at: None,
                certificates: Vec::new(),
                last_seen: None,
                remote: None,
                software: None,
            });
            entry.state = ApplianceState::Pending;
            entry.revoked_at = None;
            Ok(())
        })?;
        outcome?;
        self.audit.record(
            "enroll.code_created",
            operator,
            &id.to_string(),
            "ok",
            serde_json::json!({ "code_id": code.id(), "expires": expires }),
        );
        info!(appliance = %id, code_id = code.id(), "enrollment code created");
        Ok(code)
    }

    /// A one-time code that enrols NOC operator `name`: the operator's workstation makes its
    /// key and gets a certificate naming the operator, accepted by the NOC API only.
    pub fn create_operator_enrollment(
        &self,
        name: &str,
        by: &str,
    ) -> Result<pki::enroll::EnrollCode, FleetError> {
        if !pki::valid_operator(name) {
            return Err(FleetError::InvalidOperator(name.to_owned()));
        }
        let code = pki::enroll::EnrollCode::generate()?;
        let now = state::now();
        let expires =
            now + i64::try_from(self.config.code_lifetime.as_secs()).unwrap_or(i64::MAX / 2);
        self.update(|s| {
            s.codes.retain(|_, c| c.operator.as_deref() != Some(name));
            s.codes.insert(
                code.id().to_owned(),
                Code {
                    id: code.id().to_owned(),
                    secret: code.secret().to_owned(),
                    mission: String::new(),
                    appliance: String::new(),
                    created: now,
                    expires,
                    attempts: 0,
                    used: false,
                    operator: Some(name.to_owned()),
                },
            );
        })?;
        self.audit.record(
            "enroll.operator_code_created",
            by,
            &format!("operator:{name}"),
            "ok",
            serde_json::json!({ "code_id": code.id(), "expires": expires }),
        );
        Ok(code)
    }

    /// When the code with this id expires (seconds since the epoch).
    pub fn code_expires(&self, code_id: &str) -> Option<i64> {
        self.cache
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .state
            .codes
            .get(code_id)
            .map(|c| c.expires)
    }

    /// Revokes an appliance: every hub instance refuses it within a refresh interval and closes
    /// its live connection.
    pub fn revoke(&self, mission: &str, appliance: &str, operator: &str) -> Result<(), FleetError> {
        let id = ApplianceId::new(mission, appliance)?;
        let found = self.update(|s| {
            let Some(a) = s.appliances.get_mut(&key(&id)) else {
                return false;
            };
            a.state = ApplianceState::Revoked;
            a.revoked_at = Some(state::now());
            s.codes
                .retain(|_, c| !(c.mission == id.mission() && c.appliance == id.appliance()));
            s.crl_number += 1;
            true
        })?;
        if !found {
            self.audit.record(
                "appliance.revoke",
                operator,
                &id.to_string(),
                "unknown",
                serde_json::json!({}),
            );
            return Err(FleetError::Unknown(id.to_string()));
        }
        self.audit.record(
            "appliance.revoked",
            operator,
            &id.to_string(),
            "ok",
            serde_json::json!({}),
        );
        warn!(appliance = %id, %operator, "appliance revoked");
        Ok(())
    }

    /// Every appliance, for the NOC.
    pub fn list(&self) -> Vec<ApplianceView> {
        let live = self.live.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let cache = self.cache.read().unwrap_or_else(|e| e.into_inner());
        cache
            .state
            .appliances
            .values()
            .map(|a| {
                let id = ApplianceId::new(&a.mission, &a.appliance).ok();
                let connected = id
                    .as_ref()
                    .is_some_and(|id| live.get(id).is_some_and(|n| *n > 0));
                let fresh = id.as_ref().and_then(|id| seen.get(id));
                ApplianceView {
                    mission: a.mission.clone(),
                    appliance: a.appliance.clone(),
                    state: a.state.as_str(),
                    connected,
                    last_seen: a.last_seen.max(fresh.map(|f| f.at)),
                    remote: fresh
                        .and_then(|f| f.remote.clone())
                        .or_else(|| a.remote.clone()),
                    transport: if connected { "quic" } else { "-" },
                    cert_not_after: a.certificates.iter().map(|c| c.not_after).max(),
                    software: fresh
                        .and_then(|f| f.software.clone())
                        .or_else(|| a.software.clone()),
                }
            })
            .collect()
    }

    /// Writes the last-seen facts gathered since the previous call into the records. The hub
    /// calls it every few seconds and at shutdown, off its network threads.
    pub fn flush_seen(&self) -> Result<(), FleetError> {
        let pending: Vec<(ApplianceId, Seen)> = self
            .seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .collect();
        if pending.is_empty() {
            return Ok(());
        }
        self.update(|s| {
            for (id, seen) in &pending {
                if let Some(a) = s.appliances.get_mut(&key(id)) {
                    a.last_seen = a.last_seen.max(Some(seen.at));
                    if let Some(remote) = &seen.remote {
                        a.remote = Some(remote.clone());
                    }
                    if let Some(software) = &seen.software {
                        a.software = Some(software.clone());
                    }
                }
            }
        })
    }

    /// A CRL of every unexpired certificate of a revoked appliance, for third parties.
    pub fn crl_pem(&self) -> Result<String, FleetError> {
        let cache = self.cache.read().unwrap_or_else(|e| e.into_inner());
        let now = state::now();
        let revoked: Vec<pki::Revoked> = cache
            .state
            .appliances
            .values()
            .filter(|a| a.state == ApplianceState::Revoked)
            .flat_map(|a| {
                let at = time::OffsetDateTime::from_unix_timestamp(a.revoked_at.unwrap_or(now))
                    .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
                a.certificates
                    .iter()
                    .filter(move |c| c.not_after > now)
                    .filter_map(move |c| {
                        hex::decode(&c.serial)
                            .ok()
                            .map(|serial| pki::Revoked { serial, at })
                    })
            })
            .collect();
        Ok(self.ca.crl(
            cache.state.crl_number.max(1),
            &revoked,
            Duration::from_secs(24 * 3600),
        )?)
    }

    /// Issues a leaf for `id` from `csr_pem` and records it. The certificate is built from `id`.
    fn issue(
        &self,
        id: &ApplianceId,
        csr_pem: &str,
    ) -> Result<(String, IssuedCert), pki::IssueError> {
        let cert_pem = self
            .ca
            .sign_appliance_csr(csr_pem, id, self.config.leaf_lifetime)?;
        let info = pki::cert_info(&cert_pem)?;
        let issued = IssuedCert {
            serial: hex::encode(&info.serial),
            not_after: info.not_after.unix_timestamp(),
        };
        Ok((cert_pem, issued))
    }

    fn record_cert(
        &self,
        id: &ApplianceId,
        cert: IssuedCert,
        enrolled: bool,
    ) -> Result<(), FleetError> {
        let now = state::now();
        self.update(|s| {
            if let Some(a) = s.appliances.get_mut(&key(id)) {
                a.certificates.retain(|c| c.not_after > now);
                a.certificates.push(cert);
                if enrolled {
                    a.state = ApplianceState::Active;
                    a.enrolled_at = Some(now);
                }
            }
        })
    }

    /// Whether the newest certificate of `id` is less than a tenth of a lifetime old: renewal is
    /// rate-limited at the hub too, so no client, buggy or hostile, can make it sign in a loop.
    fn renewed_recently(&self, id: &ApplianceId) -> bool {
        let life = i64::try_from(self.config.leaf_lifetime.as_secs()).unwrap_or(i64::MAX);
        let cache = self.cache.read().unwrap_or_else(|e| e.into_inner());
        let newest = cache
            .state
            .appliances
            .get(&key(id))
            .and_then(|a| a.certificates.iter().map(|c| c.not_after).max());
        newest.is_some_and(|not_after| state::now() < not_after - life + life / 10)
    }

    fn state_of(&self, id: &ApplianceId) -> Option<ApplianceState> {
        self.cache
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .state
            .appliances
            .get(&key(id))
            .map(|a| a.state)
    }
}

impl FleetHooks for Fleet {
    fn is_revoked(&self, appliance: &ApplianceId) -> bool {
        self.cache
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .revoked
            .contains(appliance)
    }

    fn connected(&self, appliance: &ApplianceId, remote: SocketAddr, software: &str) {
        *self
            .live
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(appliance.clone())
            .or_default() += 1;
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).insert(
            appliance.clone(),
            Seen {
                at: state::now(),
                remote: Some(remote.to_string()),
                software: Some(software.to_owned()),
            },
        );
    }

    fn disconnected(&self, appliance: &ApplianceId) {
        {
            let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(n) = live.get_mut(appliance) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    live.remove(appliance);
                }
            }
        }
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(appliance.clone())
            .and_modify(|s| s.at = state::now())
            .or_insert(Seen {
                at: state::now(),
                remote: None,
                software: None,
            });
    }

    fn enroll(
        &self,
        remote: SocketAddr,
        first: &[u8],
    ) -> (Vec<u8>, Option<Box<dyn EnrollSession>>) {
        enroll::start(self, remote, first)
    }

    fn renew(&self, appliance: &ApplianceId, request: &[u8]) -> Vec<u8> {
        let refuse = |reason: &str, retry: bool| {
            RenewResponse::Refused {
                reason: reason.to_owned(),
                retry,
            }
            .encode()
        };
        let subject = appliance.to_string();
        let Ok(request) = RenewRequest::decode(request) else {
            self.audit.record(
                "cert.renew",
                &subject,
                &subject,
                "malformed",
                serde_json::json!({}),
            );
            return refuse("malformed renewal request", false);
        };
        match self.state_of(appliance) {
            Some(ApplianceState::Active) | None => {}
            Some(other) => {
                self.audit.record(
                    "cert.renew",
                    &subject,
                    &subject,
                    "denied",
                    serde_json::json!({ "state": other.as_str() }),
                );
                return refuse(&format!("appliance is {}", other.as_str()), false);
            }
        }
        if self.renewed_recently(appliance) {
            self.audit.record(
                "cert.renew",
                &subject,
                &subject,
                "too_soon",
                serde_json::json!({}),
            );
            return refuse("renewed too recently; try later", true);
        }
        match self.issue(appliance, &request.csr_pem) {
            Ok((cert_pem, cert)) => {
                let detail =
                    serde_json::json!({ "serial": cert.serial, "not_after": cert.not_after });
                if let Err(error) = self.record_cert(appliance, cert, false) {
                    warn!(%appliance, %error, "renewed certificate not recorded");
                }
                self.audit
                    .record("cert.renewed", &subject, &subject, "ok", detail);
                RenewResponse::Issued {
                    cert_pem,
                    chain_pem: self.config.chain_pem.clone(),
                }
                .encode()
            }
            Err(pki::IssueError::Generate(_)) => {
                self.audit.record(
                    "cert.renew",
                    &subject,
                    &subject,
                    "error",
                    serde_json::json!({ "reason": "signing key unavailable" }),
                );
                refuse("the hub cannot sign right now", true)
            }
            Err(error) => {
                self.audit.record(
                    "cert.renew",
                    &subject,
                    &subject,
                    "denied",
                    serde_json::json!({ "reason": error.to_string() }),
                );
                refuse(&format!("bad certificate request: {error}"), false)
            }
        }
    }
}

impl AuditSink for audit::AuditLog {
    fn record(
        &self,
        kind: &str,
        actor: &str,
        subject: &str,
        outcome: &str,
        detail: serde_json::Value,
    ) {
        let mut event = audit::Event::new(kind, actor, subject, outcome);
        if let serde_json::Value::Object(map) = detail {
            event.detail = map;
        }
        if let Err(error) = self.append(event) {
            // The event is lost only if the disk is; say so loudly.
            tracing::error!(%error, kind, subject, "audit log write failed");
        }
    }
}
