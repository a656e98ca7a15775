//! The console on loopback, reached as the hub reaches it: a central listener, and a tunnel
//! listener where every connection starts with the PROXY v2 header naming an appliance. Each
//! test starts its own console on its own store and audit log, creates the few accounts and
//! cases it needs, and signs in over HTTP like a browser.
#![allow(dead_code)]

#[path = "http.rs"]
pub(crate) mod http;
#[path = "signer.rs"]
mod signer;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

use casestore::{
    Actor, AgentId, Body, CaseId, CaseNumber, CaseType, Channel, ConsulateId, ContactKind,
    ContactValue, Family, Language, Name, NewCase, NewContact, NewPerson, NewStaff, Options,
    PasswordHash, Priority, Sensitivity, StaffRole, Store, TypeCode, Verification,
};
use console::{Console, Settings};
use serde_json::Value;
use tokio::task::AbortHandle;
use tunnel_origin::{ApplianceId, Origin, OriginListener};

pub(crate) use http::{Req, Response, Target};

pub(crate) const CENTRAL: &str = "ro-ccscrs";
pub(crate) const PARIS: &str = "ro-emb-paris";
pub(crate) const BERLIN: &str = "ro-emb-berlin";

/// Every test account's password; hashed once per test binary (argon2 is slow in debug).
pub(crate) const PASSWORD: &str = "correct horse battery staple";

fn password_phc() -> &'static str {
    static PHC: OnceLock<String> = OnceLock::new();
    PHC.get_or_init(|| staffauth::hash_password(PASSWORD).unwrap())
}

/// How a browser reaches the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    Central,
    Appliance {
        mission: &'static str,
        appliance: &'static str,
    },
}

impl Route {
    pub(crate) fn paris() -> Self {
        Route::Appliance {
            mission: PARIS,
            appliance: "PAR-01",
        }
    }

    pub(crate) fn berlin() -> Self {
        Route::Appliance {
            mission: BERLIN,
            appliance: "BER-01",
        }
    }
}

/// A staff account created for one test.
#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub(crate) id: String,
    pub(crate) role: StaffRole,
    pub(crate) consulate: String,
    totp: Vec<u8>,
}

impl Account {
    /// The authenticator's code right now.
    pub(crate) fn code(&self) -> String {
        let secret = staffauth::TotpSecret::from_bytes(&self.totp).unwrap();
        staffauth::totp_code(&secret, unix_now())
    }

    /// A six-digit code that is not the current one (nor, but for a one-in-a-million chance,
    /// a neighbouring step's).
    pub(crate) fn wrong_code(&self) -> String {
        let right: u32 = self.code().parse().unwrap();
        format!("{:06}", (right + 500_001) % 1_000_000)
    }
}

/// A case created in the store.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Case {
    pub(crate) id: CaseId,
    pub(crate) number: CaseNumber,
}

impl Case {
    pub(crate) fn url(&self) -> String {
        format!("/cases/{}", self.number)
    }
}

/// One console with its store and audit log in a temporary directory.
pub(crate) struct Env {
    pub(crate) store: Arc<Store>,
    /// The console itself (to attach a telephony bridge).
    pub(crate) console: Arc<Console>,
    /// The live chat hub the console's chat pages use.
    pub(crate) hub: Arc<chat::Hub>,
    audit_path: PathBuf,
    central: SocketAddr,
    tunnel: SocketAddr,
    tasks: Vec<AbortHandle>,
    _dir: tempfile::TempDir,
}

impl Drop for Env {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

static SERIAL: AtomicU32 = AtomicU32::new(0);

impl Env {
    pub(crate) async fn start() -> Self {
        Self::with(|_| {}).await
    }

    /// Starts a console whose settings `adjust` changes first.
    pub(crate) async fn with(adjust: impl FnOnce(&mut Settings)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path().join("cases.db"), Options::default()).unwrap());
        let audit_path = dir.path().join("audit.log");
        let audit =
            Arc::new(audit::AuditLog::open(&audit_path, signer::TestSigner::new(), 1000).unwrap());
        let mut settings = Settings::new(ConsulateId::new(CENTRAL).unwrap());
        settings.live_poll = std::time::Duration::from_millis(50);
        adjust(&mut settings);
        let console = Console::new(store.clone(), audit, settings).unwrap();
        let hub = chat::Hub::new(chat::Settings::default());
        console.attach_chat(hub.clone());

        let central = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let central_addr = central.local_addr().unwrap();
        let tunnel = OriginListener::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let tunnel_addr = tunnel.local_addr();
        let tasks = vec![
            tokio::spawn(console.clone().serve_central(central)).abort_handle(),
            tokio::spawn(console.clone().serve_tunnel(tunnel)).abort_handle(),
        ];
        Self {
            store,
            console,
            hub,
            audit_path,
            central: central_addr,
            tunnel: tunnel_addr,
            tasks,
            _dir: dir,
        }
    }

    /// Where a browser on `route` sends its requests.
    pub(crate) fn target(&self, route: &Route) -> Target {
        match route {
            Route::Central => Target {
                addr: self.central,
                proxy: None,
            },
            Route::Appliance { mission, appliance } => {
                let origin = Origin {
                    appliance: ApplianceId::new(mission, appliance).unwrap(),
                    peer: "198.51.100.7:4433".parse().unwrap(),
                };
                Target {
                    addr: self.tunnel,
                    proxy: Some(tunnel_origin::encode(&origin, self.tunnel)),
                }
            }
        }
    }

    /// Creates an account with [`PASSWORD`] and a fresh TOTP secret.
    pub(crate) fn account(&self, id: &str, role: StaffRole, consulate: &str) -> Account {
        let secret = staffauth::TotpSecret::generate().unwrap();
        self.store
            .create_staff(&NewStaff {
                id: AgentId::new(id).unwrap(),
                display_name: Name::new(format!("Test {id}")).unwrap(),
                role,
                consulate: ConsulateId::new(consulate).unwrap(),
                languages: vec![Language::new("ro").unwrap(), Language::new("en").unwrap()],
                password_phc: PasswordHash::new(password_phc().to_owned()).unwrap(),
                totp_secret: Some(casestore::TotpSecret::new(secret.as_bytes().to_vec()).unwrap()),
            })
            .unwrap();
        Account {
            id: id.to_owned(),
            role,
            consulate: consulate.to_owned(),
            totp: secret.as_bytes().to_vec(),
        }
    }

    /// A P3 passport case from the web portal.
    pub(crate) fn case(&self, consulate: &str, sensitivity: Sensitivity) -> Case {
        self.case_with(
            consulate,
            sensitivity,
            Priority::P3,
            "Am nevoie de un pașaport nou.",
        )
    }

    pub(crate) fn case_with(
        &self,
        consulate: &str,
        sensitivity: Sensitivity,
        priority: Priority,
        text: &str,
    ) -> Case {
        let created = self
            .store
            .create_case(&new_case(consulate, sensitivity, priority, text))
            .unwrap();
        Case {
            id: created.case_id,
            number: created.case_no,
        }
    }

    pub(crate) fn case_now(&self, case: Case) -> casestore::Case {
        self.store.case(case.id).unwrap().unwrap()
    }

    /// Sends one request without a session.
    pub(crate) async fn send(&self, route: &Route, req: Req) -> Response {
        self.target(route).send(req).await
    }

    /// Submits the sign-in form.
    pub(crate) async fn try_login(
        &self,
        route: &Route,
        account: &str,
        password: &str,
        code: &str,
    ) -> Response {
        let form = Req::form(
            "/login",
            &[("account", account), ("password", password), ("code", code)],
        );
        self.send(route, form).await
    }

    /// Signs `account` in through `route` with the right password and current code.
    pub(crate) async fn login(&self, account: &Account, route: &Route) -> Session {
        let response = self
            .try_login(route, &account.id, PASSWORD, &account.code())
            .await;
        assert!(
            response.status.is_redirection(),
            "{} could not sign in through {route:?}: {} {}",
            account.id,
            response.status,
            response.body
        );
        let cookie = session_cookie(&response).expect("a session cookie");
        let mut session = Session {
            target: self.target(route),
            cookie,
            csrf: String::new(),
            account: account.id.clone(),
        };
        // Every signed-in page carries the sign-out form, and with it the CSRF token.
        let page = session.get("/kb").await;
        assert_eq!(page.status, 200, "{}", page.body);
        session.csrf = field(&page.body, "csrf").expect("a CSRF token on the page");
        session
    }

    /// The audit log, one JSON object per line.
    pub(crate) fn audit(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.audit_path)
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    /// The audit entries of one kind.
    pub(crate) fn audit_of(&self, kind: &str) -> Vec<Value> {
        self.audit()
            .into_iter()
            .filter(|e| e["kind"] == kind)
            .collect()
    }
}

pub(crate) fn new_case(
    consulate: &str,
    sensitivity: Sensitivity,
    priority: Priority,
    text: &str,
) -> NewCase {
    let n = SERIAL.fetch_add(1, Ordering::Relaxed);
    NewCase {
        idempotency_key: None,
        case_type: CaseType {
            code: TypeCode::new("A1.1").unwrap(),
            subtype: None,
            taxonomy_version: 1,
            family: Family::Service,
        },
        priority,
        sensitivity,
        consulate: ConsulateId::new(consulate).unwrap(),
        channel: Channel::Web,
        language: Language::new("ro").unwrap(),
        needs_triage: false,
        subject: NewPerson {
            family_name: Name::new(format!("Cetățean{n}")).unwrap(),
            given_names: Name::new("Ana").unwrap(),
            birth_date: None,
            contacts: vec![NewContact {
                kind: ContactKind::Email,
                value: ContactValue::new(format!("citizen{n}@example.org")).unwrap(),
                verification: Verification::Verified,
            }],
            identifiers: Vec::new(),
        },
        requester: None,
        author: Actor::Citizen,
        body: Body::new(text).unwrap(),
        attachments: Vec::new(),
    }
}

/// A signed-in browser: its cookie, its CSRF token, the path it uses.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) target: Target,
    pub(crate) cookie: String,
    pub(crate) csrf: String,
    pub(crate) account: String,
}

impl Session {
    /// Sends `req` with the session cookie.
    pub(crate) async fn send(&self, req: Req) -> Response {
        let req = req.header("cookie", format!("{}={}", COOKIE, self.cookie));
        self.target.send(req).await
    }

    /// Sends `req` with the session cookie and returns once the headers are in (for SSE).
    pub(crate) async fn open(&self, req: Req) -> hyper::Response<hyper::body::Incoming> {
        let req = req.header("cookie", format!("{}={}", COOKIE, self.cookie));
        self.target.open(req).await
    }

    pub(crate) async fn get(&self, path: &str) -> Response {
        self.send(Req::get(path)).await
    }

    /// Posts a form as the console's own page would: same origin, with the CSRF token.
    pub(crate) async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        self.send(same_origin(Req::form(path, &all))).await
    }

    /// The same session through another path (a stolen cookie).
    pub(crate) fn through(&self, target: Target) -> Session {
        Session {
            target,
            ..self.clone()
        }
    }

    /// Opens the case page and returns it with the version its forms carry.
    pub(crate) async fn open_case(&self, case: Case) -> (Response, u64) {
        let page = self.get(&case.url()).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let version = field(&page.body, "version")
            .expect("a version in the case's forms")
            .parse()
            .unwrap();
        (page, version)
    }

    /// Does `action` on `case` from a freshly loaded case page.
    pub(crate) async fn act(&self, case: Case, action: &str, fields: &[(&str, &str)]) -> Response {
        let (_, version) = self.open_case(case).await;
        let version = version.to_string();
        let mut all = vec![("version", version.as_str())];
        all.extend_from_slice(fields);
        self.post(&format!("{}/{action}", case.url()), &all).await
    }

    /// Like [`Session::act`], asserting the console redirects back to the case.
    pub(crate) async fn act_ok(&self, case: Case, action: &str, fields: &[(&str, &str)]) {
        let response = self.act(case, action, fields).await;
        assert!(
            response.status.is_redirection(),
            "{action} on {}: {} {}",
            case.number,
            response.status,
            response.body
        );
        assert_eq!(response.location(), Some(case.url().as_str()));
    }
}

/// The session cookie's name.
pub(crate) const COOKIE: &str = "lg_console";

/// What a browser adds to a form post on the console's own page.
pub(crate) fn same_origin(req: Req) -> Req {
    req.header("origin", format!("http://{}", http::HOST))
        .header("sec-fetch-site", "same-origin")
}

/// The value of the session cookie a response sets, if it sets one.
pub(crate) fn session_cookie(response: &Response) -> Option<String> {
    let set = response.header("set-cookie")?;
    let value = set.strip_prefix(&format!("{COOKIE}="))?.split(';').next()?;
    (!value.is_empty()).then(|| value.to_owned())
}

/// The value of the first form field named `name` (`name="NAME" value="…"`).
pub(crate) fn field(page: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker)? + marker.len();
    let end = page[start..].find('"')?;
    Some(page[start..start + end].to_owned())
}

/// The text of the element with `id` (`id="ID">…</`), as the page has it (escaped).
pub(crate) fn element(page: &str, id: &str) -> Option<String> {
    let marker = format!("id=\"{id}\"");
    let at = page.find(&marker)?;
    let start = at + page[at..].find('>')? + 1;
    let end = page[start..].find("</")?;
    Some(page[start..start + end].to_owned())
}

/// The count shown on a queue tab (`data-queue="NAME"> … (<span class="count">N</span>)`).
pub(crate) fn tab_count(page: &str, queue: &str) -> u64 {
    let marker = format!("data-queue=\"{queue}\"");
    let at = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no tab {queue}"));
    let count = "<span class=\"count\">";
    let start = at + page[at..].find(count).unwrap() + count.len();
    let end = page[start..].find('<').unwrap();
    page[start..start + end].parse().unwrap()
}

/// The case numbers of a queue page's rows, in order.
pub(crate) fn row_numbers(page: &str) -> Vec<String> {
    page.match_indices("data-case=\"")
        .map(|(at, m)| {
            let start = at + m.len();
            let end = page[start..].find('"').unwrap();
            page[start..start + end].to_owned()
        })
        .collect()
}

pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
