"""Chromium: a refused MoMo call appears on an open inspector page within a second, with
its reason; its *Copy as curl*, run in a shell with the placeholders filled, gets the same
answer."""

import json
import os
import subprocess
import time
import uuid

import pytest
from playwright.sync_api import expect

from tests.support.pages import log_in
from tests.support.momo_client import SUBSCRIPTION_KEY, HttpMomoClient

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_refused_call_appears_live_with_its_reason_and_its_curl_reproduces_it(start_demo, browser, artifacts):
    server = start_demo(120, MOMO_SUBSCRIPTION_KEY=SUBSCRIPTION_KEY)
    momo = HttpMomoClient(server.base_url).provision("127.0.0.1")
    momo.get_token()
    page = browser.new_page()
    try:
        log_in(page, server.base_url)
        page.goto(f"{server.base_url}/dashboard/inspector/?api_user={momo.user_id}")
        expect(page.locator("body")).to_have_attribute("data-ws", "open", timeout=10_000)

        sent = time.monotonic()
        reference = str(uuid.uuid1())
        _, answer = momo.request_to_pay(reference=reference, User_Agent="shop-app/2.1")
        assert answer.status == 400
        row = page.locator(".call", has_text="this one is version 1")
        expect(row).to_be_visible(timeout=1_000)  # within 1 s of the answer
        shown_after = time.monotonic() - sent
        assert "uuid4()" in row.inner_text()
        page.screenshot(path=str(artifacts / "inspector.png"))

        row.locator("summary").click()
        curl = row.locator("[data-curl]")
        expect(curl).to_contain_text("curl")
        command = curl.text_content()
        assert SUBSCRIPTION_KEY not in command and momo.token not in command
        filled = {**os.environ, "MOMO_SUBSCRIPTION_KEY": SUBSCRIPTION_KEY, "MOMO_ACCESS_TOKEN": momo.token}
        done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=filled, timeout=30)
        head, _, body = done.stdout.replace("\r\n", "\n").partition("\n\n")
        assert head.startswith("HTTP/1.1 400"), done.stdout + done.stderr
        assert json.loads(body) == answer.json()
        assert shown_after < 5  # the whole round, for the record; the bound above is the contract
    finally:
        page.close()
