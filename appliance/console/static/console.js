// Live queues: when the hub says something changed, fetch this queue's rows again (the same
// authorised page the server renders) and swap them in. Without JavaScript the page works
// the same, only without updates until reloaded.
"use strict";
(function () {
  const box = document.getElementById("queue");
  if (!box || !window.EventSource) return;
  const url = box.dataset.live + window.location.search;
  let busy = false, again = false;
  async function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      const res = await fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } });
      // A session that ended answers with the sign-in page: go there, do not nest it here.
      if (res.redirected) { window.location.assign(res.url); return; }
      if (res.ok) box.innerHTML = await res.text();
    } finally {
      busy = false;
      if (again) { again = false; refresh(); }
    }
  }
  const events = new EventSource("/events");
  events.addEventListener("changed", refresh);
})();
