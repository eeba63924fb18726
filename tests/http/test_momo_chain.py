"""A MoMo call without a session cookie takes the lean middleware chain on the server
(dashboard/handler.py, settings.MOMO_MIDDLEWARE): its answers are the whole chain's, status,
headers (in order) and body. The whole chain answers here through Django's test client; the
lean one through the ASGI application the servers run."""

import asyncio
import threading
import uuid

import pytest
from django.core import signals
from django.test import Client
from django.test.client import RequestFactory

from dashboard.asgi import django_asgi_app
from tests.support.momo_client import RTP_BODY, SUBSCRIPTION_KEY, Answer, DjangoMomoClient, MomoClient

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _momo_settings(settings):
    settings.MOMO_SUBSCRIPTION_KEYS = [SUBSCRIPTION_KEY]


class AsgiMomoClient(MomoClient):
    """Through `django_asgi_app` (OneHopASGIHandler), as Daphne calls it."""

    def send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> Answer:
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
            "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
            "headers": [(b"host", b"testserver")] + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
            "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
        }
        messages, answered = [{"type": "http.request", "body": body or b"", "more_body": False}], []

        async def receive():
            if messages:
                return messages.pop()
            await asyncio.Event().wait()

        async def send(message):
            answered.append(message)

        asyncio.run(django_asgi_app(scope, receive, send))
        start = answered[0]
        content = b"".join(m.get("body", b"") for m in answered[1:])
        return Answer(start["status"], content, [(k.decode().lower(), v.decode()) for k, v in start["headers"]])


def whole(client: DjangoMomoClient):
    def send(method, path, body, headers):
        answer = DjangoMomoClient.send(client, method, path, body, headers)
        response_headers = [(k.lower(), v) for k, v in answer.headers.items()]
        return Answer(answer.status, answer.body, response_headers)
    return send


def test_momo_answers_are_the_same_through_the_lean_chain():
    lean = AsgiMomoClient().provision("merchant.example")
    lean.get_token()
    full = DjangoMomoClient(Client(enforce_csrf_checks=True))
    full.send = whole(full)
    full.user_id, full.api_key, full.token = lean.user_id, lean.api_key, lean.token
    reference = str(uuid.uuid4())
    calls = [
        ("GET", f"/collection/v1_0/requesttopay/{uuid.uuid4()}", {}),  # not found
        ("GET", "/collection/v1_0/nothing/here", {}),  # the gateway's 404
        ("DELETE", f"/collection/v1_0/requesttopay/{reference}", {}),  # 405
        ("GET", "/v1_0/apiuser/" + lean.user_id, {}),
        ("GET", "/collection/v1_0/account/balance", {"X_Target_Environment": "sandbox"}),
        ("GET", f"/collection/v1_0/requesttopay/{reference}", {"Authorization": "Bearer nonsense"}),
        ("GET", f"/collection/v1_0/requesttopay/{reference}", {"Ocp_Apim_Subscription_Key": "wrong"}),
    ]
    for method, path, headers in calls:
        assert lean.call(method, path, **headers).__dict__ == full.call(method, path, **headers).__dict__, path
    # Each its own reference: the same answer.
    created = [client.request_to_pay(RTP_BODY)[1].__dict__ for client in (lean, full)]
    assert created[0] == created[1] and created[0]["status"] == 202
    lean.request_to_pay(RTP_BODY, reference=reference)
    assert lean.status(reference).__dict__ == full.status(reference).__dict__
    assert lean.status(reference).status == 200


def test_only_a_sessionless_momo_call_takes_the_lean_chain():
    factory = RequestFactory()
    assert django_asgi_app.chain_for(factory.get("/collection/v1_0/requesttopay/x")) is django_asgi_app.momo
    assert django_asgi_app.chain_for(factory.post("/v1_0/apiuser")) is django_asgi_app.momo
    factory.cookies["sessionid"] = "abc"
    assert django_asgi_app.chain_for(factory.get("/collection/token/")) is django_asgi_app
    assert django_asgi_app.chain_for(RequestFactory().get("/api/payments/")) is django_asgi_app
    assert django_asgi_app.chain_for(RequestFactory().get("/collectionx/")) is django_asgi_app


def test_it_serves_a_momo_call_on_a_kept_thread_between_request_started_and_finished():
    seen = []

    def note(signal):
        def receiver(sender, **kwargs):
            seen.append((signal, sender, threading.current_thread()))
        return receiver

    started, finished = note("started"), note("finished")
    signals.request_started.connect(started)
    signals.request_finished.connect(finished)
    try:
        for _ in range(2):
            assert AsgiMomoClient().send("GET", "/collection/v1_0/nothing", None, {}).status == 404
    finally:
        signals.request_started.disconnect(started)
        signals.request_finished.disconnect(finished)
    assert [(signal, sender) for signal, sender, _ in seen] == [("started", type(django_asgi_app)), ("finished", type(django_asgi_app))] * 2
    threads = {thread for _, _, thread in seen}
    # Each call on one thread, kept for the next calls (not made for it and joined after).
    assert seen[0][2] is seen[1][2] and seen[2][2] is seen[3][2]
    assert all(thread.is_alive() and thread is not threading.current_thread() for thread in threads)
