// The screen pop: when any phone or queue changes, fetch this agent's panel again (the same
// authorised fragment the server renders) and swap it in.
"use strict";
(function () {
  const box = document.getElementById("phone");
  if (!box || !window.EventSource) return;
  async function refresh() {
    const res = await fetch(box.dataset.live, { credentials: "same-origin" });
    if (res.redirected) { window.location.assign(res.url); return; }
    if (res.ok) box.innerHTML = await res.text();
  }
  new EventSource("/phone/events").addEventListener("changed", refresh);
})();
