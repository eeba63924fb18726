"""Runs that share one Redis server never hear each other's pushes.

Redis pub/sub ignores the database number in REDIS_URL, so before CHANNEL_PREFIX every
process on this machine's Redis (each engineer's tests, benchmarks, demos) shared the
`dashboard` group: a benchmark's HTML dashboard filled with other runs' newer rows, its
page's 50 rows moved past its own payments, and their settlements were (rightly, for that
page) not shown. The layers here are configured by the real settings module from the
environment a benchmark's processes get (bench/stack.py); "another run" is a second
benchmark on another Redis database. (Never the default prefix: a test must not push into
whatever else runs on this Redis.)
"""

import os
import re
import runpy
import uuid
from contextlib import contextmanager
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.test import Client
from django.utils import timezone

from bench.stack import Services
from payments.events import DASHBOARD_GROUP
from payments.models import Payment
from payments.selectors import payment_snapshot
from payments.worker import SettlementWorker
from tests.support.clients import open_dashboard, receive_until
from tests.support.factories import created_apart
from tests.support import ROOT, child_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis]

FINAL_ROW = re.compile(r'id="row-([0-9a-f-]{36})"[^>]*data-status="(successful|failed)"')  # as bench/clients.py
BURST = 200  # four pages of rows, as `make bench-quick` settles
BATCH = 20


@contextmanager
def environment(env: dict[str, str]):
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def channel_layers(env: dict[str, str]) -> dict:
    """CHANNEL_LAYERS as dashboard/settings.py builds them in a process with `env`."""
    with environment({**env, "DATABASE_URL": "sqlite:///unused.sqlite3"}):
        return runpy.run_path(str(ROOT / "dashboard" / "settings.py"))["CHANNEL_LAYERS"]


def other_database(redis_url: str) -> str:
    base, _, db = redis_url.rpartition("/")
    return f"{base}/{(int(db or 0) + 1) % 16}"



def bench_run(redis_url: str) -> Services:
    return Services(database_url="sqlite:///unused", redis_url=redis_url, embedded=False)


def test_every_run_gets_a_prefix_of_its_own_shared_by_its_processes():
    url = "redis://127.0.0.1:6379/0"
    one, two = bench_run(url), bench_run(url)
    prefix = lambda env: channel_layers(env)["default"]["CONFIG"]["prefix"]  # noqa: E731
    assert prefix(one.env()) == prefix(one.env(CHANNEL_LAYER="core"))  # its server and workers agree
    runs = {prefix(one.env()), prefix(two.env()), prefix(child_env(REDIS_URL=url)), prefix({"REDIS_URL": url})}
    assert len(runs) == 4 and "asgi" in runs  # a deployment keeps channels-redis's default


def test_a_bad_prefix_is_refused_in_one_line():
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="CHANNEL_PREFIX must be"):
        channel_layers({"REDIS_URL": "redis://127.0.0.1:6379/0", "CHANNEL_PREFIX": "a b"})


async def test_a_dashboard_sees_every_settlement_of_its_burst_while_another_run_pushes_on_the_same_redis(
    redis_url, settings, operator
):
    settings.CHANNEL_LAYERS = channel_layers(bench_run(redis_url).env())  # Channels drops its cached layers
    theirs = RedisPubSubChannelLayer(**channel_layers(bench_run(other_database(redis_url)).env())["default"]["CONFIG"])
    client = Client()
    await sync_to_async(client.force_login)(operator)
    socket, ok, _ = await open_dashboard(client)
    assert ok
    await socket.receive_from(timeout=5)

    refs = await database_sync_to_async(created_apart)(BURST)
    template = await database_sync_to_async(lambda: payment_snapshot(Payment.objects.get(reference=refs[0])))()
    foreign: list[str] = []
    worker = SettlementWorker(seed=1, batch_size=BATCH)
    for _ in range(BURST // BATCH):
        for _ in range(6):  # the other run's newer payments, arriving among our settlements
            reference = str(uuid.uuid4())
            foreign.append(reference)
            newer = {**template, "reference": reference, "created_at": (timezone.now() + timedelta(seconds=1)).isoformat()}
            await theirs.group_send(DASHBOARD_GROUP, {"type": "payment.updated", "payment": newer})
        assert await database_sync_to_async(worker.handle_one)() == BATCH

    frames: list[str] = []
    seen: set[str] = set()

    def every_settlement_shown(message: str) -> bool:
        frames.append(message)
        seen.update(ref for ref, _ in FINAL_ROW.findall(message))
        return seen >= set(refs)

    try:
        await receive_until(socket, every_settlement_shown, timeout=10, what="every settlement")
    except AssertionError:
        raise AssertionError(f"{len(seen & set(refs))} of {BURST} settlements shown in 10 s") from None
    assert not any(ref in frame for frame in frames for ref in foreign)
    await socket.disconnect()
    await theirs.flush()
