"""Defaults safe for a room: no traceback page for other devices, no public secret key,
HSTS without preload, staff pages never cached, sockets only from the allowed origins.
"""

import secrets
import stat
import urllib.error
import urllib.request

import pytest
from channels.testing import WebsocketCommunicator

from dashboard.asgi import application
from tests.support import ROOT, child_env, django_script, free_port, manage

NETWORK_HOST = "192.168.1.20"  # a name in ALLOWED_HOSTS only: nothing is sent to it


def one_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_it_refuses_debug_with_a_host_other_devices_reach():
    env = child_env(DEBUG="1", ALLOWED_HOSTS=f"localhost,{NETWORK_HOST}")
    result = manage("check", env=env, check=False)
    assert result.returncode != 0
    line = one_line(result)
    assert line.startswith("configuration error: DEBUG is on") and NETWORK_HOST in line
    assert "ALLOW_DEBUG_ON_NETWORK=1" in line


def test_it_refuses_debug_on_the_network_in_daphne_too_in_one_line():
    import subprocess
    import sys

    env = child_env(DEBUG="1", ALLOWED_HOSTS="*", DJANGO_SETTINGS_MODULE="dashboard.settings")
    result = subprocess.run([sys.executable, "-c", "import dashboard.asgi"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert one_line(result).startswith("configuration error: DEBUG is on")


def test_it_starts_with_debug_on_the_network_only_when_forced():
    env = child_env(DEBUG="1", ALLOWED_HOSTS=NETWORK_HOST, ALLOW_DEBUG_ON_NETWORK="1")
    assert "no issues" in manage("check", env=env).stdout


def test_it_turns_debug_off_by_default_once_other_devices_may_connect():
    env = child_env(ALLOWED_HOSTS=NETWORK_HOST, SECRET_KEY=secrets.token_urlsafe(50))
    out = django_script("from django.conf import settings; print(settings.DEBUG)", env=env)
    assert out.strip() == "False"


def test_it_keeps_no_fixed_secret_key_in_development():
    env = child_env(SECRET_KEY=None, DEBUG=None, ALLOWED_HOSTS=None)
    code = "from django.conf import settings; print(settings.DEBUG, settings.SECRET_KEY)"
    first, second = django_script(code, env=env).split(), django_script(code, env=env).split()
    assert first[0] == "True"
    assert first == second  # kept: sessions survive a restart of the demo
    assert first[1] != "django-insecure-livesettle-dev-only" and len(first[1]) >= 50
    kept = ROOT / ".secret-key"
    assert kept.read_text().strip() == first[1]
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600


def test_it_sends_hsts_without_preload_or_subdomains_by_default():
    env = child_env(DEBUG="0", SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="demo.example.com")
    code = (
        "from django.test import Client\n"
        "r = Client().get('/healthz', secure=True, HTTP_HOST='demo.example.com')\n"
        "print(r.headers['Strict-Transport-Security'])\n"
    )
    assert django_script(code, env=env).strip() == "max-age=31536000"


@pytest.mark.django_db
def test_it_shows_another_device_no_page_at_all_while_debug_is_on(client, settings):
    settings.DEBUG = True
    response = client.get("/no-such-page/", REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 403
    body = response.content.decode()
    assert "DEBUG=0" in body and "urlpatterns" not in body and "SECRET" not in body
    # The same machine still gets the developer's pages.
    assert client.get("/no-such-page/", REMOTE_ADDR="127.0.0.1").status_code == 404


def test_it_serves_plain_error_pages_when_the_demo_listens_beyond_loopback(start_demo):
    server = start_demo(2.0, "--host", "0.0.0.0")
    # Only loopback traffic: the server listens on every interface, the test asks on 127.0.0.1.
    request = urllib.request.Request(server.base_url + "/no-such-page/", headers={"Host": "localhost"})
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=10)
    body = answer.value.read().decode()
    assert answer.value.code == 404
    assert "Start a new payment" in body and "DEBUG = True" not in body and "urlpatterns" not in body


def test_it_refuses_an_explicit_debug_demo_beyond_loopback_in_one_line(tmp_path):
    env = child_env(DEBUG="1", DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}")
    result = manage("demo", "--host", "0.0.0.0", "--port", str(free_port()), env=env, check=False, timeout=60)
    assert result.returncode == 2
    line = one_line(result)
    assert "DEBUG=1" in line and "ALLOW_DEBUG_ON_NETWORK=1" in line


@pytest.mark.django_db
def test_it_never_lets_a_signed_in_page_be_cached(client, operator):
    assert "no-store" not in client.get("/").headers.get("Cache-Control", "")
    client.force_login(operator)
    for path in ("/dashboard/", "/api/payments/", "/admin/"):
        assert "no-store" in client.get(path).headers["Cache-Control"], path


# --- WebSocket origins ------------------------------------------------------------------


@pytest.fixture
def payment_path(transactional_db) -> str:
    from decimal import Decimal

    from payments.services import payment_create

    payment = payment_create(amount=Decimal("5.00"), currency="EUR", phone_number="46733123499")
    return f"/ws/payments/{payment.reference}/"


async def handshake(path: str, origin: str, host: str, scheme: str = "ws", **extra) -> bool:
    headers = [(b"origin", origin.encode()), (b"host", host.encode())]
    headers += [(k.encode(), v.encode()) for k, v in extra.items()]
    client = WebsocketCommunicator(application, path, headers=headers)
    client.scope["scheme"] = scheme
    connected, _ = await client.connect()
    if connected:
        await client.disconnect()
    return connected


@pytest.mark.parametrize(
    "origin, host, scheme, allowed",
    [
        ("http://localhost:8000", "localhost:8000", "ws", True),
        ("http://localhost", "localhost", "ws", True),
        ("http://localhost:9999", "localhost:8000", "ws", False),  # another port on the host
        ("https://localhost:8000", "localhost:8000", "ws", False),  # another scheme
        ("http://localhost:8000", "localhost:8000", "wss", False),  # a plain page on a TLS socket
        ("https://localhost", "localhost", "wss", True),
        ("http://evil.example", "evil.example", "ws", False),  # Host not in ALLOWED_HOSTS
        ("null", "localhost", "ws", False),
    ],
)
async def test_it_compares_scheme_host_and_port_of_the_origin(payment_path, origin, host, scheme, allowed):
    # The checkout socket is open to anyone with the reference: the origin alone decides.
    path = payment_path
    assert await handshake(path, origin, host, scheme) is allowed


async def test_it_accepts_a_trusted_origin_and_only_its_port(payment_path, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://demo.example.com", "https://*.presenters.example"]
    path = payment_path
    assert await handshake(path, "https://demo.example.com", "localhost:8001")
    assert await handshake(path, "https://room1.presenters.example", "localhost:8001")
    assert not await handshake(path, "https://demo.example.com:8443", "localhost:8001")
    assert not await handshake(path, "http://demo.example.com", "localhost:8001")


async def test_it_honours_the_proxy_tls_header_for_the_own_origin(payment_path, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    path = payment_path
    assert await handshake(path, "https://localhost", "localhost", **{"x-forwarded-proto": "https"})
    assert not await handshake(path, "http://localhost", "localhost", **{"x-forwarded-proto": "https"})


# --- unknown WebSocket paths ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/ws/nope/", "/ws/payments/not-a-reference/", "/"])
async def test_it_refuses_an_unknown_socket_path_cleanly(path):
    assert not await handshake(path, "http://localhost", "localhost")


def test_it_answers_an_unknown_socket_path_over_the_wire_without_a_traceback(start_demo):
    import asyncio

    import websockets

    server = start_demo(2.0)

    async def attempt(path: str) -> int:
        try:
            async with websockets.connect(server.ws_url + path, origin=server.base_url, open_timeout=10):
                return 101
        except websockets.InvalidStatus as refused:
            return refused.response.status_code

    assert asyncio.run(attempt("/ws/nope/")) == 403
    assert asyncio.run(attempt("/ws/payments/not-a-reference/")) == 403
    log = server.log.read_text()
    assert "Traceback" not in log and "No route found" not in log
