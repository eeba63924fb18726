// The projector screen: a card flips when its payment settles (processing -> final) while
// the screen watches. Cards that arrive final (the snapshot on load or after a reconnect)
// just appear; CSS turns the flip into a fade for reduced motion.
(function () {
  "use strict";

  var shown = new Map(); // reference -> the status its card last showed

  function remember(card) {
    var before = shown.get(card.id);
    var now = card.dataset.status;
    shown.set(card.id, now);
    if (before === "processing" && now !== "processing") card.classList.add("flip");
  }

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
