"""What the room sees, for the presenter-kit browser tests: page watchers (CSP violations,
htmx errors, 404s, socket frames) and helpers for the projector and the phones."""

import json
import urllib.request
from typing import Any

from playwright.sync_api import Browser, Page

PROJECTOR = {"width": 1920, "height": 1080}
PHONE = {"width": 390, "height": 844}

# Runs before any page script (through the browser's debugging channel, which no CSP binds).
RECORD_TROUBLE = """
window.__trouble = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__trouble.push("csp " + e.violatedDirective + " " + (e.blockedURI || "inline") + " at " + e.sourceFile + ":" + e.lineNumber + " sample=" + e.sample + " " + (e.target && e.target.outerHTML || "").slice(0, 120));
});
document.addEventListener("htmx:error", function (e) {
  var info = e.detail && e.detail.errorInfo || {};
  window.__trouble.push("htmx " + (info.error || "error"));
});
"""


class Watched:
    """A page with every CSP violation, htmx error, console error and 404 it met."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.console: list[str] = []
        self.missing: list[str] = []
        self.frames: list[str] = []
        page.add_init_script(RECORD_TROUBLE)
        page.on("console", self._console)
        page.on("response", lambda r: self.missing.append(r.url) if r.status == 404 else None)
        page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: self.frames.append(str(payload))))

    def _console(self, message: Any) -> None:
        # The browser's own line for an answered 409/422 (a toast the page shows) is not
        # trouble; a 404 is (collected from the responses).
        if message.text.startswith("Failed to load resource"):
            return
        if message.type == "error" or "Content Security Policy" in message.text:
            self.console.append(message.text)

    def trouble(self) -> list[str]:
        """Everything wrong so far, across the page's documents (the current one's DOM log too)."""
        try:
            recorded = self.page.evaluate("window.__trouble || []")
        except Exception:  # navigating right now
            recorded = []
        return self.console + recorded + [f"404 {url}" for url in self.missing]


def watch(browser: Browser, viewport: dict[str, int], **options: Any) -> Watched:
    return Watched(browser.new_context(viewport=viewport, **options).new_page())


def phone_context_options() -> dict[str, Any]:
    return {"viewport": PHONE, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


def create(base_url: str, phone: str, amount: str = "25.00") -> str:
    """A payment through the REST API (as a booking app would); its reference."""
    body = json.dumps({"amount": amount, "currency": "EUR", "phone_number": phone}).encode()
    request = urllib.request.Request(f"{base_url}/api/payments/", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["reference"]


# Every text a room reads on the projector, with its font size: visible text nodes under
# #live, outside the presenter's own controls ([data-presenter-only]) and the SVG chart.
SMALL_TEXT = """() => {
  const small = [];
  const walker = document.createTreeWalker(document.getElementById("live"), NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    if (!node.textContent.trim() || el.closest("svg, [data-presenter-only], iframe")) continue;
    if (!el.checkVisibility()) continue;
    const size = parseFloat(getComputedStyle(el).fontSize);
    if (size < 28) small.push(node.textContent.trim().slice(0, 40) + " @" + size + "px");
  }
  return small;
}"""
