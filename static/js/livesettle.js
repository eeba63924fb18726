// Small glue for htmx's ws extension: countdowns, reconnect after any close, and a
// polling fallback when a WebSocket cannot be opened at all.
(function () {
  "use strict";

  function tickCountdowns() {
    document.querySelectorAll("[data-settle-at]").forEach(function (el) {
      var due = Date.parse(el.dataset.settleAt);
      if (isNaN(due)) return;
      var left = Math.ceil((due - Date.now()) / 1000);
      el.textContent = left > 0 ? "Settling in about " + left + " s" : "Settling now…";
    });
  }
  setInterval(tickCountdowns, 1000);
  document.addEventListener("DOMContentLoaded", tickCountdowns);
  document.addEventListener("htmx:wsAfterMessage", tickCountdowns);

  // htmx reconnects by itself only after 1006/1011/1012/1013; Daphne closes idle sockets
  // with 1000. Reconnect after any close while the element is on the page: the server
  // sends a fresh snapshot on every connect, so the page resyncs.
  var SELF_RETRIED = [1006, 1011, 1012, 1013];
  document.addEventListener("htmx:wsClose", function (evt) {
    document.body.dataset.ws = "closed";
    var code = evt.detail.event.code;
    if (SELF_RETRIED.indexOf(code) >= 0 || !document.body.contains(evt.target)) return;
    setTimeout(function () { evt.detail.socketWrapper.reconnect(); }, 500 + Math.random() * 1500);
  });

  var everOpened = false;
  document.addEventListener("htmx:wsOpen", function () {
    everOpened = true;
    document.body.dataset.ws = "open";
    var poller = document.getElementById("status-poller");
    if (poller) poller.remove();
  });

  // If the socket never opens within 10 s, poll the status fragment every 3 s; the
  // server answers 286 at a final status, which stops htmx's polling.
  var FALLBACK_AFTER_MS = 10000;
  document.addEventListener("DOMContentLoaded", function () {
    var live = document.querySelector("[data-live-payment]");
    if (!live) return;
    setTimeout(function () {
      if (everOpened || document.getElementById("status-poller")) return;
      var poller = document.createElement("div");
      poller.id = "status-poller";
      poller.hidden = true;
      poller.setAttribute("hx-get", live.dataset.statusUrl);
      poller.setAttribute("hx-trigger", "load, every 3s");
      poller.setAttribute("hx-target", live.dataset.target);
      poller.setAttribute("hx-swap", "outerHTML");
      live.appendChild(poller);
      document.body.dataset.fallback = "polling";
      htmx.process(poller);
    }, FALLBACK_AFTER_MS);
  });
})();
