"""LAN mode: the demo serves the room from the address other devices reach.

The advertised address here is 127.0.0.2, a loopback address other than 127.0.0.1 (no
test traffic goes to this machine's network addresses): the terminal's QR code, every
`checkout_url` and the phone QR codes carry it, the page loads from it, its socket
connects from it, and the server runs with DEBUG off.
"""

import json
import re
import urllib.error
import urllib.request

import pytest
from PIL import Image
from playwright.sync_api import expect

from payments.management import lan
from tests.support.momo_client import HttpMomoClient
from tests.support import Process, child_env, free_port, manage, port_open, wait_for
from tests.support.pages import scan_qr

ADVERTISED = "127.0.0.2"
# segno's compact terminal output: each character is two modules, top and bottom; a filled
# half is a light module (terminals draw light on dark).
HALVES = {"█": (1, 1), "▀": (1, 0), "▄": (0, 1), " ": (0, 0)}


def decode_terminal_qr(text: str) -> str:
    import zxingcpp

    rows = [line for line in text.splitlines() if line and set(line) <= set(HALVES)]
    matrix = [[HALVES[ch][half] for ch in line] for line in rows for half in (0, 1)]
    scale, width, height = 8, len(matrix[0]), len(matrix)
    image = Image.new("L", ((width + 8) * scale, (height + 8) * scale), 255)
    for y, row in enumerate(matrix):
        for x, light in enumerate(row):
            if not light:
                image.paste(0, ((x + 4) * scale, (y + 4) * scale, (x + 5) * scale, (y + 5) * scale))
    found = zxingcpp.read_barcodes(image)
    assert len(found) == 1, "no QR code in the terminal output"
    return found[0].text


def http(url: str, body: dict | None = None) -> tuple[int, str]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.mark.browser
@pytest.mark.slow
def test_it_advertises_the_public_url_everywhere(browser, tmp_path):
    port = free_port()
    public = f"http://{ADVERTISED}:{port}"
    env = child_env(DATABASE_URL=f"sqlite:///{tmp_path / 'lan.sqlite3'}", DEMO_OPERATOR_PASSWORD="op-pass-123", REDIS_URL=None)
    demo = Process(
        "manage.py", "demo", "--host", ADVERTISED, "--port", str(port), "--public-url", public,
        env=env, log=tmp_path / "demo.log",
    )
    page = None
    try:
        wait_for(lambda: port_open(port, ADVERTISED) or not demo.alive(), timeout=60, what="the LAN demo to serve")
        assert demo.alive(), demo.output()
        output = demo.output()
        assert f"checkout:  {public}/" in output
        assert decode_terminal_qr(output) == f"{public}/"
        # The room may read this terminal: where the secrets are, never the secrets.
        assert "op-pass-123" not in output and "DEMO_OPERATOR_PASSWORD you set" in output
        assert "momo_credentials --demo" in output
        shown = manage("momo_credentials", "--demo", env=env).stdout  # on this machine
        values = {k.strip(): v.strip() for k, v in (line.split(": ", 1) for line in shown.strip().splitlines())}
        assert len(values) >= 3 and not any(secret in output for secret in values.values())
        momo = HttpMomoClient(public, subscription_key=values["subscription key (Ocp-Apim-Subscription-Key)"])
        momo.user_id, momo.api_key = values["API user (X-Reference-Id)"], values["API key"]
        assert momo.get_token()  # the set the command prints is the one this server knows

        status, body = http(f"{public}/api/payments/", {"amount": "25.00", "currency": "EUR", "phone_number": "46733123499"})
        assert status == 201, body
        payment = json.loads(body)
        assert payment["checkout_url"] == f"{public}/pay/{payment['reference']}/"

        # DEBUG is off: a missing page is the plain 404, not Django's technical one.
        status, body = http(f"{public}/no-such-page/")
        assert status == 404 and "URLconf" not in body

        page = browser.new_context(viewport={"width": 600, "height": 1000}).new_page()
        page.goto(payment["checkout_url"])
        expect(page.locator("body")).to_have_attribute("data-ws", "live", timeout=10_000)
        assert re.fullmatch(rf"{re.escape(public)}/p/[A-Za-z0-9_-]{{22}}/", scan_qr(page))
    finally:
        if page:
            page.context.close()
        demo.stop()


def test_a_bad_public_url_is_one_line_and_exit_2():
    result = manage("demo", "--public-url", "ftp://nowhere", env=child_env(), check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "demo: error: argument --public-url: 'ftp://nowhere' is not a URL like http://192.168.1.20:8000"
    ]


def test_lan_address_is_a_network_address_or_says_why():
    try:
        address = lan.lan_address()  # a UDP connect: no packet leaves the machine
    except lan.NoNetworkAddress as exc:
        assert str(exc)
    else:
        assert not address.startswith("127.")


def test_public_url_setting_lets_its_host_and_origin_in(settings):
    # Copies, so the lists the fixture restores are not the ones advertise() appends to.
    settings.ALLOWED_HOSTS = list(settings.ALLOWED_HOSTS)
    settings.CSRF_TRUSTED_ORIGINS = list(settings.CSRF_TRUSTED_ORIGINS)
    lan.advertise("http://127.0.0.3:8123")
    assert "127.0.0.3" in settings.ALLOWED_HOSTS
    assert "http://127.0.0.3:8123" in settings.CSRF_TRUSTED_ORIGINS
    assert settings.PUBLIC_URL == "http://127.0.0.3:8123"
