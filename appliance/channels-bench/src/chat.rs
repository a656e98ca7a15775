//! The live chat: the portal with a chat hub on 127.0.0.1, citizens over real WebSockets
//! (tokio-tungstenite), each from its own loopback address (the portal allows a few chat
//! starts per address), and on the agent side the agents' console on its central listener:
//! an operator signed in with password and TOTP picks each chat up with the page's form and
//! watches it on the console's server-sent events (`/chats/{case}/events`), one HTTP
//! connection per chat as a browser tab would hold. Latency: the citizen's `message` frame
//! sent, to the `chat` event carrying it arriving on the agent's event stream (after the
//! portal stored it).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use casestore::{AgentId, ConsulateId, Language, Name, NewStaff, PasswordHash, StaffRole};
use console_client::{Account, Client, StatusCode, excerpt};
use futures::{SinkExt as _, StreamExt as _};
use keys::{KeyRole, SoftwareStore};
use serde_json::{Value, json};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use crate::progress;

/// The portal, its chat hub, and the console agents watch chats on.
#[derive(Debug)]
pub(crate) struct Site {
    pub(crate) addr: SocketAddr,
    pub(crate) console: SocketAddr,
    pub(crate) operator: Account,
}

/// The central operator who answers the chats; lives only in the benchmark's store.
const OPERATOR: (&str, &str, &[u8; staffauth::SECRET_LEN]) = (
    "bench.operator",
    "chat bench operator passphrase",
    b"channels-bench-totp0",
);
/// The central contact centre (the demo table's fallback consulate).
const CENTRAL: &str = "ro-ccscrs";

pub(crate) async fn site(
    dir: &std::path::Path,
    store: Arc<casestore::Store>,
    files: Arc<casestore::AttachmentStore>,
) -> Result<Site> {
    let keys = SoftwareStore::open(dir.join("keys"))?;
    let signer = keys.generate(KeyRole::ReceiptSigning)?;
    let hub = chat::Hub::new(chat::Settings::default());
    let portal = Arc::new(
        portal::Portal::new(
            store.clone(),
            files,
            Arc::new(intake::Intake::default_v1()),
            // The chat never scans.
            scan::Clamd::unix(dir.join("no-clamd.sock")),
            signer,
        )?
        .with_chat(hub.clone()),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = portal
        .router()
        .into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let operator = operator(&store)?;
    let audit_key = keys.generate(KeyRole::AuditCheckpoint)?;
    let audit = audit::AuditLog::open(dir.join("audit.log"), audit_key, 100)?;
    let console = console::Console::new(
        store,
        Arc::new(audit),
        console::Settings::new(ConsulateId::new(CENTRAL)?),
    )?;
    console.attach_chat(hub);
    let central = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let console_addr = central.local_addr()?;
    tokio::spawn(console.serve_central(central));
    Ok(Site {
        addr,
        console: console_addr,
        operator,
    })
}

/// Creates the operator (central, Romanian and English) in the store.
fn operator(store: &casestore::Store) -> Result<Account> {
    let (id, password, secret) = OPERATOR;
    let totp = staffauth::TotpSecret::from_bytes(secret).context("TOTP secret length")?;
    store.create_staff(&NewStaff {
        id: AgentId::new(id)?,
        display_name: Name::new("Bench Operator")?,
        role: StaffRole::Operator,
        consulate: ConsulateId::new(CENTRAL)?,
        languages: vec![Language::new("ro")?, Language::new("en")?],
        password_phc: PasswordHash::new(staffauth::hash_password(password)?)?,
        totp_secret: Some(casestore::TotpSecret::new(totp.as_bytes().to_vec())?),
    })?;
    Ok(Account {
        id: id.to_owned(),
        password: password.to_owned(),
        totp,
    })
}

type Ws = WebSocketStream<TcpStream>;

async fn next(ws: &mut Ws) -> Result<Value> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .context("no frame from the portal within 10 s")?
            .context("the portal closed the socket")??;
        if let Message::Text(text) = msg {
            return Ok(serde_json::from_str(&text)?);
        }
    }
}

/// What the chats measured.
#[derive(Debug)]
pub(crate) struct ChatRun {
    pub(crate) chats: usize,
    pub(crate) latencies_ms: Vec<f64>,
    pub(crate) wall: Duration,
}

/// One citizen: connect from `from`, start a chat, have the operator pick it up and watch it
/// in the console, wait for every chat to be ready, then send `messages` messages one after
/// another, each timed until the agent's event stream has it and then confirmed `delivered`
/// to the window.
async fn citizen(
    i: usize,
    from: IpAddr,
    site: Arc<Site>,
    session: String,
    ready: Arc<tokio::sync::Barrier>,
    messages: usize,
) -> Result<Vec<f64>> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(from, 0))?;
    let stream = socket.connect(site.addr).await?;
    stream.set_nodelay(true)?;
    let (mut ws, _) =
        tokio_tungstenite::client_async(format!("ws://{}/chat/ws", site.addr), stream).await?;
    let start = json!({"type": "start", "lang": "en", "name": format!("Citizen {i}"),
        "email": format!("chat{i}@example.org"), "text": "Hello, I lost my passport."});
    ws.send(Message::text(start.to_string())).await?;
    let started = next(&mut ws).await?;
    if started["type"] != "started" {
        bail!("chat {i} did not start: {started}");
    }
    let no = started["case"].as_str().context("case number")?;

    // The agent's tab: the chat page, its pick-up form, then the page's event stream.
    let mut tab = Client::connect(site.console).await?;
    tab.set_session(&session)?;
    let page = tab.get(&format!("/chats/{no}")).await?;
    let (Some(csrf), Some(version)) = (page.input("csrf"), page.input("version")) else {
        bail!(
            "chat {i}: the console's chat page has no pick-up form: {}",
            excerpt(&page.body)
        );
    };
    let picked = tab
        .post(
            &format!("/chats/{no}/pickup"),
            &[("csrf", &csrf), ("version", &version)],
        )
        .await?;
    if picked.status != StatusCode::SEE_OTHER {
        bail!(
            "chat {i}: pick-up refused with {}: {}",
            picked.status,
            excerpt(&picked.body)
        );
    }
    let mut agent = tab.events(&format!("/chats/{no}/events")).await?;
    ready.wait().await;

    let mut lat = Vec::with_capacity(messages);
    for m in 0..messages {
        let id = format!("m{m}");
        let text = format!("chat {i} message {m}");
        let frame = json!({"type": "message", "id": id, "text": text}).to_string();
        let sent = Instant::now();
        ws.send(Message::text(frame)).await?;
        loop {
            let event = tokio::time::timeout(Duration::from_secs(10), agent.next())
                .await
                .with_context(|| format!("chat {i}: the agent's screen got nothing within 10 s"))??
                .with_context(|| format!("chat {i}: the console ended the event stream"))?;
            let frame: Value = serde_json::from_str(&event.data)?;
            if event.name == "chat" && frame["type"] == "message" && frame["text"] == text.as_str()
            {
                lat.push(sent.elapsed().as_secs_f64() * 1e3);
                break;
            }
        }
        loop {
            let f = next(&mut ws).await?;
            match f["type"].as_str() {
                Some("delivered") if f["id"] == id.as_str() => break,
                Some("error") => bail!("chat {i}: {f}"),
                _ => {}
            }
        }
    }
    let _ = ws.close(None).await;
    Ok(lat)
}

pub(crate) async fn run(site: Site, chats: usize, messages: usize) -> Result<ChatRun> {
    let mut login = Client::connect(site.console).await?;
    login.login(&site.operator, false).await?;
    let session = login.session().context("the operator's session")?;
    let site = Arc::new(site);
    let ready = Arc::new(tokio::sync::Barrier::new(chats + 1));
    let mut tasks = Vec::with_capacity(chats);
    for i in 0..chats {
        let from = IpAddr::V4(Ipv4Addr::new(
            127,
            3,
            u8::try_from(i / 250)?,
            u8::try_from(i % 250 + 1)?,
        ));
        tasks.push(tokio::spawn(citizen(
            i,
            from,
            site.clone(),
            session.clone(),
            ready.clone(),
            messages,
        )));
    }
    // Every chat is open, picked up and watched before the first message; a failed start
    // would leave the barrier short, so wait with a limit.
    tokio::time::timeout(Duration::from_secs(60), ready.wait())
        .await
        .context("not every chat started within 60 s")?;
    progress!("chat: {chats} chats open, picked up and watched in the console");
    let started = Instant::now();
    let mut latencies_ms = Vec::with_capacity(chats * messages);
    for t in tasks {
        latencies_ms.extend(t.await??);
    }
    Ok(ChatRun {
        chats,
        latencies_ms,
        wall: started.elapsed(),
    })
}
