"""A real HTTP receiver for MoMo callbacks (pytest-httpserver, threaded) and MoMo payments.

`Receiver.answer` decides each response (default 200), so a test can fail the first
attempts, hang, or recover; `Receiver.got` is every request as the receiver saw it.
"""

import asyncio
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import aiohttp
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from payments import callbacks, services
from payments.callback_sender import send_one
from payments.models import MomoApiUser, Payment

HOST = "127.0.0.1"


@dataclass
class Received:
    at: float  # time.time()
    method: str
    path: str
    headers: dict[str, str]
    raw: bytes
    body: Any = field(init=False)

    def __post_init__(self) -> None:
        try:
            self.body = json.loads(self.raw or b"null")
        except ValueError:
            self.body = None


class Receiver:
    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.got: list[Received] = []
        self.lock = threading.Lock()
        self.answer: Callable[[Received, int], Response] = lambda request, n: Response("ok", status=200)
        server.expect_request(re.compile(".*")).respond_with_handler(self._handle)

    def url(self, path: str = "/momo/callback") -> str:
        return f"http://{HOST}:{self.server.port}{path}"

    def _handle(self, request: Request) -> Response:
        seen = Received(time.time(), request.method, request.path, dict(request.headers), request.get_data())
        with self.lock:
            self.got.append(seen)
            count = len(self.got)
        return self.answer(seen, count)

    def by_external_id(self) -> dict[str, list[Received]]:
        grouped: dict[str, list[Received]] = {}
        for seen in list(self.got):
            grouped.setdefault((seen.body or {}).get("externalId"), []).append(seen)
        return grouped


def api_user(host: str = HOST) -> MomoApiUser:
    return MomoApiUser.objects.create(id=uuid.uuid4(), provider_callback_host=host)


def momo_payment(user: MomoApiUser, callback_url: str, *, phone: str = "46733123499", external_id: str = "") -> Payment:
    """A request to pay with X-Callback-Url, as the MoMo API records it."""
    return services.payment_create(
        amount=Decimal("25"), currency="EUR", phone_number=phone, external_id=external_id,
        actor=f"momo:{user.pk}", momo_user=user, callback_url=callback_url,
    )


def send_callback_of(payment: Payment) -> None:
    """What the worker does with the payment's outbox row: one real HTTP attempt."""
    services.payment_force(payment=payment, outcome="successful", actor="operator:alice")
    [delivery] = services.callback_claim(claimer="test", limit=10)
    config = callbacks.effective(payment.momo_user_id)

    async def send() -> dict:
        async with aiohttp.ClientSession() as client:
            return await send_one(client, delivery, config)

    result = asyncio.run(send())
    services.callback_record(results=[result], actor="worker:test")
