"""What a person does in Chromium (Playwright pages), shared by the browser tests."""

import io
import re

import zxingcpp
from PIL import Image
from playwright.sync_api import Page, expect

from payments.models import Payment

PAY_URL = re.compile(r"/pay/[0-9a-f-]{36}/$")


def log_in(page: Page, base_url: str) -> None:
    """The demo's operator signs in and the dashboard goes live."""
    page.goto(base_url + "/dashboard/")
    page.wait_for_url(re.compile(r"/accounts/login/"))
    page.get_by_label("Username").fill("operator")
    page.get_by_label("Password").fill("op-pass-123")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(base_url + "/dashboard/")
    expect(page.locator("body")).to_have_attribute("data-ws", "live", timeout=10_000)


def pay(page: Page, base_url: str, *, phone: str = "46733123499", amount: str = "42.50", booking: bool = True) -> Payment:
    """Fill the checkout form like a customer (`booking`: the item, date and guests too) and
    land on the payment page."""
    page.goto(base_url + "/")
    if booking:
        page.get_by_label("Item").fill("Gorilla trekking permit")
        page.get_by_label("Date").fill("2026-12-24")
        page.get_by_label("Guests").fill("3")
    page.get_by_label("Amount").fill(amount)
    page.get_by_label("Phone number").fill(phone)
    page.get_by_role("button", name="Pay now").click()
    page.wait_for_url(PAY_URL)
    return Payment.objects.get(reference=page.url.rstrip("/").rsplit("/", 1)[1])


def expect_live(page: Page) -> None:
    """The socket has delivered its snapshot (the glue marks <body data-ws="live">)."""
    expect(page.locator("body")).to_have_attribute("data-ws", "live", timeout=10_000)


def scan_qr(page: Page) -> str:
    """Decode the QR code as rendered on screen."""
    shot = page.locator("[data-phone-qr]").screenshot()
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(shot)))
    assert len(found) == 1, "no QR code found on the checkout page"
    return found[0].text
