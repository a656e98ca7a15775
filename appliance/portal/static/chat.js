// The citizen's chat window: one WebSocket to /chat/ws carrying JSON frames with a `type`.
// Served as a file (no inline script), so a strict Content-Security-Policy can apply. Without
// JavaScript the page offers the request form and the status page instead.
"use strict";
(function () {
  const root = document.getElementById("chat");
  if (!root || !window.WebSocket) return;
  root.hidden = false;
  const texts = JSON.parse(root.dataset.texts || "{}");
  const lang = root.dataset.lang;
  const $ = (id) => document.getElementById(id);
  const log = $("chat-log"), typing = $("chat-typing"), notice = $("chat-notice"), error = $("chat-error");
  const fill = (text, values) => text.replace(/\{(\w+)\}/g, (_, k) => values[k] ?? "");
  let socket = null, pending = [], serial = 0, typingTimer = null, lastTyping = 0;
  const sent = new Map();

  function showError(code, text) {
    error.textContent = texts["chat_err_" + code] || text || code;
    error.dataset.code = code;
    error.hidden = false;
  }
  function showNotice(text) { notice.textContent = text; notice.hidden = false; }
  function line(from, name, text, id) {
    const li = document.createElement("li");
    li.className = "box chat-" + from;
    const who = document.createElement("strong");
    who.textContent = from === "citizen" ? texts.chat_you : (name || texts.chat_agent);
    const body = document.createElement("p");
    body.textContent = text;
    body.style.whiteSpace = "pre-wrap";
    li.append(who, body);
    if (id) {
      const state = document.createElement("small");
      state.className = "chat-state";
      state.textContent = texts.chat_sending;
      li.append(state);
      sent.set(id, state);
    }
    log.append(li);
    li.scrollIntoView({ block: "end" });
  }
  function open(first) {
    socket = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/chat/ws");
    socket.addEventListener("open", () => socket.send(JSON.stringify(first)));
    socket.addEventListener("message", (event) => {
      let f;
      try { f = JSON.parse(event.data); } catch (_) { return; }
      switch (f.type) {
        case "started":
          $("chat-start").hidden = true; $("chat-resume").hidden = true; $("chat-room").hidden = false;
          showNotice(f.code ? fill(texts.chat_case, { case: f.case, code: f.code }) : fill(texts.chat_case_resumed, { case: f.case }));
          root.dataset.case = f.case;
          for (const l of f.history) line(l.from, l.name, l.text);
          for (const p of pending) socket.send(JSON.stringify(p));
          pending = [];
          $("chat-text").focus();
          break;
        case "delivered": {
          const state = sent.get(f.id);
          if (state) { state.textContent = texts.chat_delivered; state.dataset.delivered = "true"; }
          break;
        }
        case "message":
          typing.hidden = true;
          line("agent", f.line.name, f.line.text);
          break;
        case "typing":
          typing.hidden = false;
          clearTimeout(typingTimer);
          typingTimer = setTimeout(() => { typing.hidden = true; }, 4000);
          break;
        case "joined": showNotice(fill(texts.chat_joined, { name: f.name })); break;
        case "no_agent": showNotice(f.text); break;
        case "error": showError(f.code, f.text); break;
      }
    });
    socket.addEventListener("close", () => { if (root.dataset.case) showError("disconnected", texts.chat_disconnected); });
  }
  $("chat-start").addEventListener("submit", (e) => {
    e.preventDefault();
    error.hidden = true;
    open({ type: "start", lang, name: $("chat-name").value, email: $("chat-email").value,
           country: $("chat-country").value, city: $("chat-city").value, text: $("chat-first").value });
  });
  $("chat-resume").addEventListener("submit", (e) => {
    e.preventDefault();
    error.hidden = true;
    open({ type: "resume", case: $("chat-case").value.trim(), code: $("chat-code").value.trim() });
  });
  $("chat-compose").addEventListener("submit", (e) => {
    e.preventDefault();
    const box = $("chat-text");
    const text = box.value;
    if (!text.trim() || !socket) return;
    const id = String(++serial);
    line("citizen", "", text, id);
    socket.send(JSON.stringify({ type: "message", id, text }));
    box.value = "";
  });
  $("chat-text").addEventListener("input", () => {
    const now = Date.now();
    if (socket && socket.readyState === 1 && now - lastTyping > 2000) {
      lastTyping = now;
      socket.send(JSON.stringify({ type: "typing" }));
    }
  });
})();
