//! The live chat: the portal with a chat hub on 127.0.0.1, citizens over real WebSockets
//! (tokio-tungstenite), each from its own loopback address (the portal allows a few chat
//! starts per address), and on the agent side the chat hub's agent API (`Hub::watch`, the
//! stream the console's SSE `/chats/{case}/events` relays; the console's login and HTTP path
//! are not in this measurement). Latency: the citizen's `message` frame sent, to the
//! `ToAgent::Message` arriving on the agent's stream (after the portal stored it).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use futures::{SinkExt as _, StreamExt as _};
use keys::{KeyRole, SoftwareStore};
use serde_json::{Value, json};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use crate::progress;

/// The portal and its chat hub.
#[derive(Debug)]
pub(crate) struct Site {
    pub(crate) addr: SocketAddr,
    pub(crate) hub: Arc<chat::Hub>,
}

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
            store,
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
    Ok(Site { addr, hub })
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

/// One citizen: connect from `from`, start a chat, have an agent watch and pick it up, wait
/// for every chat to be ready, then send `messages` messages one after another, each timed
/// until the agent's stream has it and then confirmed `delivered` to the window.
async fn citizen(
    i: usize,
    from: IpAddr,
    site: SocketAddr,
    hub: Arc<chat::Hub>,
    store: Arc<casestore::Store>,
    ready: Arc<tokio::sync::Barrier>,
    messages: usize,
) -> Result<Vec<f64>> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(from, 0))?;
    let stream = socket.connect(site).await?;
    stream.set_nodelay(true)?;
    let (mut ws, _) =
        tokio_tungstenite::client_async(format!("ws://{site}/chat/ws"), stream).await?;
    let start = json!({"type": "start", "lang": "en", "name": format!("Citizen {i}"),
        "email": format!("chat{i}@example.org"), "text": "Hello, I lost my passport."});
    ws.send(Message::text(start.to_string())).await?;
    let started = next(&mut ws).await?;
    if started["type"] != "started" {
        bail!("chat {i} did not start: {started}");
    }
    let no = started["case"].as_str().context("case number")?;
    let case = store
        .case_id(no.parse().context("case number")?)?
        .context("the chat's case")?;
    let mut agent = hub.watch(case).map_err(|e| anyhow::anyhow!("{e}"))?;
    hub.picked_up(case, "Agent Bench");
    ready.wait().await;

    let mut lat = Vec::with_capacity(messages);
    for m in 0..messages {
        let id = format!("m{m}");
        let text = format!("chat {i} message {m}");
        let frame = json!({"type": "message", "id": id, "text": text}).to_string();
        let sent = Instant::now();
        ws.send(Message::text(frame)).await?;
        loop {
            let got = tokio::time::timeout(Duration::from_secs(10), agent.rx.recv())
                .await
                .with_context(|| format!("chat {i}: the agent heard nothing within 10 s"))??;
            if let chat::ToAgent::Message { text: t, .. } = got
                && t == text
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

pub(crate) async fn run(
    site: &Site,
    store: Arc<casestore::Store>,
    chats: usize,
    messages: usize,
) -> Result<ChatRun> {
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
            site.addr,
            site.hub.clone(),
            store.clone(),
            ready.clone(),
            messages,
        )));
    }
    // Every chat is open and watched before the first message; a failed start would leave
    // the barrier short, so wait with a limit.
    tokio::time::timeout(Duration::from_secs(60), ready.wait())
        .await
        .context("not every chat started within 60 s")?;
    progress!("chat: {chats} chats open and watched by an agent");
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
