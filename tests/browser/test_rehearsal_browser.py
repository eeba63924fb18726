"""The rehearsal script of docs/presenter.md, run step by step in its order, as a presenter
would: a LAN-like demo on 127.0.0.2 in phone approval mode, the projector at 1920x1080,
two 390x844 phones that pay from the scanned QR codes, the operator's dashboard.

The steps' titles are the script's headings: the test fails if the two drift apart.
"""

import io
import re
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Page, expect

from tests.support.room import PROJECTOR, Watched, phone_context_options
from tests.support import Process, child_env, free_port, port_open, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HOST = "127.0.0.2"  # "another device" reaches the laptop here
SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "presenter.md"
STEPS = [
    "Start the demo in phone mode",
    "Put the projector screen up",
    "Open your dashboard",
    "The room pays from its phones",
    "A payer declines",
    "Play a scenario",
    "The simulated phone",
    "Background traffic",
    "Reset for the next session",
]


def script_steps() -> list[str]:
    """The numbered headings of the rehearsal script, in order."""
    text = SCRIPT.read_text()
    section = text.split("## Rehearsal script", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^### \d+\. (.+?)(?: \(.*\))?$", section, flags=re.M)


def scan(page: Page, selector: str) -> str:
    """Read a QR code on screen as a phone camera would."""
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(page.locator(selector).screenshot())))
    assert len(found) == 1, f"no QR code in {selector}"
    return found[0].text


def log_in(page: Page, base: str, path: str) -> None:
    page.goto(f"{base}/accounts/login/?next={path}")
    page.get_by_label("Username").fill("operator")
    page.get_by_label("Password").fill("op-pass-123")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}{path}")
    expect(page.locator("body")).to_have_attribute("data-ws", "live", timeout=10_000)


def phone_pays(browser, url: str, number: str) -> Watched:
    """A phone opens the scanned checkout, pays, and lands on its waiting page."""
    phone = Watched(browser.new_context(**phone_context_options()).new_page())
    phone.page.goto(url)
    phone.page.get_by_label("Phone number").fill(number)
    phone.page.get_by_label("Amount").fill("40.00")
    phone.page.get_by_role("button", name="Pay now").click()
    expect(phone.page.get_by_role("link", name="Approve on this phone")).to_be_visible(timeout=10_000)
    return phone


def test_the_rehearsal_script_runs_in_order(browser, tmp_path):
    assert script_steps() == STEPS
    port = free_port()
    base = f"http://{HOST}:{port}"
    env = child_env(DATABASE_URL=f"sqlite:///{tmp_path / 'room.sqlite3'}", DEMO_OPERATOR_PASSWORD="op-pass-123", REDIS_URL=None)
    pages: list[Watched] = []
    demo = Process(
        "manage.py", "demo", "--host", HOST, "--port", str(port), "--public-url", base,
        "--approval-mode", "phone", "--timeout", "45", env=env, log=tmp_path / "demo.log",
    )
    try:
        # 1. Start the demo in phone mode: the banner says where everything is.
        wait_for(lambda: port_open(port, HOST) or not demo.alive(), timeout=60, what="the demo to serve")
        banner = demo.output()
        for line in (f"checkout:  {base}/", f"dashboard: {base}/dashboard/", f"projector: {base}/dashboard/screen/"):
            assert line in banner, banner
        assert "approval on the payer's phone" in banner

        # 2. Put the projector screen up: fullscreen, the room invited to scan.
        screen = Watched(browser.new_context(viewport=PROJECTOR).new_page())
        pages.append(screen)
        log_in(screen.page, base, "/dashboard/screen/")
        screen.page.keyboard.press("f")
        screen.page.wait_for_function("document.fullscreenElement !== null", timeout=5_000)
        expect(screen.page.locator(".join")).to_contain_text(f"{base}/")
        checkout_url = scan(screen.page, ".scan .qr-box")
        assert checkout_url == f"{base}/"

        # 3. Open your dashboard: phone mode is on.
        dashboard = Watched(browser.new_context(viewport={"width": 1400, "height": 1000}).new_page())
        pages.append(dashboard)
        log_in(dashboard.page, base, "/dashboard/")
        settings = dashboard.page.locator("#settings-panel")
        expect(settings.get_by_role("button", name="on the payer's phone")).to_have_attribute("aria-pressed", "true")

        # 4. The room pays from its phones: one tap to the prompt, a PIN, the card flips.
        first = phone_pays(browser, checkout_url, "46733100101")
        pages.append(first)
        reference = first.page.url.rstrip("/").rsplit("/", 1)[1]
        card = screen.page.locator(f"#row-{reference}")
        expect(card).to_contain_text("waiting for the payer", timeout=5_000)
        expect(card).to_contain_text("467•••••101")
        first.page.get_by_role("link", name="Approve on this phone").tap()
        first.page.get_by_label("PIN").fill("2468")
        first.page.get_by_role("button", name="Approve").tap()
        expect(card).to_have_attribute("data-status", "successful", timeout=2_000)

        # 5. A payer declines: the card fails, and says why.
        second = phone_pays(browser, checkout_url, "46733100102")
        pages.append(second)
        declined = screen.page.locator(f"#row-{second.page.url.rstrip('/').rsplit('/', 1)[1]}")
        expect(declined).to_have_attribute("data-status", "processing", timeout=5_000)
        second.page.get_by_role("link", name="Approve on this phone").tap()
        second.page.get_by_role("button", name="Decline").tap()
        expect(declined).to_have_attribute("data-status", "failed", timeout=2_000)
        expect(declined).to_contain_text("APPROVAL_REJECTED")

        # 6. Play a scenario: its settings hold while it plays; its end clears the panel.
        presenter = dashboard.page.locator("#presenter-panel")
        presenter.locator("li", has_text="Happy path").get_by_role("button", name="Play").click()
        expect(settings.get_by_role("button", name="by timer")).to_have_attribute("aria-pressed", "true")
        expect(screen.page.locator("#payment-rows .prow")).to_have_count(7, timeout=15_000)
        expect(presenter.locator("[data-playing]")).to_have_count(0, timeout=30_000)
        expect(settings.get_by_role("button", name="on the payer's phone")).to_have_attribute("aria-pressed", "true")
        expect(screen.page.locator('#stats [data-counter="successful"] .value')).to_have_text("6", timeout=5_000)

        # 7. The simulated phone: P opens the newest waiting payment, for whoever has none.
        waiting = phone_pays(browser, checkout_url, "46733100103")
        pages.append(waiting)
        screen.page.keyboard.press("p")
        framed = screen.page.frame_locator("iframe.sim-frame")
        framed.get_by_label("PIN").fill("1357")
        framed.get_by_role("button", name="Approve").click()
        expect(waiting.page.get_by_role("heading", name="Payment successful")).to_be_visible(timeout=2_000)
        screen.page.locator(".screen-head h1").click()
        screen.page.keyboard.press("p")

        # 8. Background traffic: on while you talk, off before the next part.
        presenter.get_by_role("button", name="Start traffic").click()
        expect(presenter).to_contain_text("Background traffic: on")
        expect(screen.page.locator("#payment-rows .prow")).to_have_count(10, timeout=10_000)
        presenter.get_by_role("button", name="Stop traffic").click()
        expect(presenter).to_contain_text("Background traffic: off")

        # 9. Reset for the next session: the projector invites the room again, settings stay.
        dashboard.page.once("dialog", lambda dialog: dialog.accept())
        dashboard.page.get_by_role("button", name="Reset demo").click()
        expect(screen.page.locator(".join")).to_be_visible(timeout=5_000)
        expect(screen.page.locator("#payment-rows .prow")).to_have_count(0)
        expect(settings.get_by_role("button", name="on the payer's phone")).to_have_attribute("aria-pressed", "true")
        for watched in pages:
            assert watched.trouble() == [], watched.page.url
    finally:
        for watched in pages:
            watched.page.context.close()
        demo.stop()
