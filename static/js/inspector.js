// Inspector page glue: keep the newest rows, copy a call as curl, reload after a reconnect
// (the socket sends only new calls; what was missed while it was down comes from the page).
(function () {
  "use strict";

  function trim() {
    var list = document.getElementById("call-rows");
    if (!list) return;
    var max = parseInt(list.dataset.rows, 10) || 100;
    while (list.children.length > max) list.removeChild(list.lastElementChild);
  }
  document.addEventListener("htmx:wsAfterMessage", trim);

  var opened = false;
  document.addEventListener("htmx:wsOpen", function () {
    if (opened) window.location.reload();
    opened = true;
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-curl]");
    if (!button) return;
    var text = button.closest(".detail-grid").querySelector("[data-curl]").textContent;
    if (navigator.clipboard) {
      navigator.clipboard.writeText(text).then(function () { button.textContent = "Copied"; });
    }
  });
})();
