"""The presenter kit as a room meets it (issue 21's rehearsal findings), in a real Chromium
against the real demo server: phones at 390x844, the projector at 1920x1080."""

import io
import re

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import expect

from payments.models import Payment
from tests.support.room import PROJECTOR, SMALL_TEXT, create, phone_context_options, watch
from tests.support.pages import log_in, pay

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_phone_approves_from_its_own_waiting_page_and_the_prompt_reads_like_momo(start_demo, browser, artifacts):
    """Findings 2 and 9: on the payer's own phone, one button opens the prompt (no QR, no
    raw URL); the prompt names the merchant once, the amount, the masked payer and the fee,
    with the sandbox hint behind "demo help"."""
    server = start_demo(30, "--approval-mode", "phone", WALLET_START_BALANCE="10000")
    phone = watch(browser, **phone_context_options())
    try:
        payment = pay(phone.page, server.base_url, amount="75.00", booking=False)
        page = phone.page
        expect(page.locator("body")).to_have_attribute("data-ws", "live", timeout=10_000)
        expect(page.get_by_text("Scan with your phone")).to_be_hidden()
        expect(page.locator("[data-phone-qr]")).to_be_hidden()
        expect(page.get_by_text(str(payment.approval_token))).to_have_count(0)
        button = page.get_by_role("link", name="Approve on this phone")
        expect(button).to_be_visible()
        box = button.bounding_box()
        assert box["width"] >= 300 and box["height"] >= 48, box  # a thumb's target
        page.screenshot(path=artifacts / "phone-waiting.png")

        button.tap()
        expect(page.get_by_role("heading")).to_have_text(re.compile(r"Pay\s*75\.00 EUR\s*to Virunga Treks"))
        prompt = page.locator("#phone-prompt")
        assert prompt.inner_text().count("Virunga Treks") == 1
        expect(prompt).to_contain_text("467•••••499")
        expect(prompt).not_to_contain_text("46733123499")
        expect(prompt.locator(".facts")).to_contain_text(re.compile(r"Fee\s*0\.00 EUR"))
        expect(prompt.locator(".facts")).to_contain_text(re.compile(r"Balance after\s*9925\.00 EUR"))  # a new wallet: 10000
        hint = page.get_by_text("0000 is a wrong PIN")
        expect(hint).to_be_hidden()
        page.get_by_text("demo help").tap()
        expect(hint).to_be_visible()
        page.get_by_text("demo help").tap()
        page.evaluate("document.activeElement.blur()")
        page.screenshot(path=artifacts / "phone-prompt.png")

        page.get_by_label("PIN").fill("2468")
        page.get_by_role("button", name="Approve").tap()
        expect(page.get_by_role("heading", name="Payment successful")).to_be_visible(timeout=5_000)
        payment.refresh_from_db()
        assert payment.status == "successful"
        # Back on the waiting page: settled, nothing left to approve.
        page.go_back()
        expect(page.get_by_role("heading", name="Payment successful")).to_be_visible(timeout=5_000)
        expect(page.get_by_role("link", name="Approve on this phone")).to_be_hidden()
        assert phone.trouble() == []
    finally:
        phone.page.context.close()


def test_the_checkout_page_stops_offering_the_simulated_phone_once_settled_or_reset(start_demo, browser):
    """Finding 8: "Simulate the phone here" goes when the payment settles and when the demo is reset."""
    server = start_demo(30, "--approval-mode", "phone")
    checkout = watch(browser, {"width": 1100, "height": 1000})
    operator = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    try:
        page = checkout.page
        payment = pay(page, server.base_url, amount="75.00", booking=False)
        expect(page.locator("body")).to_have_attribute("data-ws", "live", timeout=10_000)
        simulate = page.get_by_text("Simulate the phone here")
        expect(simulate).to_be_visible()
        expect(page.get_by_role("link", name="Approve on this phone")).to_be_hidden()  # a desktop: the QR
        expect(page.locator("[data-phone-qr]")).to_be_visible()
        # Approved from another device: the checkout flips, and the offer goes with the QR.
        other = page.context.request
        phone_page = other.get(f"{server.base_url}/p/{payment.approval_token}/")
        token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
        answer = other.post(f"{server.base_url}/p/{payment.approval_token}/approve/", form={"pin": "1234"},
                            headers={"X-CSRFToken": token, "Referer": phone_page.url})
        assert answer.status == 200
        expect(page.get_by_role("heading", name="Payment successful")).to_be_visible(timeout=5_000)
        expect(simulate).to_be_hidden()
        expect(page.locator("[data-phone-qr]")).to_be_hidden()

        # A reset while a payment waits: the page says so, and offers no phone either.
        pay(page, server.base_url, amount="75.00", booking=False)
        expect(page.locator("body")).to_have_attribute("data-ws", "live", timeout=10_000)
        expect(simulate).to_be_visible()
        log_in(operator, server.base_url)
        operator.once("dialog", lambda dialog: dialog.accept())
        operator.get_by_role("button", name="Reset demo").click()
        expect(page.get_by_role("heading", name="The demo was reset")).to_be_visible(timeout=5_000)
        expect(simulate).to_be_hidden()
        expect(page.locator(".phone-panel")).to_be_hidden()
        assert checkout.trouble() == []
    finally:
        checkout.page.context.close()
        operator.context.close()


def test_the_projector_reads_from_the_back_masks_numbers_and_says_what_is_true(start_demo, browser, artifacts):
    """Findings 3, 5, 6 and the projector's keys (10): at 1920x1080 nothing the room reads is
    under 28 px; no full phone number in its HTML or its socket frames; a card says "waiting
    for the payer", a countdown or when it settled, never "never"; an empty or reset screen
    invites the room; the simulated phone fits; F goes fullscreen."""
    server = start_demo(2, "--approval-mode", "phone", "--success-rate", "1")
    screen = watch(browser, PROJECTOR)
    operator = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    page = screen.page
    try:
        log_in(page, server.base_url)
        page.goto(server.base_url + "/dashboard/screen/")
        expect(page.locator("body")).to_have_attribute("data-ws", "live", timeout=10_000)
        join = page.locator(".join")
        expect(join).to_be_visible()
        expect(join).to_contain_text(f"{server.base_url}/")
        assert join.get_by_role("heading").evaluate("el => parseFloat(getComputedStyle(el).fontSize)") >= 60
        assert page.evaluate(SMALL_TEXT) == []
        page.screenshot(path=artifacts / "projector-empty.png")

        # Two wait for their payer; test numbers settle by the timer: one succeeds late, one fails.
        phones = ["46733123401", "46733123402", "46733123453", "46733123450"]
        references = [create(server.base_url, phone) for phone in phones]
        cards = [page.locator(f"#row-{r}") for r in references]
        expect(cards[0]).to_contain_text("waiting for the payer", timeout=5_000)
        expect(cards[2]).to_contain_text(re.compile(r"in \d+ s|due"))
        expect(cards[2]).to_have_attribute("data-status", "successful", timeout=10_000)
        expect(cards[2]).to_contain_text(re.compile(r"settled \d\d:\d\d:\d\d"))
        expect(cards[3]).to_have_attribute("data-status", "failed", timeout=10_000)
        expect(cards[3]).to_contain_text("INTERNAL_PROCESSING_ERROR")
        for reference in [create(server.base_url, f"467331234{n:02d}") for n in range(10, 16)]:
            expect(page.locator(f"#row-{reference}")).to_be_visible(timeout=5_000)
        expect(join).to_be_hidden()  # the stage is full
        bottoms = page.eval_on_selector_all("#payment-rows > .prow", "cards => cards.filter(c => c.checkVisibility()).map(c => c.getBoundingClientRect().bottom)")
        assert len(bottoms) == 9 and max(bottoms) <= PROJECTOR["height"], bottoms  # every card whole on the screen
        expect(page.locator("#payment-rows")).not_to_contain_text("never")
        assert page.evaluate(SMALL_TEXT) == []
        page.locator(f"#row-{references[2]}").evaluate("el => Promise.all(el.getAnimations().map(a => a.finished))")
        page.screenshot(path=artifacts / "projector-busy.png")
        busy_html = page.content()

        # P: the simulated phone, whole on the screen, approves the newest waiting payment.
        page.keyboard.press("p")
        frame = page.locator("iframe.sim-frame")
        expect(frame).to_be_visible()
        box = frame.bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= PROJECTOR["height"], box
        assert box["x"] + box["width"] <= PROJECTOR["width"], box
        page.frame_locator("iframe.sim-frame").get_by_label("PIN").fill("1357")
        page.frame_locator("iframe.sim-frame").get_by_role("button", name="Approve").click()
        newest = Payment.objects.filter(phone_number="46733123415").get()
        expect(page.locator(f"#row-{newest.reference}")).to_have_attribute("data-status", "successful", timeout=5_000)
        page.screenshot(path=artifacts / "projector-phone.png")
        page.locator(".screen-head h1").click()  # the keys are the screen's, not the framed phone's
        page.keyboard.press("p")
        expect(frame).to_be_hidden()

        page.keyboard.press("f")
        page.wait_for_function("document.fullscreenElement !== null", timeout=5_000)
        page.keyboard.press("f")
        page.wait_for_function("document.fullscreenElement === null", timeout=5_000)

        # The operator's own dashboard shows numbers in full; masked at a click when the room sees it.
        log_in(operator, server.base_url)
        expect(operator.locator("#payment-rows")).to_contain_text("46733123401")
        operator.get_by_role("link", name="Mask phone numbers").click()
        expect(operator.locator("body")).to_have_attribute("data-ws", "live", timeout=10_000)
        expect(operator.locator("#payment-rows")).to_contain_text("467•••••401")
        assert not [n for n in phones if n in operator.content()]
        operator.get_by_role("link", name="Show phone numbers").click()
        expect(operator.locator("#payment-rows")).to_contain_text("46733123401")

        # Reset: the invitation is back, as large as before.
        operator.once("dialog", lambda dialog: dialog.accept())
        operator.get_by_role("button", name="Reset demo").click()
        expect(page.locator("#payment-rows .prow")).to_have_count(0, timeout=5_000)
        expect(join).to_be_visible()
        page.screenshot(path=artifacts / "projector-reset.png")

        numbers = phones + [f"467331234{n:02d}" for n in range(10, 16)]
        assert not [n for n in numbers if n in busy_html or any(n in f for f in screen.frames)]
        assert any("467•••••401" in f for f in screen.frames)  # the masked form was pushed
        assert screen.trouble() == []
    finally:
        page.context.close()
        operator.context.close()


def expect_settings(page, mode: str, timeout: str) -> None:
    panel = page.locator("#settings-panel")
    expect(panel.locator("[data-approval-mode]")).to_have_attribute("data-approval-mode", mode, timeout=5_000)
    expect(panel.locator("#settings-timeout_seconds")).to_have_value(timeout, timeout=5_000)


def test_a_scenario_played_stopped_or_reset_leaves_phone_mode_and_the_timeout_as_they_were(start_demo, browser):
    """Finding 1: Happy path plays with approval by timer and a 4 s timeout, while it plays
    only; Stop, Reset demo and its own end put the presenter's phone mode and 45 s back,
    on every dashboard."""
    from payments.selectors import simulator_settings

    server = start_demo(45, "--approval-mode", "phone")
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    try:
        log_in(page, server.base_url)
        other = page.context.new_page()  # a second dashboard: it only watches
        other.goto(server.base_url + "/dashboard/")
        expect(other.locator("body")).to_have_attribute("data-ws", "live", timeout=10_000)
        play = page.locator("#presenter-panel li", has_text="Happy path").get_by_role("button", name="Play")
        for page_ in (page, other):
            expect_settings(page_, "phone", "45")

        play.click()
        expect(page.locator("#toasts")).to_contain_text("Its settings hold until it ends")
        for page_ in (page, other):
            expect_settings(page_, "timer", "4")  # the settings in force, shown
        page.locator("#presenter-panel").get_by_role("button", name="Stop").click()
        for page_ in (page, other):
            expect_settings(page_, "phone", "45")
        config = simulator_settings()
        assert (config.approval_mode, config.timeout_seconds) == ("phone", 45)

        play.click()
        expect_settings(page, "timer", "4")
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Reset demo").click()
        expect(page.locator("#toasts")).to_contain_text("Demo reset")
        for page_ in (page, other):
            expect_settings(page_, "phone", "45")
            expect(page_.locator("[data-playing]")).to_have_count(0)
        config = simulator_settings()
        assert (config.approval_mode, config.timeout_seconds, config.paused) == ("phone", 45, False)
    finally:
        page.context.close()


def test_the_scenario_indicator_clears_on_every_dashboard_within_a_second_of_its_last_settlement(start_demo, browser):
    """Finding 4: the end of a scenario, and of background traffic, is pushed to every dashboard."""
    server = start_demo(45, "--approval-mode", "phone")
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    try:
        log_in(page, server.base_url)
        other = page.context.new_page()
        other.goto(server.base_url + "/dashboard/")
        expect(other.locator("body")).to_have_attribute("data-ws", "live", timeout=10_000)
        # When the indicator leaves the watching dashboard, by the browser's clock (this machine's).
        other.evaluate("""() => new MutationObserver(() => {
            if (!document.querySelector("[data-playing]") && window.__seen && !window.__gone) window.__gone = Date.now();
            if (document.querySelector("[data-playing]")) window.__seen = true;
        }).observe(document.body, {childList: true, subtree: true})""")
        page.locator("#presenter-panel li", has_text="Happy path").get_by_role("button", name="Play").click()
        expect(other.locator("[data-playing]")).to_contain_text("Happy path", timeout=5_000)
        expect(other.locator("[data-playing]")).to_have_count(0, timeout=30_000)
        gone = other.evaluate("window.__gone")
        played = Payment.objects.filter(logs__actor="scenario:Happy path").distinct()
        assert played.count() == 5 and not played.filter(status="processing").exists()
        last = max(p.settled_at for p in played).timestamp() * 1000
        assert 0 <= gone - last < 1000, f"cleared {gone - last:.0f} ms after the last settlement"
        expect(page.locator("[data-playing]")).to_have_count(0)
        expect_settings(other, "phone", "45")  # and its settings went back

        page.locator("#presenter-panel").get_by_role("button", name="Start traffic").click()
        expect(other.locator("#presenter-panel")).to_contain_text(re.compile(r"Background traffic: on"), timeout=5_000)
        page.locator("#presenter-panel").get_by_role("button", name="Stop traffic").click()
        expect(other.locator("#presenter-panel")).to_contain_text("Background traffic: off", timeout=5_000)
    finally:
        page.context.close()


def test_no_page_logs_a_csp_violation_or_an_htmx_error_through_a_whole_scenario(start_demo, browser):
    """Finding 7: the checkout, phone, dashboard and projector pages, watched from before
    their first script, through operator actions and a whole scenario."""
    server = start_demo(45, "--approval-mode", "phone")
    dashboard = watch(browser, {"width": 1400, "height": 1000})
    screen = watch(browser, PROJECTOR)
    checkout = watch(browser, {"width": 1100, "height": 1000})
    phone = watch(browser, **phone_context_options())
    pages = {"dashboard": dashboard, "projector": screen, "checkout": checkout, "phone": phone}
    try:
        log_in(dashboard.page, server.base_url)
        log_in(screen.page, server.base_url)
        screen.page.goto(server.base_url + "/dashboard/screen/")
        expect(screen.page.locator("body")).to_have_attribute("data-ws", "live", timeout=10_000)
        payment = pay(checkout.page, server.base_url)
        phone.page.goto(f"{server.base_url}/p/{payment.approval_token}/")
        expect(phone.page.locator("body")).to_have_attribute("data-ws", "live", timeout=10_000)

        page = dashboard.page
        # A screenshot (Playwright's caret hiding), like a browser extension or a password
        # manager, leaves a style attribute on the inputs: a swap must not copy it over.
        page.screenshot()
        screen.page.screenshot()
        # Operator actions that swap the settings panel, rows and toasts.
        page.locator("#settings-success_rate").fill("7")
        page.get_by_role("button", name="Apply").click()
        expect(page.locator("#toasts")).to_contain_text("Success rate must be between 0 and 1")
        page.locator("#settings-success_rate").fill("1")
        page.get_by_role("button", name="Apply").click()
        expect(page.locator("#toasts")).to_contain_text("Settings saved")
        page.get_by_role("button", name="Pause auto-settlement").click()
        page.get_by_role("button", name="Resume auto-settlement").click()
        expect(page.locator("#settings-panel")).to_have_attribute("data-paused", "false")
        page.locator("#settings-panel").get_by_role("button", name="by timer").click()
        page.locator("#settings-panel").get_by_role("button", name="on the payer's phone").click()
        expect(page.locator("#settings-panel [data-approval-mode]")).to_have_attribute("data-approval-mode", "phone")

        # The payer answers on the phone; then a whole scenario plays to its end.
        phone.page.get_by_label("PIN").fill("2468")
        phone.page.get_by_role("button", name="Approve").tap()
        expect(phone.page.get_by_role("heading", name="Payment successful")).to_be_visible(timeout=10_000)
        expect(checkout.page.get_by_role("heading", name="Payment successful")).to_be_visible(timeout=10_000)
        page.locator("#presenter-panel li", has_text="Happy path").get_by_role("button", name="Play").click()
        expect(page.locator("[data-playing]")).to_be_visible()
        row = page.locator("#payment-rows .prow.status-processing").first
        row.get_by_role("button", name="Fail").click()  # an operator forces one of its payments
        # Forced, or (a slow machine) settled by the scenario first: either way a toast, no error.
        expect(page.locator("#toasts")).to_contain_text(re.compile(r"forced failed|already settled"))
        expect(page.locator("[data-playing]")).to_have_count(0, timeout=30_000)
        expect(screen.page.locator("#payment-rows .prow")).to_have_count(6, timeout=5_000)
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Reset demo").click()
        expect(screen.page.locator(".join")).to_be_visible(timeout=5_000)
        # The checkout page kept its socket (a successful payment can still be refunded),
        # so the reset reaches it too: it says so, with no error logged on the way.
        expect(checkout.page.locator("[data-status=reset]")).to_be_visible(timeout=10_000)
        trouble = {name: watched.trouble() for name, watched in pages.items()}
        assert trouble == {name: [] for name in pages}, trouble
    finally:
        for watched in pages.values():
            watched.page.context.close()


def test_small_things_a_presenter_notices(start_demo, browser):
    """Finding 10: a favicon (no 404 anywhere), dark mode, the projector's fullscreen
    button, the projector URL in `demo`'s banner, and toasts that never push the header."""
    server = start_demo(45)
    assert f"projector: {server.base_url}/dashboard/screen/" in server.process.output()
    dark = watch(browser, {"width": 1400, "height": 1000}, color_scheme="dark")
    page = dark.page
    try:
        icons: list[int] = []
        page.on("response", lambda r: icons.append(r.status) if "favicon" in r.url else None)
        log_in(page, server.base_url)
        assert icons and set(icons) == {200}
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert luminance(background) < 0.1, background  # dark, as the system asked
        panel = page.locator("#settings-panel").evaluate("el => getComputedStyle(el).backgroundColor")
        assert luminance(panel) < 0.2, panel

        head = page.locator(".dash-head").bounding_box()["height"]
        for _ in range(3):
            page.get_by_role("button", name="Pause auto-settlement").click()
            page.get_by_role("button", name="Resume auto-settlement").click()
        expect(page.locator("#toasts .toast")).to_have_count(4)  # the newest four
        assert page.locator(".dash-head").bounding_box()["height"] == head  # they float over the page

        pay(page, server.base_url)
        qr = page.locator("[data-phone-qr]")
        expect(qr).to_be_visible()
        found = zxingcpp.read_barcodes(Image.open(io.BytesIO(qr.screenshot())))
        assert [code.text for code in found] and "/p/" in found[0].text  # the QR still scans in dark mode
        assert luminance(page.locator(".card").evaluate("el => getComputedStyle(el).backgroundColor")) < 0.2

        page.goto(server.base_url + "/dashboard/screen/")
        page.get_by_role("button", name="Fullscreen").click()
        page.wait_for_function("document.fullscreenElement !== null", timeout=5_000)
        expect(page.get_by_role("button", name="Fullscreen")).to_be_hidden()  # not on the room's screen
        assert dark.trouble() == []
    finally:
        page.context.close()


def luminance(css_color: str) -> float:
    """0 (black) .. 1 (white), of an `rgb(r, g, b)` computed colour."""
    r, g, b = (int(v) for v in re.findall(r"\d+", css_color)[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255
