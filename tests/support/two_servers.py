"""Two Daphne processes (as deploy/ runs them: --proxy-headers) sharing one Redis, and a
cookie-keeping HTTP client that submits forms with their CSRF token as a browser does."""

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

from tests.support import ServerProcess, child_env, free_port

FORM = {"item": "Canopy walk", "guests": "2", "amount": "12.50", "currency": "EUR", "phone_number": "46733123499"}


def two_daphnes(tmp_path: Path, redis_url: str, **env: str) -> list[ServerProcess]:
    """Both on the pytest database (needs transactional_db); stop them with stop_all()."""
    from tests.support import sqlite_url_of_test_db

    environment = child_env(
        DATABASE_URL=sqlite_url_of_test_db(), REDIS_URL=redis_url,
        # Each run its own cache keys: counts left by an earlier run must not matter.
        CACHE_KEY_PREFIX=f"t{uuid.uuid4().hex[:8]}",
        # --proxy-headers makes a spoofed first X-Forwarded-For entry the peer address, which
        # the DEBUG guard answers with its 403: these tests are about limits, not that guard.
        ALLOW_DEBUG_ON_NETWORK="1",
        **env,
    )
    servers = []
    try:
        for name in ("web1", "web2"):
            port = free_port()
            server = ServerProcess(
                "-m", "daphne", "--proxy-headers", "-e", f"tcp:port={port}:interface=127.0.0.1",
                "dashboard.asgi:application", env=environment, log=tmp_path / f"{name}.log", port=port,
            )
            servers.append(server)
            server.start()
    except BaseException:
        stop_all(servers)
        raise
    return servers


def stop_all(servers: list[ServerProcess]) -> None:
    for server in servers:
        server.stop()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    def __init__(self) -> None:
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect()
        )

    def send(self, url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, str]:
        request = urllib.request.Request(url, data=data, headers=headers or {})
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def submit(self, url: str, fields: dict[str, str], headers: dict[str, str] | None = None) -> tuple[int, str]:
        """GET the form's page, then POST `fields` with its CSRF token."""
        _, page = self.send(url)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        body = urllib.parse.urlencode({**fields, "csrfmiddlewaretoken": token}).encode()
        return self.send(url, body, {**(headers or {}), "Referer": url})
