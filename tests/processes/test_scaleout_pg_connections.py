"""PostgreSQL connections stay bounded under sockets and pushes, and survive being killed.

Under ASGI every in-flight request and socket handshake runs in a thread of its own with
its own connection, so without a bound the count follows the burst. Each process keeps a
psycopg pool (`DB_POOL_MAX_SIZE`, default 8 for a server, 1 for a worker or any other
command, which has one ORM thread). Without the pool, 200 concurrent status polls made two Daphne processes hold 84. Killing every app connection (`pg_terminate_backend`) mid-run costs nothing
visible: the pool checks a connection before lending it and the worker retries its pass.
"""

import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.scaleout import TEST_CONNECTION, assert_each_settled_exactly_once, create_due_backlog, processing_count, wait_until_all_show_the_truth
from tests.support import wait_for

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]

SERVERS, WORKERS, POOL = 2, 1, 8
# A Daphne process holds at most its pool; a worker one, lent to its ORM thread.
LIMIT = SERVERS * POOL + WORKERS * 1
APP = "datname = %s AND application_name <> 'scaleout-test'"  # not the test's own queries


class ConnectionSampler:
    """The app's connections to its database in pg_stat_activity, sampled every 20 ms."""

    def __init__(self, stack) -> None:
        self.stack = stack
        self.name = stack.database_url.rsplit("/", 1)[1]
        self.peak = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def count(self) -> int:
        return self.stack.sql(f"SELECT count(*) FROM pg_stat_activity WHERE {APP}", self.name)[0][0]

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(self.stack.database_url, autocommit=True, application_name=TEST_CONNECTION) as conn:
            while not self.stopping.wait(0.02):
                n = conn.execute(f"SELECT count(*) FROM pg_stat_activity WHERE {APP}", (self.name,)).fetchone()[0]
                self.peak = max(self.peak, n)

    def terminate_all(self) -> int:
        return len(self.stack.sql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE {APP}", self.name))

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)


def poll_burst(urls: list[str]) -> set[int]:
    def get(url: str) -> int:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status

    with ThreadPoolExecutor(max_workers=200) as pool:
        return set(pool.map(get, urls))


def test_it_keeps_postgres_connections_bounded_and_survives_them_all_being_killed(
    pg_database, private_redis, stack_factory, pages
):
    stack = stack_factory(pg_database, private_redis.url)  # the default pool sizes
    servers = [stack.server(f"daphne-{i}") for i in range(SERVERS)]
    session = stack.operator_session()
    references = create_due_backlog(stack, 1000, due_in=8, spread=4)
    sampler = ConnectionSampler(stack)
    try:
        workers = [stack.worker(f"worker-{i}") for i in range(WORKERS)]
        watched = references[::5]  # 200 sockets, half on each server
        checkouts = [pages.checkout(servers[i % SERVERS], ref) for i, ref in enumerate(watched)]
        dashboards = [pages.dashboard(server, session) for server in servers]
        pages.wait_open(timeout=30)
        # Pages whose socket cannot connect poll their status: 400 polls, 200 at a time.
        polled = poll_burst([f"{servers[i % SERVERS].base_url}/pay/{ref}/status/" for i, ref in enumerate(watched * 2)])
        assert polled == {200}, polled

        # Mid-run: half of the burst settled, then every app connection is killed.
        wait_for(lambda: processing_count(stack) <= 500, timeout=30, interval=0.1, what="half the burst to settle")
        killed = sampler.terminate_all()
        assert killed >= 1

        wait_for(lambda: processing_count(stack) == 0, timeout=30, interval=0.25, what="the rest to settle")
        assert_each_settled_exactly_once(stack, 1000)
        watching = {**dict(zip(checkouts, ([ref] for ref in watched))), **{d: [] for d in dashboards}}
        wait_until_all_show_the_truth(stack, watching, timeout=15)
        pushes = sum(c.messages for c in pages.clients)

        # Nothing broken after it: new pages, the API and /healthz work on both servers.
        for server in servers:
            assert server.get("/healthz") == (200, {"database": "ok", "channel_layer": "ok", "worker": "ok"})
            reference = server.create_payment()["reference"]
            late = pages.checkout(server, reference)
            wait_for(lambda: late.shown.get(reference) == ("processing", 1), timeout=10, what="a new page's snapshot")
        assert all(worker.alive() for worker in workers)
    finally:
        sampler.stop()
    after = sampler.count()
    by_process = stack.sql(f"SELECT application_name, count(*) FROM pg_stat_activity WHERE {APP} GROUP BY 1", sampler.name)
    print(f"after the run: {dict(by_process)}")
    print(f"peak {sampler.peak} app connections (limit {LIMIT}); {killed} killed mid-run; {after} after; {pushes} pushes")
    assert sampler.peak <= LIMIT
