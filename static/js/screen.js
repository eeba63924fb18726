// The projector screen: a card flips when its payment settles (processing -> final) while
// the screen watches. Cards that arrive final (the snapshot on load or after a reconnect)
// just appear; CSS turns the flip into a fade for reduced motion.
// Keys: F (or the button) toggles fullscreen, P opens or closes the simulated phone (each
// opening shows the newest waiting payment), Escape leaves fullscreen (the browser's own).
(function () {
  "use strict";

  var shown = new Map(); // reference -> the status its card last showed

  function remember(card) {
    var before = shown.get(card.id);
    var now = card.dataset.status;
    shown.set(card.id, now);
    if (before === "processing" && now !== "processing") card.classList.add("flip");
  }

  function toggleFullscreen() {
    if (document.fullscreenElement) return document.exitFullscreen();
    return document.documentElement.requestFullscreen().catch(function () {});
  }

  function togglePhone() {
    var phone = document.querySelector("[data-sim-phone]");
    if (phone) phone.open = !phone.open;
  }

  document.addEventListener("keydown", function (evt) {
    if (evt.ctrlKey || evt.metaKey || evt.altKey || evt.target.closest("input, select, textarea")) return;
    var key = evt.key.toLowerCase();
    if (key === "f") toggleFullscreen();
    else if (key === "p") togglePhone();
    else return;
    evt.preventDefault();
  });

  document.addEventListener("click", function (evt) {
    if (evt.target.closest("[data-fullscreen]")) toggleFullscreen();
  });

  // Each opening of the simulated phone loads the newest waiting payment again.
  document.addEventListener("toggle", function (evt) {
    var details = evt.target;
    if (!details.matches || !details.matches("[data-sim-phone]") || !details.open) return;
    var frame = details.querySelector("iframe[data-src]");
    if (frame && frame.dataset.opened) frame.setAttribute("src", frame.dataset.src);
    if (frame) frame.dataset.opened = "1";
  }, true);

  document.addEventListener("DOMContentLoaded", function () {
    var cards = document.getElementById("payment-rows");
    if (!cards) return;
    Array.prototype.forEach.call(cards.children, remember);
    // Rows are swapped in by id (a changed row replaces its element) or inserted on top.
    new MutationObserver(function (changes) {
      changes.forEach(function (change) {
        Array.prototype.forEach.call(change.addedNodes, function (node) {
          if (node.nodeType === 1 && node.classList.contains("prow")) remember(node);
        });
      });
    }).observe(document.body, { childList: true, subtree: true });
  });
})();
