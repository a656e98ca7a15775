// The agent's live chat pane: server-sent events from /chats/{case}/events bring the
// citizen's messages, typing and presence; sending and typing are ordinary POSTs carrying the
// session's CSRF token, so the console's own rules apply. Without JavaScript the page still
// shows the transcript and its form posts (the page reloads).
"use strict";
(function () {
  const log = document.getElementById("chat-log");
  if (!log || !window.EventSource) return;
  const typing = document.getElementById("chat-typing");
  const presence = document.getElementById("chat-presence");
  const form = document.getElementById("chat-compose");
  let typingTimer = null, lastTyping = 0;
  function add(cls, who, text) {
    const li = document.createElement("li");
    li.className = cls;
    const strong = document.createElement("strong");
    strong.textContent = who;
    const p = document.createElement("p");
    p.textContent = text;
    li.append(strong, document.createTextNode(" "), p);
    log.append(li);
    li.scrollIntoView({ block: "end" });
    return li;
  }
  const events = new EventSource(log.dataset.events);
  events.addEventListener("chat", (e) => {
    const f = JSON.parse(e.data);
    if (f.type === "message") { typing.hidden = true; add("chat-citizen", "Citizen", f.text); }
    else if (f.type === "typing") {
      typing.hidden = false;
      clearTimeout(typingTimer);
      typingTimer = setTimeout(() => { typing.hidden = true; }, 4000);
    }
    else if (f.type === "presence") presence.textContent = f.online ? "online" : "away";
    else if (f.type === "joined") add("chat-system", "", f.name + " picked up the chat.");
  });
  if (!form) return;
  const box = document.getElementById("chat-text");
  const status = document.getElementById("chat-status");
  const csrf = form.querySelector("input[name=csrf]").value;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = box.value;
    if (!text.trim()) return;
    const body = new URLSearchParams({ csrf, body: text });
    const res = await fetch(form.action, { method: "POST", body, credentials: "same-origin",
                                           headers: { "Accept": "application/json" } });
    if (!res.ok) { status.textContent = "Not sent: " + (await res.text()); return; }
    const answer = await res.json();
    const li = add("chat-agent", "You", text);
    const state = document.createElement("small");
    state.className = "chat-state";
    state.textContent = answer.delivered ? "delivered" : "stored; the citizen is away (they will see it on the status page or by e-mail)";
    li.append(state);
    box.value = "";
    status.textContent = "";
  });
  box.addEventListener("input", () => {
    const now = Date.now();
    if (now - lastTyping < 2000) return;
    lastTyping = now;
    fetch(form.dataset.typing, { method: "POST", body: new URLSearchParams({ csrf }), credentials: "same-origin" });
  });
})();
