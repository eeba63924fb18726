"""The scale-out tests' world: a private Redis, Daphne and worker processes on PostgreSQL,
and WebSocket clients that behave like the pages (they reconnect after any close).

Each test gets its own Redis server (on a free port) so restarting it disturbs nobody and
no other test's pushes reach its dashboards; PostgreSQL is the shared server with a fresh
database per test (the `pg_database` fixture, tests/processes/conftest.py).
"""

import asyncio
import json
import random
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import psycopg
from websockets.asyncio.client import connect

from tests.support import (
    Process,
    ServerProcess,
    child_env,
    django_script,
    free_port,
    http_json,
    port_open,
    wait_for,
)

OPERATOR_PASSWORD = "op-pass-123"
TEST_CONNECTION = "scaleout-test"  # application_name of the test's own PostgreSQL connections


class RedisServer:
    """A redis-server of our own, so a test may shut it down (NOSAVE) and start it again."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.popen: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        log = open(self.workdir / f"redis-{self.port}.log", "ab")
        self.popen = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        wait_for(lambda: port_open(self.port), timeout=10, what=f"redis-server on {self.port}")

    def shutdown_nosave(self) -> None:
        subprocess.run(["redis-cli", "-p", str(self.port), "shutdown", "nosave"], capture_output=True, timeout=10)
        self.popen.wait(timeout=10)

    def stop(self) -> None:
        if self.popen and self.popen.poll() is None:
            self.popen.terminate()
            self.popen.wait(timeout=10)


class TcpProxy:
    """A TCP forwarder a test can cut (every connection dropped, new ones refused) and restore:
    an outage of the service behind it, as the app sees it, without stopping the real one."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.port = free_port()
        self.target = (target_host, target_port)
        self.sockets: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.up = threading.Event()
        self.restore()

    def restore(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port))
        listener.settimeout(0.1)
        self.up.set()
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        self.up.clear()
        wait_for(lambda: not port_open(self.port), timeout=5, what="the proxy to stop listening")
        with self.lock:
            for sock in self.sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        with listener:
            while self.up.is_set():
                try:
                    client, _ = listener.accept()
                except TimeoutError:
                    continue
                try:
                    upstream = socket.create_connection(self.target, timeout=5)
                except OSError:
                    client.close()
                    continue
                upstream.settimeout(None)
                client.settimeout(None)
                with self.lock:
                    self.sockets |= {client, upstream}
                for src, dst in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()


class Server(ServerProcess):
    """One Daphne process, as production runs it (listen backlog raised)."""

    def __init__(self, env: dict[str, str], log_dir: Path, name: str) -> None:
        port = free_port()
        endpoint = f"tcp:port={port}:interface=127.0.0.1:backlog=4096"
        super().__init__("-m", "daphne", "-e", endpoint, "dashboard.asgi:application", env=env, log=log_dir / f"{name}.log", port=port)
        self.start()

    def request(self, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        """GET (or POST `body` as JSON); returns the status and the JSON (or text) answer."""
        return http_json("GET" if body is None else "POST", self.base_url + path, body)

    def get(self, path: str) -> tuple[int, Any]:
        return self.request(path)

    def create_payment(self, phone: str = "46733123499") -> dict[str, Any]:
        status, payment = self.request(
            "/api/payments/", {"amount": "12.50", "currency": "EUR", "phone_number": phone}
        )
        assert status == 201, (status, payment)
        return payment


class Stack:
    """Daphne and worker processes sharing one PostgreSQL database and one Redis."""

    def __init__(self, tmp_path: Path, database_url: str, redis_url: str, check_url: str | None = None, **env: str) -> None:
        self.tmp_path = tmp_path
        self.database_url = check_url or database_url  # the test's own queries (past any proxy)
        self.env = child_env(
            DATABASE_URL=database_url, REDIS_URL=redis_url, DEMO_OPERATOR_PASSWORD=OPERATOR_PASSWORD,
            API_CREATE_RATE="100000/min", **env,
        )
        self.processes: list[Process | Server] = []

    def server(self, name: str) -> Server:
        server = Server(self.env, self.tmp_path, name)
        self.processes.append(server)
        return server

    def worker(self, name: str, *flags: str) -> Process:
        args = ("manage.py", "auto_complete_daemon", "--interval", "1", *flags)
        worker = Process(*args, env=self.env, log=self.tmp_path / f"{name}.log")
        self.processes.append(worker)
        return worker

    def settle_after(self, seconds: float) -> None:
        """The live timeout for payments created from now on (what the dashboard sets)."""
        self.script(f"from payments.services import settings_update; settings_update(actor='test', timeout_seconds={seconds})")

    def script(self, code: str, **env: str) -> str:
        return django_script(code, env={**self.env, **env})

    def operator_session(self) -> str:
        """A logged-in staff session id, as the browser would hold after /accounts/login/."""
        self.script("from payments.services import operator_ensure; operator_ensure()")
        return self.session_of("operator")

    def session_of(self, username: str) -> str:
        """A logged-in session id of an existing user, as its browser would hold."""
        return self.script(
            "from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model\n"
            "from django.contrib.sessions.backends.db import SessionStore\n"
            f"user = get_user_model().objects.get(username={username!r})\n"
            "session = SessionStore()\n"
            "session[SESSION_KEY] = str(user.pk)\n"
            "session[BACKEND_SESSION_KEY] = 'django.contrib.auth.backends.ModelBackend'\n"
            "session[HASH_SESSION_KEY] = user.get_session_auth_hash()\n"
            "session.create()\n"
            "print(session.session_key)\n"
        ).strip()

    def sql(self, query: str, *params: Any) -> list[tuple]:
        with psycopg.connect(self.database_url, autocommit=True, application_name=TEST_CONNECTION) as conn:
            return conn.execute(query, params).fetchall()

    def truth(self) -> dict[str, tuple[str, int]]:
        """reference -> (status, version), straight from the database."""
        return {ref: (status, version) for ref, status, version in self.sql(
            "SELECT reference::text, status, version FROM payments_payment"
        )}

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()


# --- clients that behave like the pages ---------------------------------------------------


class PageClient:
    """A WebSocket like livesettle.js keeps: reconnects 0.5-2 s after any close.

    `shown` is what the page displays: reference -> (status, version), newest version wins.
    """

    def __init__(self, url: str, origin: str, cookie: str | None = None) -> None:
        self.url = url
        self.headers = {"Origin": origin}
        if cookie:
            self.headers["Cookie"] = cookie
        self.shown: dict[str, tuple[str, int]] = {}
        self.received_at: dict[str, float] = {}  # reference -> time.time() its shown version arrived
        self.connects = 0
        self.messages = 0
        self.closes = 0
        self.open = False

    async def run(self) -> None:
        while True:
            try:
                async with connect(self.url, additional_headers=self.headers, open_timeout=10) as socket:
                    self.connects += 1
                    self.open = True
                    async for message in socket:
                        self.messages += 1
                        self.take(json.loads(message))
            except asyncio.CancelledError:
                raise
            except Exception:
                pass  # refused or dropped: reconnect like the page does
            self.open = False
            self.closes += 1
            await asyncio.sleep(0.5 + random.random() * 1.5)

    def take(self, message: dict[str, Any]) -> None:
        payments = message.get("payments", []) if message["type"] == "snapshot" else []
        if message["type"] == "payment":
            payments = [message["payment"]]
        for payment in payments:
            known = self.shown.get(payment["reference"])
            if known is None or payment["version"] > known[1]:
                self.shown[payment["reference"]] = (payment["status"], payment["version"])
                self.received_at[payment["reference"]] = time.time()


class Pages:
    """Page clients on an event loop of their own thread, so tests stay synchronous."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.clients: list[PageClient] = []

    def checkout(self, server: Server, reference: str) -> PageClient:
        return self._add(PageClient(f"{server.ws_url}/ws/payments/{reference}/?format=json", server.base_url))

    def dashboard(self, server: Server, session: str) -> PageClient:
        return self._add(
            PageClient(f"{server.ws_url}/ws/dashboard/?format=json", server.base_url, cookie=f"sessionid={session}")
        )

    def _add(self, client: PageClient) -> PageClient:
        self.clients.append(client)
        asyncio.run_coroutine_threadsafe(client.run(), self.loop)
        return client

    def wait_open(self, timeout: float = 20) -> None:
        wait_for(lambda: all(c.open for c in self.clients), timeout=timeout, what="every page to connect")

    def close(self) -> None:
        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(cancel_all(), self.loop).result(timeout=20)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


def stale(client: PageClient, truth: dict[str, tuple[str, int]], references: list[str]) -> list[str]:
    """The references `client` shows differently from the database."""
    return [ref for ref in references if client.shown.get(ref) != truth[ref]]


def wait_until_all_show_the_truth(stack: Stack, clients: dict[PageClient, list[str]], *, timeout: float) -> float:
    """Wait until every client shows the database's state of its references; returns seconds taken."""
    started = time.monotonic()

    def converged() -> bool:
        truth = stack.truth()
        return all(not stale(client, truth, refs) for client, refs in clients.items())

    try:
        wait_for(converged, timeout=timeout, interval=0.25, what="every page to show the database's state")
    except AssertionError:
        truth = stack.truth()
        behind = {i: stale(c, truth, refs)[:3] for i, (c, refs) in enumerate(clients.items()) if stale(c, truth, refs)}
        raise AssertionError(f"pages still stale after {timeout} s (client index: first stale refs): {behind}") from None
    return time.monotonic() - started


# --- settlement checks, straight from PostgreSQL ------------------------------------------

FINAL_EVENTS = ("settled", "expired", "forced")


def processing_count(stack: Stack) -> int:
    return stack.sql("SELECT count(*) FROM payments_payment WHERE status = 'processing'")[0][0]


def assert_each_settled_exactly_once(stack: Stack, expected: int) -> None:
    """Every payment final, at version 2, with exactly one final log row."""
    rows = stack.sql(
        "SELECT p.status, p.version, count(l.id) FILTER (WHERE l.event = ANY(%s))"
        " FROM payments_payment p LEFT JOIN payments_paymentlog l ON l.payment_id = p.id GROUP BY p.id",
        list(FINAL_EVENTS),
    )
    assert len(rows) == expected
    assert {status for status, _, _ in rows} <= {"successful", "failed"}
    assert {version for _, version, _ in rows} == {2}
    assert {finals for _, _, finals in rows} == {1}, "some payment was settled twice, or not logged"


def create_due_backlog(stack: Stack, count: int, *, due_in: float = -1.0, spread: float = 0.0) -> list[str]:
    """Setup only (the service path is tested elsewhere): `count` payments due from
    `due_in` seconds on, evenly over `spread` seconds; returns their references."""
    return stack.script(
        "from datetime import timedelta\n"
        "from decimal import Decimal\n"
        "from django.utils import timezone\n"
        "from payments.models import Payment\n"
        "now = timezone.now()\n"
        f"count, due_in, spread = {count}, {due_in}, {spread}\n"
        "rows = [Payment(amount=Decimal('10'), currency='EUR', phone_number='46733123499', created_at=now,\n"
        "                updated_at=now, settle_at=now + timedelta(seconds=due_in + spread * i / count))\n"
        "        for i in range(count)]\n"
        "for payment in Payment.objects.bulk_create(rows, batch_size=1000):\n"
        "    print(payment.reference)\n"
    ).split()


def settled_by(stack: Stack) -> dict[str, int]:
    """actor -> how many payments it settled."""
    return dict(stack.sql("SELECT actor, count(*) FROM payments_paymentlog WHERE event = 'settled' GROUP BY actor"))


def post_as_operator(server, session: str, path: str) -> tuple[int, str]:
    """POST `path` to a server as the signed-in browser does it (its session and the CSRF
    token); the answer's status and body, a redirect not followed."""
    with urllib.request.urlopen(server.base_url + "/accounts/login/", timeout=10) as page:
        cookie = SimpleCookie(page.headers.get("Set-Cookie"))
    token = cookie["csrftoken"].value
    request = urllib.request.Request(
        server.base_url + path, data=b"", method="POST",
        headers={"Cookie": f"sessionid={session}; csrftoken={token}", "X-CSRFToken": token},
    )

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
