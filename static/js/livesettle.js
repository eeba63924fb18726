// Small glue for htmx's ws extension.
//
// Every page: reconnect after any close (htmx only retries after 1006/1011/1012/1013),
// with capped jitter; <body data-ws> says "open", "live" (a message arrived), "closed".
//
// The payment page ([data-live-payment]): the countdown, and a polling fallback. The page
// is live once the current socket has delivered its first message (the server always
// sends the snapshot first). Whenever it is not live for FALLBACK_AFTER_MS (a socket that
// never opens, opens but never delivers, or keeps dropping) the page polls its status
// fragment instead, until a socket is live again or the payment is final. At a final
// status nothing can change any more, so the page drops its socket and poller ("done"),
// unless the status region says money may still move (data-open: a successful payment
// that can still be refunded, whose page then shows the refund live over its socket; it
// never polls again).
(function () {
  "use strict";

  // "reset": the presenter reset the demo and the payment is gone; nothing changes any more.
  var FINAL = { successful: true, failed: true, reset: true };
  // htmx's ws extension reconnects by itself only after these close codes.
  var SELF_RETRIED = [1006, 1011, 1012, 1013];
  var RECONNECT_CAP_MS = 8000;
  // The server closes a staff socket with this code when its user logged out or lost staff
  // (consumers/access.py): reconnecting cannot help, signing in again can.
  var CLOSE_REVOKED = 4401;
  var FALLBACK_AFTER_MS = 10000;
  var POLL_EVERY = "3s";

  // --- countdown to settle_at -----------------------------------------------------------

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
  document.addEventListener("htmx:afterSettle", tickCountdowns);
  document.addEventListener("htmx:wsAfterMessage", tickCountdowns);

  // --- reconnecting, and the live payment ---------------------------------------------

  // Full jitter spreads a restarted server's reconnect burst; the cap (htmx's own is 64 s)
  // bounds how long a page can stay behind after the server is back.
  function reconnectDelay(attempt) {
    return Math.random() * Math.min(RECONNECT_CAP_MS, 500 * Math.pow(2, attempt));
  }
  htmx.config.wsReconnectDelay = reconnectDelay;

  var state = { section: null, fallbackTimer: null, finished: false };
  // Socket element -> the socket htmx opened last for it, and how to replace that socket.
  var sockets = new Map();

  function statusElement() {
    return state.section && document.querySelector(state.section.dataset.target);
  }

  function isFinal() {
    var el = statusElement();
    return !!(el && FINAL[el.dataset.status]);
  }

  function currentVersion() {
    var el = statusElement();
    return el ? parseInt(el.dataset.version, 10) || 0 : 0;
  }

  // Versions only move forward on the page too: a poll answered before a push can arrive
  // after it, and must not put an older status back. The same version is not swapped in
  // again either: the snapshot a (re)connect sends must not wipe a PIN being typed.
  function isStale(html) {
    var match = /data-version="(\d+)"/.exec(html || "");
    return !!match && parseInt(match[1], 10) <= currentVersion();
  }

  function armFallback() {
    // At a final status the poll has nothing left to fetch (the server answers 286): a page
    // kept open for a refund waits for its socket only.
    if (state.finished || isFinal() || state.fallbackTimer || document.getElementById("status-poller")) return;
    state.fallbackTimer = setTimeout(startPolling, FALLBACK_AFTER_MS);
  }

  function startPolling() {
    state.fallbackTimer = null;
    if (state.finished || isFinal() || document.getElementById("status-poller")) return;
    var poller = document.createElement("div");
    poller.id = "status-poller";
    poller.hidden = true;
    poller.setAttribute("hx-get", state.section.dataset.statusUrl);
    // The server answers 286 at a final status, which stops htmx's polling.
    poller.setAttribute("hx-trigger", "load, every " + POLL_EVERY);
    poller.setAttribute("hx-target", state.section.dataset.target);
    poller.setAttribute("hx-swap", "outerHTML");
    state.section.appendChild(poller);
    document.body.dataset.fallback = "polling";
    htmx.process(poller);
  }

  function stopPolling() {
    clearTimeout(state.fallbackTimer);
    state.fallbackTimer = null;
    var poller = document.getElementById("status-poller");
    if (poller) {
      poller.remove(); // htmx checks that a polling element is still on the page
      document.body.dataset.fallback = "stopped";
    }
  }

  // A final status never changes: drop the socket (htmx stops reconnecting a socket whose
  // element left the page) and the poller, so an open tab costs the server nothing.
  function finishIfFinal() {
    if (state.finished || !isFinal()) return;
    stopPolling(); // the server answers a poll at a final status with 286 anyway
    if (statusElement().dataset.open === "true") return; // money may still move: keep the socket
    state.finished = true;
    var connector = state.section.querySelector("[ws-connect]");
    if (connector) {
      connector.remove();
      var entry = sockets.get(connector);
      if (entry && entry.socket) entry.socket.close();
      sockets.delete(connector);
    }
    document.body.dataset.ws = "done";
  }

  function onPaymentPage(evt) {
    return !!state.section && state.section.contains(evt.target);
  }

  document.addEventListener("DOMContentLoaded", function () {
    state.section = document.querySelector("[data-live-payment]");
    if (!state.section) return;
    if (isFinal()) finishIfFinal();
    if (!state.finished) armFallback();
  });

  document.addEventListener("htmx:wsOpen", function (evt) {
    document.body.dataset.ws = "open";
    sockets.set(evt.target, { socket: evt.detail.event.target, reconnect: evt.detail.socketWrapper.reconnect });
  });

  // A socket can die without a close event (the laptop slept, the network changed): it
  // then just stays silent. When the network comes back or the tab is shown again,
  // replace every socket; the new one starts with a fresh snapshot.
  function renewSockets() {
    sockets.forEach(function (entry, elt) {
      if (!document.body.contains(elt)) return sockets.delete(elt);
      entry.socket = null; // the old socket's close, whenever it comes, is not news
      entry.reconnect();
    });
  }
  window.addEventListener("online", renewSockets);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") renewSockets();
  });

  var closes = new WeakMap(); // socket element -> closes since it last delivered

  document.addEventListener("htmx:wsBeforeMessage", function (evt) {
    closes.delete(evt.target);
    document.body.dataset.ws = "live";
    if (!onPaymentPage(evt)) return;
    // The first message on a socket is the snapshot: from here on the socket is live.
    stopPolling();
    if (isStale(evt.detail.message)) evt.preventDefault();
  });

  document.addEventListener("htmx:wsAfterMessage", function (evt) {
    if (onPaymentPage(evt)) finishIfFinal();
  });

  document.addEventListener("htmx:wsClose", function (evt) {
    var elt = evt.target;
    if ((onPaymentPage(evt) && state.finished) || !document.body.contains(elt)) return;
    var entry = sockets.get(elt);
    if (entry && entry.socket !== evt.detail.event.target) return; // a replaced socket
    sockets.delete(elt);
    document.body.dataset.ws = "closed";
    if (evt.detail.event.code === CLOSE_REVOKED) {
      document.body.dataset.ws = "revoked";
      window.location.assign("/accounts/login/?next=" + encodeURIComponent(location.pathname + location.search));
      return;
    }
    // Daphne closes every socket WEBSOCKET_TIMEOUT s after it opened, without a code (the
    // browser reports 1005), and htmx would leave it closed: reconnect after any close.
    // The server sends a fresh snapshot on every connect.
    if (SELF_RETRIED.indexOf(evt.detail.event.code) < 0) {
      var attempt = closes.get(elt) || 0;
      closes.set(elt, attempt + 1);
      var reconnect = evt.detail.socketWrapper.reconnect;
      setTimeout(function () {
        if (document.body.contains(elt)) reconnect();
      }, reconnectDelay(attempt));
    }
    if (onPaymentPage(evt)) armFallback();
  });

  document.addEventListener("htmx:beforeSwap", function (evt) {
    if (evt.detail.elt.id === "status-poller" && isStale(evt.detail.serverResponse)) {
      evt.detail.shouldSwap = false;
    }
  });

  document.addEventListener("htmx:afterSettle", function () {
    if (state.section) finishIfFinal();
  });

  // The phone page answers a replay (409) or a bad PIN (422) with the prompt to show:
  // swap those too, as htmx 2 swaps 2xx answers (the dashboard's glue widens this list).
  htmx.config.responseHandling = [
    { code: "204", swap: false },
    { code: "[23]..", swap: true },
    { code: "409|422", swap: true },
    { code: "[45]..", swap: false, error: true },
  ];

  // The simulated phone loads (and opens its socket) only when the presenter opens it.
  document.addEventListener("toggle", function (evt) {
    var details = evt.target;
    if (!details.matches || !details.matches("[data-sim-phone]") || !details.open) return;
    var frame = details.querySelector("iframe[data-src]");
    if (frame && !frame.getAttribute("src")) frame.setAttribute("src", frame.dataset.src);
  }, true);
})();
