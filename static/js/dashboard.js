// Operator dashboard glue: countdowns and ages tick in the browser (the server sends
// timestamps once), 4xx action answers are toasts to show, and old toasts fade away.
(function () {
  "use strict";

  function span(seconds) {
    if (seconds < 60) return seconds + " s";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min";
    return Math.floor(seconds / 3600) + " h";
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-due-at]").forEach(function (el) {
      var left = Math.ceil((Date.parse(el.dataset.dueAt) - now) / 1000);
      el.textContent = isNaN(left) ? "" : left > 0 ? "in " + span(left) : "due";
    });
    // A settled time arrives in UTC from the server: shown in the browser's own zone.
    document.querySelectorAll("time[data-local-time='']").forEach(function (el) {
      var at = new Date(el.dateTime);
      if (isNaN(at)) return;
      el.textContent = at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
      el.dataset.localTime = "shown";
    });
    document.querySelectorAll("[data-age-since]").forEach(function (el) {
      var age = Math.max(0, Math.floor((now - Date.parse(el.dataset.ageSince)) / 1000));
      el.textContent = isNaN(age) ? "" : span(age);
    });
  }
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:wsAfterMessage", tick);
  document.addEventListener("htmx:afterSettle", tick);

  // Views answer a lost race (409), bad input (422) or an unknown payment (404) with a
  // toast: swap those answers too, as htmx 2 swaps 2xx ones. (Not 400: in DEBUG,
  // django-htmx's script shows a 400 answer as a whole error page.)
  htmx.config.responseHandling = [
    { code: "204", swap: false },
    { code: "[23]..", swap: true },
    { code: "404|409|422", swap: true },
    { code: "[45]..", swap: false, error: true },
  ];

  // "Copy" next to each MoMo credential (the "MoMo clients" panel); the clipboard API needs
  // a secure context (https or localhost), so elsewhere the value is selected for Ctrl+C.
  document.addEventListener("click", function (evt) {
    var button = evt.target.closest("[data-copy]");
    if (!button) return;
    var source = document.getElementById(button.dataset.copy);
    if (!source) return;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(source.textContent.trim()).then(function () { button.textContent = "Copied"; });
    } else {
      var range = document.createRange();
      range.selectNodeContents(source);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      button.textContent = "Selected: Ctrl+C";
    }
  });

  var KEEP_TOASTS = 4, TOAST_MS = 8000;
  document.addEventListener("htmx:oobAfterSwap", function () {
    var box = document.getElementById("toasts");
    if (!box) return;
    Array.prototype.slice.call(box.children, KEEP_TOASTS).forEach(function (el) { el.remove(); });
    Array.prototype.forEach.call(box.children, function (el) {
      if (el.dataset.timer) return;
      el.dataset.timer = "1";
      setTimeout(function () { el.remove(); }, TOAST_MS);
    });
  });
})();
