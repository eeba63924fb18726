"""The Content-Security-Policy in a real Chromium: the pages load everything they need
(htmx, its ws extension, the glue, the Swagger UI) with nothing blocked, and an inline
script that got into a page does not run.
"""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.support import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAY_URL = re.compile(r"/pay/[0-9a-f-]{36}/$")
# Runs before any page script (through the browser's debugging channel, which no CSP binds).
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


@pytest.fixture
def watched(page: Page):
    """The page, with every CSP report of the console and the DOM collected."""
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if "Content Security Policy" in m.text else None)
    page.add_init_script(RECORD_VIOLATIONS)

    def violations() -> list[str]:
        return console + page.evaluate("window.__csp || []")

    page.violations = violations
    return page


def test_it_blocks_nothing_on_the_checkout_and_payment_pages(start_demo, watched):
    server = start_demo(1.0, "--success-rate", "1")
    response = watched.goto(server.base_url + "/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    watched.get_by_label("Amount").fill("12.00")
    watched.get_by_role("button", name="Pay now").click()
    watched.wait_for_url(PAY_URL)
    expect(watched.locator("body")).to_have_attribute("data-ws", "live", timeout=10_000)  # htmx + ws ext ran
    expect(watched.get_by_role("heading", name="Payment successful")).to_be_visible(timeout=15_000)
    assert watched.violations() == []


def test_it_blocks_nothing_on_the_dashboard_its_payment_page_and_the_screen(start_demo, watched):
    server = start_demo(30.0)
    watched.goto(server.base_url + "/")
    watched.get_by_role("button", name="Pay now").click()
    watched.wait_for_url(PAY_URL)
    reference = watched.url.rstrip("/").rsplit("/", 1)[1]
    watched.goto(server.base_url + "/dashboard/")
    watched.get_by_label("Username").fill("operator")
    watched.get_by_label("Password").fill("op-pass-123")
    watched.get_by_role("button", name="Log in").click()
    watched.wait_for_url(server.base_url + "/dashboard/")
    expect(watched.locator("body")).to_have_attribute("data-ws", "live", timeout=10_000)
    row = watched.locator(f"#row-{reference}")
    expect(row).to_have_attribute("data-status", "processing")
    # The payment's own page, live on its socket: a forced outcome arrives there too.
    row.get_by_role("link").click()
    expect(watched.locator("body")).to_have_attribute("data-ws", "live", timeout=10_000)
    watched.locator(f"#row-{reference}").get_by_role("button", name="Succeed").click()
    expect(watched.locator(f"#row-{reference}")).to_have_attribute("data-status", "successful", timeout=10_000)
    # The projector screen: its QR code and live cards.
    watched.goto(server.base_url + "/dashboard/screen/")
    expect(watched.locator("body")).to_have_attribute("data-ws", "live", timeout=10_000)
    expect(watched.locator(".scan svg.qr")).to_be_visible()
    assert watched.violations() == []


def test_it_blocks_nothing_on_the_api_docs(start_demo, watched):
    server = start_demo(30.0)
    watched.goto(server.base_url + "/api/docs/")
    # Swagger UI rendered the schema: its scripts, styles and the schema fetch all ran.
    expect(watched.get_by_text("/api/payments/", exact=True).first).to_be_visible(timeout=15_000)
    assert watched.violations() == []


def test_it_blocks_an_inline_script_that_got_into_a_page(start_demo, watched):
    server = start_demo(30.0)

    def inject(route):
        # As if a stored value had slipped past escaping: the server's own CSP header stays.
        original = route.fetch()
        body = original.text().replace("</main>", "<script>window.__injected = true</script></main>")
        route.fulfill(response=original, body=body)

    watched.route(server.base_url + "/", inject)
    watched.goto(server.base_url + "/")
    assert "<script>window.__injected" in watched.content()
    watched.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.__added = true';"
        " document.body.appendChild(s); }"
    )
    wait_for(lambda: len(watched.evaluate("window.__csp")) >= 2, timeout=5, what="both scripts to be reported")
    assert watched.evaluate("window.__injected === undefined && window.__added === undefined")
    assert all(v.startswith("script-src") for v in watched.evaluate("window.__csp"))
    expect(watched.get_by_role("button", name="Pay now")).to_be_visible()  # the page itself still works
