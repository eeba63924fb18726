"""Helpers for tests that run the real processes: ports, deadlines, subprocesses, services."""

import asyncio
import inspect
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from bench.stack import free_port, wait_until  # noqa: F401 - free_port is the tests' too

ROOT = Path(__file__).resolve().parents[2]
REQUIRE_SERVICES = os.environ.get("CI", "").lower() == "true" or os.environ.get("REQUIRE_SERVICES") == "1"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
# Redis pub/sub ignores the database number: this run's processes name their groups and
# channels with a prefix of their own, so they never hear another run's pushes (nor it theirs).
CHANNEL_PREFIX = f"test-{uuid.uuid4().hex[:12]}"


def missing_service(what: str) -> None:
    """Skip with a reason locally; fail in CI (CI=true or REQUIRE_SERVICES=1)."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} is required here (CI=true or REQUIRE_SERVICES=1) but is not available")
    pytest.skip(f"{what} is not available; start it to run this test")


def postgres_admin():
    """An autocommit connection to the PostgreSQL server as its admin, or skip/fail as missing."""
    import psycopg

    try:
        return psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=2)
    except Exception as exc:
        missing_service(f"PostgreSQL at {POSTGRES_ADMIN_URL} ({type(exc).__name__})")


def wait_for(condition: Callable[[], Any], *, timeout: float, interval: float = 0.05, what: str = "condition") -> Any:
    """Poll `condition` until it returns something truthy (returned) or `timeout` seconds
    pass: then the test fails (the bench's `wait_until`, failing as an assertion)."""
    try:
        return wait_until(condition, timeout=timeout, interval=interval, what=what)
    except TimeoutError as exc:
        raise AssertionError(str(exc)) from None


async def async_wait_for(
    condition: Callable[[], Any], *, timeout: float, interval: float = 0.05, what: str = "condition"
) -> Any:
    """The async `wait_for`: `condition` may be a coroutine function, and may itself wait (a
    receive: pass interval=0); the whole wait, a pending receive included, ends at `timeout`."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                result = condition()
                if inspect.isawaitable(result):
                    result = await result
                if result:
                    return result
                await asyncio.sleep(interval)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout} s waiting for {what}") from None


def http_json(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """One HTTP call with a JSON body; returns the status and the JSON (or text) answer."""
    data = json.dumps(body).encode() if body is not None else (b"" if method in ("POST", "PUT") else None)
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def child_env(**overrides: str | None) -> dict[str, str]:
    """The environment for a child Django process: no inherited service URLs unless given."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env["PYTHONUNBUFFERED"] = "1"
    env["CHANNEL_PREFIX"] = CHANNEL_PREFIX
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def manage(*args: str, env: dict[str, str], timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"manage.py {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result


def django_script(code: str, *, env: dict[str, str], timeout: float = 120) -> str:
    """Run Python `code` in a child process with Django set up; returns its stdout."""
    prelude = "import os, django; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'dashboard.settings'); django.setup()\n"
    result = subprocess.run(
        [sys.executable, "-c", prelude + code],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )
    if result.returncode != 0:
        raise AssertionError(f"script failed ({result.returncode}):\n{result.stderr}")
    return result.stdout


class Process:
    """A child process (a server, a worker) that is always stopped at the end of a test."""

    def __init__(self, *args: str, env: dict[str, str], log: Path | None = None, argv: list[str] | None = None) -> None:
        self.args = args
        self.log_path = log
        self._log = open(log, "ab") if log else subprocess.DEVNULL
        self.popen = subprocess.Popen(
            argv or [sys.executable, *args], cwd=ROOT, env=env,
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def _signal_group(self, sig: int) -> None:
        # The child leads its own session, so this reaches anything it started (make → python).
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        self._signal_group(signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.alive():
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.popen.wait(timeout=10)
        if self._log is not subprocess.DEVNULL:
            self._log.close()
        return self.popen.returncode


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


class ServerProcess:
    """A server child process on its own port, which a test can stop and start again."""

    def __init__(self, *args: str, env: dict[str, str], log: Path, port: int) -> None:
        self.args = args
        self.env = env
        self.log = log
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}"
        self.process: Process | None = None

    def start(self) -> None:
        self.process = Process(*self.args, env=self.env, log=self.log)
        wait_for(lambda: port_open(self.port) or not self.process.alive(), timeout=30, what=f"the server on {self.port}")
        assert self.process.alive(), f"{' '.join(self.args)} died:\n{self.process.output()}"

    def stop(self) -> None:
        if self.process:
            self.process.stop()

    def restart(self) -> None:
        self.stop()
        wait_for(lambda: not port_open(self.port), timeout=10, what="the port to close")
        self.start()


def sqlite_url_of_test_db() -> str:
    """The pytest database as a URL, so child processes work on the same rows."""
    name = connection.settings_dict["NAME"]
    assert connection.vendor == "sqlite" and name != ":memory:", "child processes need a file database"
    return f"sqlite:///{name}"


class DemoServer(ServerProcess):
    """`manage.py demo` (Daphne + worker, in-memory layer) on the pytest database."""

    def __init__(self, tmp_path: Path, timeout: float, extra: tuple[str, ...] = (), **env: str) -> None:
        port = free_port()
        super().__init__(
            "manage.py", "demo", "--port", str(port), "--timeout", str(timeout), "--interval", "1", *extra,
            env=child_env(DATABASE_URL=sqlite_url_of_test_db(), DEMO_OPERATOR_PASSWORD="op-pass-123", **env),
            log=tmp_path / f"demo-{port}.log",
            port=port,
        )
        self.start()
