//! The registrar (RFC 3261 §10.3) with digest authentication against stored HA1s: who is
//! reachable where, until when. Pure: time and randomness are arguments.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use rand::Rng;
use sip::digest::{Algorithm, Challenge, Credentials};
use sip::{NameAddr, Peer, Request, Response, Uri};

use crate::origin::Gateway;

/// An agent's SIP account: the digest HA1s (never the password) and an optional extension
/// a call can be addressed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub username: String,
    /// `MD5(username:realm:password)`, lower-case hex.
    pub ha1_md5: String,
    /// `SHA-256(username:realm:password)`, when the account also accepts RFC 8760 clients.
    pub ha1_sha256: Option<String>,
    pub extension: Option<String>,
    /// The console account that answers this phone.
    pub staff: Option<String>,
}

/// Registration lifetimes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    /// Shorter requests get 423 Interval Too Brief.
    pub min: Duration,
    /// Longer requests are shortened to this.
    pub max: Duration,
    /// When the client names none.
    pub default: Duration,
}

impl Default for Expiry {
    fn default() -> Expiry {
        Expiry {
            min: Duration::from_secs(60),
            max: Duration::from_secs(3600),
            default: Duration::from_secs(3600),
        }
    }
}

/// One contact of a registered agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub username: String,
    pub contact: Uri,
    /// Where the REGISTER came from (the flow, for TCP).
    pub source: Peer,
    pub registered_at: Instant,
    pub expires_at: Instant,
    /// The embassy gateway whose tunnel flow `source` is; `None` for a phone reached
    /// directly.
    pub gateway: Option<Gateway>,
}

impl Binding {
    /// The tunnel flow to send requests for this phone to, when it is behind a gateway.
    pub fn flow(&self) -> Option<Peer> {
        self.gateway.as_ref().map(|_| self.source)
    }

    /// Where requests for this phone go: its tunnel flow, else its Contact (an IP literal).
    pub fn target(&self) -> Option<Peer> {
        crate::engine::route(self.flow(), &self.contact, self.source.transport)
    }
}

/// How long a nonce we issued stays good.
const NONCE_LIFETIME: Duration = Duration::from_secs(300);
/// Nonces remembered at once; the oldest is forgotten first.
const MAX_NONCES: usize = 10_000;
/// Contacts per agent.
const MAX_BINDINGS_PER_AGENT: usize = 5;
/// Failed authentications per agent per window before we stop checking.
const MAX_FAILURES: u32 = 5;
const FAILURE_WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug)]
struct Nonce {
    issued: Instant,
    last_nc: u32,
}

/// What the registrar decided, for logs and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Challenged,
    Registered,
    Unregistered,
    /// Wrong password, unknown user, or someone else's address of record.
    Refused,
    /// Refused without checking: too many failures recently.
    RateLimited,
    Malformed,
}

#[derive(Debug)]
pub struct Registrar {
    realm: String,
    accounts: HashMap<String, Account>,
    expiry: Expiry,
    bindings: HashMap<String, Vec<Binding>>,
    nonces: HashMap<String, Nonce>,
    nonce_order: VecDeque<String>,
    failures: HashMap<String, (u32, Instant)>,
}

impl Registrar {
    pub fn new(realm: &str, accounts: Vec<Account>, expiry: Expiry) -> Registrar {
        Registrar {
            realm: realm.to_owned(),
            accounts: accounts
                .into_iter()
                .map(|a| (a.username.clone(), a))
                .collect(),
            expiry,
            bindings: HashMap::new(),
            nonces: HashMap::new(),
            nonce_order: VecDeque::new(),
            failures: HashMap::new(),
        }
    }

    /// The account of `username`.
    pub fn account(&self, username: &str) -> Option<&Account> {
        self.accounts.get(username)
    }

    /// The SIP username whose phone the console account `staff` answers.
    pub fn agent_of_staff(&self, staff: &str) -> Option<&str> {
        self.accounts
            .values()
            .find(|a| a.staff.as_deref() == Some(staff))
            .map(|a| a.username.as_str())
    }

    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// Answers a REGISTER that came from `source`, through the embassy gateway `gateway`
    /// when the hub says so (never from the message: a phone cannot choose it).
    pub fn register(
        &mut self,
        now: Instant,
        request: &Request,
        source: Peer,
        gateway: Option<Gateway>,
        rng: &mut impl Rng,
    ) -> (Response, Verdict) {
        let Some(value) = request.headers.get("Authorization") else {
            return (
                self.challenge(now, request, false, rng),
                Verdict::Challenged,
            );
        };
        let Ok(creds) = Credentials::parse(value) else {
            return (request.response(400), Verdict::Malformed);
        };
        if creds.realm != self.realm {
            return (
                self.challenge(now, request, false, rng),
                Verdict::Challenged,
            );
        }
        if self.rate_limited(now, &creds.username) {
            return (request.response(403), Verdict::RateLimited);
        }
        let Some(account) = self.accounts.get(&creds.username) else {
            self.fail(now, &creds.username);
            return (request.response(403), Verdict::Refused);
        };
        let ha1 = match creds.algorithm {
            Algorithm::Md5 => Some(account.ha1_md5.as_str()),
            Algorithm::Sha256 => account.ha1_sha256.as_deref(),
        };
        let verified = ha1.is_some_and(|ha1| creds.verify(ha1, request.method.as_str()));
        if !verified {
            self.fail(now, &creds.username);
            return (request.response(403), Verdict::Refused);
        }
        // Right password, but a nonce we no longer know (or a replayed count): ask again,
        // marked stale so the client retries without asking its user.
        if !self.fresh_nonce(now, &creds) {
            return (self.challenge(now, request, true, rng), Verdict::Challenged);
        }
        // §10.3 step 6: an agent registers only its own address of record.
        let aor_user = request
            .headers
            .get("To")
            .and_then(|t| NameAddr::parse(t).ok())
            .and_then(|t| t.uri.user);
        if aor_user.as_deref() != Some(creds.username.as_str()) {
            return (request.response(403), Verdict::Refused);
        }
        self.failures.remove(&creds.username);
        let username = creds.username.clone();
        self.update_bindings(now, request, source, gateway, &username)
    }

    fn challenge(
        &mut self,
        now: Instant,
        request: &Request,
        stale: bool,
        rng: &mut impl Rng,
    ) -> Response {
        let nonce = hex::encode(rng.r#gen::<[u8; 16]>());
        if self.nonce_order.len() >= MAX_NONCES
            && let Some(old) = self.nonce_order.pop_front()
        {
            self.nonces.remove(&old);
        }
        self.nonce_order.push_back(nonce.clone());
        self.nonces.insert(
            nonce.clone(),
            Nonce {
                issued: now,
                last_nc: 0,
            },
        );
        let challenge = Challenge {
            realm: self.realm.clone(),
            nonce,
            opaque: None,
            algorithm: Algorithm::Md5,
            stale,
        };
        let mut response = with_to_tag(request.response(401));
        response
            .headers
            .push("WWW-Authenticate", challenge.to_string());
        response
    }

    fn fresh_nonce(&mut self, now: Instant, creds: &Credentials) -> bool {
        let Some(nonce) = self.nonces.get_mut(&creds.nonce) else {
            return false;
        };
        if now.saturating_duration_since(nonce.issued) > NONCE_LIFETIME {
            return false;
        }
        match &creds.qop_auth {
            Some((_, nc)) if *nc <= nonce.last_nc => false,
            Some((_, nc)) => {
                nonce.last_nc = *nc;
                true
            }
            // Without qop there is no count: one use per nonce.
            None => {
                self.nonces.remove(&creds.nonce);
                true
            }
        }
    }

    fn rate_limited(&mut self, now: Instant, username: &str) -> bool {
        match self.failures.get(username) {
            Some((count, since)) if now.saturating_duration_since(*since) < FAILURE_WINDOW => {
                *count >= MAX_FAILURES
            }
            Some(_) => {
                self.failures.remove(username);
                false
            }
            None => false,
        }
    }

    fn fail(&mut self, now: Instant, username: &str) {
        // Unknown user names are not remembered: they would let a peer fill the table.
        if !self.accounts.contains_key(username) {
            return;
        }
        let entry = self.failures.entry(username.to_owned()).or_insert((0, now));
        entry.0 += 1;
    }

    fn update_bindings(
        &mut self,
        now: Instant,
        request: &Request,
        source: Peer,
        gateway: Option<Gateway>,
        username: &str,
    ) -> (Response, Verdict) {
        let header_expires = request
            .headers
            .get("Expires")
            .and_then(|e| e.trim().parse::<u64>().ok());
        let contacts: Vec<&str> = request.headers.get_all("Contact").collect();
        let mut verdict = Verdict::Registered;
        if contacts == ["*"] {
            if header_expires != Some(0) {
                return (request.response(400), Verdict::Malformed);
            }
            self.bindings.remove(username);
            verdict = Verdict::Unregistered;
        } else {
            for contact in contacts {
                let Ok(contact) = NameAddr::parse(contact) else {
                    return (request.response(400), Verdict::Malformed);
                };
                let expires = contact
                    .param("expires")
                    .flatten()
                    .and_then(|e| e.parse::<u64>().ok())
                    .or(header_expires)
                    .map_or(self.expiry.default, Duration::from_secs);
                let list = self.bindings.entry(username.to_owned()).or_default();
                list.retain(|b| b.contact != contact.uri && b.expires_at > now);
                if expires.is_zero() {
                    verdict = Verdict::Unregistered;
                    continue;
                }
                if expires < self.expiry.min {
                    let mut brief = request.response(423);
                    brief
                        .headers
                        .push("Min-Expires", self.expiry.min.as_secs().to_string());
                    return (with_to_tag(brief), Verdict::Malformed);
                }
                if list.len() >= MAX_BINDINGS_PER_AGENT {
                    list.remove(0);
                }
                list.push(Binding {
                    username: username.to_owned(),
                    contact: contact.uri,
                    source,
                    gateway: gateway.clone(),
                    registered_at: now,
                    expires_at: now + expires.min(self.expiry.max),
                });
            }
        }
        if self.bindings.get(username).is_some_and(Vec::is_empty) {
            self.bindings.remove(username);
        }
        let mut ok = with_to_tag(request.response(200));
        for binding in self.bindings.get(username).into_iter().flatten() {
            let left = binding.expires_at.saturating_duration_since(now).as_secs();
            ok.headers
                .push("Contact", format!("<{}>;expires={left}", binding.contact));
        }
        (ok, verdict)
    }

    /// The live binding for an agent's username or extension, most recent first.
    pub fn lookup(&self, now: Instant, user: &str) -> Option<&Binding> {
        let username = self
            .accounts
            .values()
            .find(|a| a.username == user || a.extension.as_deref() == Some(user))?
            .username
            .as_str();
        self.bindings
            .get(username)?
            .iter()
            .filter(|b| b.expires_at > now)
            .max_by_key(|b| b.registered_at)
    }

    /// Whether a live binding registered from `source` (the address a phone sends from).
    pub fn is_registered_source(&self, now: Instant, source: Peer) -> bool {
        self.bindings
            .values()
            .flatten()
            .any(|b| b.source.addr == source.addr && b.expires_at > now)
    }

    /// Whether `user` names an account (by username or extension).
    pub fn is_agent(&self, user: &str) -> bool {
        self.accounts
            .values()
            .any(|a| a.username == user || a.extension.as_deref() == Some(user))
    }

    /// The agent registered longest ago that is still registered.
    pub fn first_registered(&self, now: Instant) -> Option<&Binding> {
        self.bindings
            .values()
            .flatten()
            .filter(|b| b.expires_at > now)
            .min_by_key(|b| (b.registered_at, b.username.as_str()))
    }

    /// Every live binding, for the status API.
    pub fn bindings(&self, now: Instant) -> Vec<Binding> {
        let mut all: Vec<Binding> = self
            .bindings
            .values()
            .flatten()
            .filter(|b| b.expires_at > now)
            .cloned()
            .collect();
        all.sort_by(|a, b| a.username.cmp(&b.username));
        all
    }

    /// Forgets expired bindings and nonces.
    pub fn expire(&mut self, now: Instant) {
        for list in self.bindings.values_mut() {
            list.retain(|b| b.expires_at > now);
        }
        self.bindings.retain(|_, list| !list.is_empty());
        while let Some(oldest) = self.nonce_order.front() {
            match self.nonces.get(oldest) {
                Some(n) if now.saturating_duration_since(n.issued) <= NONCE_LIFETIME => break,
                _ => {
                    if let Some(old) = self.nonce_order.pop_front() {
                        self.nonces.remove(&old);
                    }
                }
            }
        }
    }
}

/// A registrar's final response carries a To tag like any UAS's (§8.2.6.2).
fn with_to_tag(mut response: Response) -> Response {
    if let Some(to) = response.headers.get("To")
        && let Ok(to) = NameAddr::parse(to)
        && to.tag().is_none()
    {
        response.headers.set("To", to.with_tag("reg").to_string());
    }
    response
}

#[cfg(test)]
mod tests;
