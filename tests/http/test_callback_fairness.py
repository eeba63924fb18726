"""One hanging receiver holds at most its per-host share of the sender; every other
receiver's callbacks keep their usual latency (the sender runs in this process)."""

import asyncio
import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from pytest_httpserver import HTTPServer
from werkzeug import Response

from payments import services
from payments.callback_sender import CallbackSender
from payments.models import CallbackDelivery
from tests.support.callback_receiver import HOST, api_user, momo_payment
from tests.support import wait_for

pytestmark = pytest.mark.slow


class Hanging:
    """A receiver that answers only after the sender's timeout; counts requests in flight."""

    def __init__(self, server: HTTPServer, hold: float) -> None:
        self.server, self.hold = server, hold
        self.lock = threading.Lock()
        self.now = self.most = self.got = 0
        server.expect_request("/hang").respond_with_handler(self._handle)

    def _handle(self, request) -> Response:
        with self.lock:
            self.now += 1
            self.got += 1
            self.most = max(self.most, self.now)
        time.sleep(self.hold)
        with self.lock:
            self.now -= 1
        return Response("late", status=200)


@pytest.fixture
def hanging():
    server = HTTPServer(host=HOST, port=0, threaded=True)
    server.start()
    yield Hanging(server, hold=1.5)
    server.clear()
    server.stop()


def run_sender(sender: CallbackSender) -> tuple[threading.Thread, asyncio.Event, list]:
    loop_box: list = []
    stop, wake = asyncio.Event(), asyncio.Event()

    async def main() -> None:
        loop_box.append(asyncio.get_running_loop())
        await sender.run(stop, wake)

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    wait_for(lambda: loop_box, timeout=5, what="the sender's loop")
    return thread, stop, loop_box


def test_it_keeps_other_receivers_callbacks_on_time_while_one_receiver_hangs(transactional_db, receiver, hanging):
    services.callback_settings_update(actor="test", timeout_seconds=1, schedule="once")
    stuck = momo_payment(api_user(), f"http://{HOST}:{hanging.server.port}/hang")
    services.payment_force(payment=stuck, outcome="successful", actor="operator:alice")
    first = CallbackDelivery.objects.get(payment=stuck)
    now = timezone.now()
    CallbackDelivery.objects.bulk_create(
        CallbackDelivery(
            payment=stuck, url=first.url, method="POST", body=first.body, copy=copy, next_attempt_at=now,
            give_up_at=now + timedelta(hours=1), created_at=now, updated_at=now,
        )
        for copy in range(2, 101)
    )  # 100 callbacks to the hanging receiver, all due now
    sender = CallbackSender(worker_id="test", actor="worker:test", interval=1.0)
    thread, stop, loop = run_sender(sender)
    try:
        wait_for(lambda: hanging.got >= sender.per_host, timeout=10, what="the hanging receiver's share in flight")
        others = []
        for n in range(10):
            payment = momo_payment(api_user(), receiver.url(f"/ok/{n}"))
            services.payment_force(payment=payment, outcome="successful", actor="operator:alice")
            others.append(payment)
        wait_for(lambda: len(receiver.got) >= 10, timeout=10, what="the other receivers' callbacks")
    finally:
        loop[0].call_soon_threadsafe(stop.set)
        thread.join(timeout=10)
    finals = {f"/ok/{n}": p.refresh_from_db() or p.settled_at.timestamp() for n, p in enumerate(others)}
    lags = sorted(seen.at - finals[seen.path] for seen in receiver.got)
    print(f"other receivers' callbacks while one hangs: p50 {lags[5] * 1000:.0f} ms, max {lags[-1] * 1000:.0f} ms")
    assert lags[-1] < 1.0, lags  # the sender passes at least every 0.2 s; a hanging slot costs 1 s
    assert hanging.most <= sender.per_host == 10
