"""Fixtures every level uses. Those of one level only are in that level's conftest.py
(tests/domain, http, sockets, browser, processes); helpers are in tests/support/."""

import os
from decimal import Decimal

import pytest
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client
from pytest_httpserver import HTTPServer
from rest_framework.test import APIClient

from consumers import rendering
from tests.support.callback_receiver import HOST, Receiver
from tests.support.clients import logged_in

# Payers in tests are rich unless a test says otherwise (the ledger's tests set the balances
# they check): most tests pay many times from one number. Child processes inherit it.
os.environ.setdefault("WALLET_START_BALANCE", "1000000000")
settings.WALLET_START_BALANCE = Decimal(os.environ["WALLET_START_BALANCE"])


# In this process the inspector writes each MoMo call at once (no flushing thread writing
# beside a test's transaction); servers started by tests flush as in production.
settings.INSPECTOR_FLUSH_SECONDS = 0


@pytest.fixture(autouse=True)
def _fresh_caches():
    # References and versions repeat across tests that reuse a flushed database, and the
    # API's throttle counts anonymous creates in the cache.
    rendering.clear()
    cache.clear()


@pytest.fixture
async def empty_layer():
    """The in-memory channel layer is a process singleton and each test has its own event
    loop: nothing a test sent may wait for the next one."""
    await get_channel_layer().flush()
    yield
    await get_channel_layer().flush()


@pytest.fixture
def operator(db):
    return get_user_model().objects.create_user("operator", password="op-pass-123", is_staff=True)


@pytest.fixture
def staff(operator) -> Client:
    """A browser signed in as the operator (the test client: no CSRF token needed)."""
    return logged_in(operator)


@pytest.fixture
def customer(db):
    """Logged in, but not staff."""
    return get_user_model().objects.create_user("customer", password="cu-pass-123")


@pytest.fixture
def outsider_api() -> APIClient:
    return APIClient()


# --- real processes and services --------------------------------------------------------

from pathlib import Path  # noqa: E402

from tests.support import (  # noqa: E402
    CHROMIUM,
    REDIS_URL,
    DemoServer,
    missing_service,
)


@pytest.fixture
def start_demo(transactional_db, tmp_path):
    """Start the one-process demo: `start_demo(timeout=2)`; stopped after the test."""
    servers: list[DemoServer] = []

    def start(timeout: float = 2.0, *extra: str, **env: str) -> DemoServer:
        server = DemoServer(tmp_path, timeout, extra, **env)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def browser():
    """The system Chromium driven by Playwright (browser downloads are impossible here).

    Module-scoped: Playwright's sync API leaves its event loop running on this thread,
    which breaks every async test (pytest-asyncio, async_to_sync) that runs after it.
    """
    if not Path(CHROMIUM).exists():
        missing_service(f"Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop on this thread; Django's ORM (the test
    # database teardown) refuses to run beside one unless told it is safe, which it is here.
    # The flag is lifted again when the browser goes, so other modules keep the check.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()
    finally:
        playwright.stop()
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def redis_url() -> str:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except Exception as exc:
        missing_service(f"Redis at {REDIS_URL} ({type(exc).__name__})")
    return REDIS_URL


@pytest.fixture
def receiver():
    """A real HTTP receiver for MoMo callbacks on a free loopback port (tests.support.callback_receiver)."""
    server = HTTPServer(host=HOST, port=0, threaded=True)
    server.start()
    yield Receiver(server)
    server.clear()
    server.stop()


@pytest.fixture(autouse=True)
def _fresh_upstream_token():
    """The `momo` client's process-wide token must not leak from one test's fake upstream to the next."""
    from payments.providers import momo

    momo.tokens = momo.TokenCache()
    momo.disbursement_tokens = momo.TokenCache("disbursement")
