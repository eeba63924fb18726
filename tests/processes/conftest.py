"""Tests of real processes: the demo server, Daphne, workers and management commands as
child processes, on the pytest database (SQLite) or on PostgreSQL, with Redis; restarts,
SIGKILLs and outages; the scale-out stack (tests/support/scaleout.py: a private Redis,
Daphne and worker processes on a fresh PostgreSQL database each, pages that reconnect)."""

import shutil
import uuid

import psycopg
import pytest

from tests.support import POSTGRES_ADMIN_URL, child_env, manage, missing_service, postgres_admin
from tests.support.scaleout import Pages, RedisServer, Stack


@pytest.fixture
def postgres_url():
    """A fresh, empty PostgreSQL database for child processes; dropped afterwards."""
    admin = postgres_admin()
    name = f"livesettle_t_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture
def private_redis(tmp_path):
    if not shutil.which("redis-server") or not shutil.which("redis-cli"):
        missing_service("redis-server and redis-cli (to run a private Redis)")
    server = RedisServer(tmp_path)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def migrated_template():
    """One migrated PostgreSQL database per test session, copied for each test (0.3 s
    instead of a 5 s migrate)."""
    admin = postgres_admin()
    name = f"livesettle_tmpl_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    try:
        manage("migrate", "--noinput", env=child_env(DATABASE_URL=url), timeout=120)
        yield name
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def pg_database(migrated_template):
    """A fresh, migrated PostgreSQL database for the test's processes; dropped afterwards."""
    name = f"livesettle_t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{migrated_template}"')
    yield f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def stack_factory(tmp_path):
    stacks: list[Stack] = []

    def make(database_url: str, redis_url: str, check_url: str | None = None, **env: str) -> Stack:
        stack = Stack(tmp_path, database_url, redis_url, check_url, **env)
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.stop()


@pytest.fixture
def pages():
    pages = Pages()
    yield pages
    pages.close()
