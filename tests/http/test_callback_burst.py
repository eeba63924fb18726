"""A worker settling a burst sends every callback once, soon after its settlement, and never
more at once to one receiver than the per-destination cap (the worker runs in this process)."""

import asyncio
import threading
import time

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from payments import services
from payments.models import CallbackDelivery, Payment
from payments.worker import SettlementWorker
from tests.support.callback_receiver import HOST, api_user, momo_payment
from tests.support import wait_for

pytestmark = pytest.mark.slow

BURST = 40


class Slow:
    """A receiver that takes `hold` seconds per answer; counts requests in flight."""

    def __init__(self, server: HTTPServer, hold: float) -> None:
        self.hold = hold
        self.lock = threading.Lock()
        self.now = self.most = 0
        self.at: dict[str, list[float]] = {}
        server.expect_request("/slow").respond_with_handler(self._handle)

    def _handle(self, request) -> Response:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
            self.at.setdefault(request.get_json()["externalId"], []).append(time.time())
        time.sleep(self.hold)
        with self.lock:
            self.now -= 1
        return Response("ok", status=200)


@pytest.fixture
def slow():
    server = HTTPServer(host=HOST, port=0, threaded=True)
    server.start()
    yield Slow(server, hold=0.1), f"http://{HOST}:{server.port}/slow"
    server.clear()
    server.stop()


def run_worker(worker: SettlementWorker) -> tuple[threading.Thread, asyncio.Event, list]:
    loop_box: list = []
    stop = asyncio.Event()

    async def main() -> None:
        loop_box.append(asyncio.get_running_loop())
        await worker.run(stop)

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    wait_for(lambda: loop_box and worker.callbacks.taker(), timeout=5, what="the worker's sender")
    return thread, stop, loop_box


def test_a_burst_of_settlements_gets_each_callback_once_within_seconds_and_within_the_cap(transactional_db, slow):
    receiver, url = slow
    services.settings_update(actor="test", timeout_seconds=0.5)
    worker = SettlementWorker(seed=1, interval=0.2, worker_id="burst")
    thread, stop, loop = run_worker(worker)
    try:
        user = api_user()
        payments = [momo_payment(user, url, external_id=f"burst-{n}") for n in range(BURST)]
        wait_for(lambda: len(receiver.at) >= BURST, timeout=20, what="every callback of the burst")
        wait_for(
            lambda: CallbackDelivery.objects.filter(status=CallbackDelivery.Status.DELIVERED).count() == BURST,
            timeout=10, what="every attempt recorded",
        )
    finally:
        loop[0].call_soon_threadsafe(stop.set)
        thread.join(timeout=10)
    assert all(len(times) == 1 for times in receiver.at.values()), receiver.at  # once each
    assert receiver.most <= worker.callbacks.per_host == 10
    settled = {p.external_id: p.settled_at.timestamp() for p in Payment.objects.filter(pk__in=[p.pk for p in payments])}
    lags = sorted(receiver.at[external_id][0] - at for external_id, at in settled.items())
    # 40 answers of 0.1 s, 10 at a time, take 0.4 s; the rest is the sender's scheduling.
    assert 0 <= lags[0] and lags[-1] < 3.0, lags
    assert set(CallbackDelivery.objects.values_list("attempts", flat=True)) == {1}
