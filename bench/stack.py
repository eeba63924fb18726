"""The processes under test: Daphne, settlement workers, and the services they share.

Redis + PostgreSQL when both answer on loopback (a fresh database, dropped at the end),
else the embedded default: `manage.py demo` (Daphne + worker in one process, SQLite,
in-memory layer). Every child is started in its own session and stopped by its pid.
"""

import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
# The framework floors' paths (bench/floors.py) on the bench's Daphne.
BARE_HTTP = "/floor/bare/"  # a Django JSON view, no middleware
BARE_WS = "/ws/floor/"  # a bare Channels consumer
MINIMAL_HTTP = "/api/floor/"  # LiveSettle's own JSON 404 under /api/, all its middleware
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def wait_until(condition, *, timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll `condition` until truthy; a bench step that never happens is an error, not a hang."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def raise_open_files_limit() -> int:
    """Children inherit the limit: 10,000 sockets need more than the usual 1,024 fds."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 65536
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def redis_reachable() -> bool:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
        return True
    except Exception:
        return False


def postgres_admin():
    """An autocommit connection to the PostgreSQL admin database, or None."""
    try:
        import psycopg

        return psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=2)
    except Exception:
        return None


@dataclass
class Services:
    """Where the processes keep their state; `embedded` means SQLite + in-memory layer."""

    database_url: str
    redis_url: str | None
    embedded: bool
    _pg_admin: Any = None
    _pg_name: str | None = None
    _tmpdir: str | None = None
    channel_prefix: str = field(default_factory=lambda: f"bench-{uuid.uuid4().hex[:12]}")

    @classmethod
    def start(cls, force_embedded: bool = False) -> "Services":
        admin = None if force_embedded else postgres_admin()
        if admin is not None and redis_reachable():
            name = f"livesettle_bench_{uuid.uuid4().hex[:8]}"
            admin.execute(f'CREATE DATABASE "{name}"')
            url = f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
            return cls(database_url=url, redis_url=REDIS_URL, embedded=False, _pg_admin=admin, _pg_name=name)
        if admin is not None:
            admin.close()
        tmpdir = tempfile.mkdtemp(prefix="livesettle-bench-")
        return cls(database_url=f"sqlite:///{tmpdir}/bench.sqlite3", redis_url=None, embedded=True, _tmpdir=tmpdir)

    @property
    def database_name(self) -> str | None:
        return self._pg_name

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CHANNEL_LAYER"}}
        # Production settings (DEBUG off: no query log, no debug wrappers) over plain HTTP on
        # loopback, as behind a TLS proxy.
        env.update(PYTHONUNBUFFERED="1", DATABASE_URL=self.database_url, DEBUG="0", LOG_LEVEL="WARNING")
        env.update(SECRET_KEY="livesettle-bench-" + "x" * 40, SECURE_SSL_REDIRECT="0")
        env["DEMO_OPERATOR_PASSWORD"] = "bench-operator-pass"  # so `demo` writes no password file
        env["DJANGO_SETTINGS_MODULE"] = "dashboard.settings"
        # The MoMo phase drives a few API users flat out: their limits (and the per-address
        # create limit) stay in the path but far above what one machine can send.
        env.update(MOMO_SUBSCRIPTION_KEY="bench-momo-subscription-key", MOMO_STATUS_RATE="1000000",
                   MOMO_REQUEST_RATE="1000000", API_CREATE_RATE="1000000/s")
        # The embedded demo caps connections per client address (payments/serving.py): every
        # bench client is 127.0.0.1, so no cap (0), as behind a proxy.
        env.update(SERVER_MAX_CONNECTIONS_PER_ADDRESS="0", SERVER_MAX_WEBSOCKETS_PER_ADDRESS="0")
        # Its payers pay thousands of times from one number: rich, so the ledger's funds
        # check stays in the path but never refuses one.
        env.setdefault("WALLET_START_BALANCE", "1000000000")
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
            # Redis pub/sub ignores the database number: without a prefix of its own this
            # run would hear every other run's pushes on this Redis (and a demo's, a test's),
            # and a dashboard page would fill with their newer rows.
            env["CHANNEL_PREFIX"] = self.channel_prefix
        env.update(extra)
        return env

    def stop(self) -> None:
        if self._pg_admin is not None:
            self._pg_admin.execute(f'DROP DATABASE IF EXISTS "{self._pg_name}" WITH (FORCE)')
            self._pg_admin.close()
            self._pg_admin = None
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None


class Child:
    """One child process, its output in a log file, stopped by its own pid."""

    def __init__(self, args: list[str], *, env: dict[str, str], log: Path) -> None:
        self.args = args
        self.log = log
        self._log_file = open(log, "ab")
        self.popen = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=self._log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.ps = psutil.Process(self.popen.pid)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 15) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 20) -> None:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        self._log_file.close()


@dataclass
class Stack:
    """A server (Daphne, or the demo with its worker inside) plus worker processes."""

    services: Services
    logs: Path
    layer: str = "pubsub"
    server: Child | None = None
    workers: list[Child] = field(default_factory=list)
    extra_servers: list[Child] = field(default_factory=list)
    port: int = 0
    extra_env: dict[str, str] = field(default_factory=dict)  # for the servers started next

    def env(self) -> dict[str, str]:
        return self.services.env(CHANNEL_LAYER=self.layer, **self.extra_env)

    def start_server(self, port: int | None = None) -> Child:
        """The server, on a fresh port (or `port`: a restart in front of the same clients)."""
        self.port = port or free_port()
        self.server = self._serve(self.port)
        return self.server

    def start_extra_server(self) -> int:
        """One more Daphne process on the same database and layer (Redis only); its port."""
        port = free_port()
        self.extra_servers.append(self._serve(port))
        return port

    def _serve(self, port: int) -> Child:
        log = self.logs / f"server-{port}-{time.time_ns()}.log"
        env = self.env()
        if self.services.embedded:
            # The demo's worker is a task on Daphne's loop: in-memory layer, one process.
            # bench.settings mounts the framework floors (bench/floors.py) on its server.
            args = [sys.executable, "manage.py", "demo", "--port", str(port), "--interval", "1"]
            env["DJANGO_SETTINGS_MODULE"] = "bench.settings"
        else:
            # The server the Procfile runs: Daphne with LiveSettle's guards (payments/serving.py).
            endpoint = f"tcp:port={port}:interface=127.0.0.1:backlog=4096"
            args = [sys.executable, "-m", "payments.serving", "-v", "0", "-e", endpoint, "bench.floors:application"]
        child = Child(args, env=env, log=log)
        wait_until(lambda: port_open(port) or not child.alive(), timeout=60, what="the server to listen")
        if not child.alive():
            raise RuntimeError(f"server exited:\n{child.tail()}")
        return child

    def start_workers(self, count: int) -> list[Child]:
        """Separate worker processes (Redis only; the embedded demo has its own worker)."""
        for _ in range(count):
            log = self.logs / f"worker-{len(self.workers)}-{time.time_ns()}.log"
            args = [sys.executable, "manage.py", "auto_complete_daemon", "--interval", "1"]
            self.workers.append(Child(args, env=self.env(), log=log))
        return self.workers

    def stop_workers(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.workers = []

    def stop(self) -> None:
        self.stop_workers()
        for extra in self.extra_servers:
            extra.stop()
        self.extra_servers = []
        if self.server:
            self.server.stop()
            self.server = None


class CpuMeter:
    """CPU seconds per wall second of one process over a window (user + system)."""

    def __init__(self, process: psutil.Process) -> None:
        self.process = process
        self.start()

    def start(self) -> None:
        times = self.process.cpu_times()
        self._cpu = times.user + times.system
        self._wall = time.monotonic()
        self._machine = psutil.cpu_times()

    def read(self) -> dict[str, float]:
        times = self.process.cpu_times()
        wall = time.monotonic() - self._wall
        machine = psutil.cpu_times()
        busy = sum(machine) - machine.idle - sum(self._machine) + self._machine.idle
        return {
            "cpu_s": round(times.user + times.system - self._cpu, 4),
            "cpu_per_s": round((times.user + times.system - self._cpu) / wall, 4),
            "machine_busy_cores": round(busy / wall, 3),
            "wall_s": round(wall, 2),
        }


class RolesMeter:
    """CPU per wall second of each role (worker processes, PostgreSQL, Redis, ...) over a window.

    PostgreSQL and Redis are found by process name; a backend that starts and ends
    inside the window is missed (the pool keeps them for the whole window in practice).
    """

    def __init__(self, roles: dict[str, list[psutil.Process]]) -> None:
        self.roles = {
            **roles,
            "postgresql": _named("postgres"),
            "redis": _named("redis-server"),
        }
        self._start = self._totals()
        self._wall = time.monotonic()
        self._machine = psutil.cpu_times()

    def _totals(self) -> dict[tuple[str, int], float]:
        totals = {}
        for role, procs in self.roles.items():
            for proc in procs:
                try:
                    times = proc.cpu_times()
                except psutil.Error:
                    continue
                totals[(role, proc.pid)] = times.user + times.system
        return totals

    def read(self) -> dict[str, float]:
        end, wall = self._totals(), time.monotonic() - self._wall
        machine = psutil.cpu_times()
        per_role: dict[str, float] = {role: 0.0 for role in self.roles}
        for key, value in end.items():
            per_role[key[0]] += value - self._start.get(key, value)
        busy = sum(machine) - machine.idle - sum(self._machine) + self._machine.idle
        result = {role: round(cpu / wall, 3) for role, cpu in per_role.items()}
        result["machine_busy_cores"] = round(busy / wall, 3)
        result["wall_s"] = round(wall, 2)
        return result


def _named(name: str) -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["name"]) if p.info["name"] == name]


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": psutil.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": _versions("django", "channels", "channels-redis", "daphne", "twisted", "redis", "psycopg", "websockets", "aiohttp"),
    }


def _versions(*names: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            pass
    return found


def service_versions(services: Services) -> dict[str, str]:
    found = {"database": "SQLite", "channel_layer": "in-memory (one process)"}
    if services.embedded:
        import sqlite3

        found["database"] = f"SQLite {sqlite3.sqlite_version}"
        return found
    import psycopg
    import redis

    with psycopg.connect(services.database_url) as conn:
        found["database"] = "PostgreSQL " + conn.execute("SHOW server_version").fetchone()[0].split()[0]
    found["channel_layer"] = "Redis " + redis.Redis.from_url(services.redis_url).info()["redis_version"]
    return found
