"""Callback destinations are the operator's policy: checked on the address resolved at send
time, connected to exactly that address, refusals visible on the payment's timeline.

The sender runs in this process with a simulated resolver (no real DNS), and every
connection the HTTP client opens is recorded (and any beyond loopback stopped), so "not a
single connection" is a fact the test sees, not a guess."""

import asyncio
import logging

import aiohttp
import pytest

from payments import services
from payments.callback_sender import CallbackSender
from payments.models import CallbackDelivery, PaymentLog
from tests.support.callback_receiver import api_user, momo_payment

FAILED, PENDING, DELIVERED = (CallbackDelivery.Status.FAILED, CallbackDelivery.Status.PENDING, CallbackDelivery.Status.DELIVERED)


class Resolver:
    """The simulated DNS: a name's answers in turn (the last one repeats); lookups counted."""

    def __init__(self, names: dict[str, list[str]]) -> None:
        self.names = names
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[tuple[str, int]]:
        self.asked.append(host)
        answers = self.names.get(host.rstrip(".").lower())
        if answers is None:
            raise OSError(f"simulated resolver: no such name {host}")
        answer = answers[min(self.asked.count(host) - 1, len(answers) - 1)]
        return [(answer, 10 if ":" in answer else 2)]


@pytest.fixture
def connections(monkeypatch):
    """Every address the HTTP client tries to connect to; nothing beyond loopback is dialled."""
    tried: list[str] = []
    original = aiohttp.TCPConnector._wrap_create_connection

    async def spy(self, *args, addr_infos, **kwargs):
        addresses = [info[4][0] for info in addr_infos]
        tried.extend(addresses)
        if not all(a.startswith("127.") or a == "::1" for a in addresses):
            raise aiohttp.ClientConnectionError(f"test guard: not dialling {addresses}")
        return await original(self, *args, addr_infos=addr_infos, **kwargs)

    monkeypatch.setattr(aiohttp.TCPConnector, "_wrap_create_connection", spy)
    return tried


def send_due(resolver: Resolver) -> None:
    """One pass of the sender: claim what is due, send it, record the attempts."""
    sender = CallbackSender(worker_id="test", actor="worker:test", lookup=resolver)
    claimed, _ = sender.handle_one([], 50)

    async def send() -> list[dict]:
        from payments.callback_sender import send_one

        try:
            return await asyncio.gather(*(send_one(sender.session_for(c), d, c) for d, c in claimed))
        finally:
            await sender._stop()

    sender.handle_one(asyncio.run(send()), 0)


def callback_to(host: str, url: str):
    payment = momo_payment(api_user(host=host), url)
    services.payment_force(payment=payment, outcome="successful", actor="operator:alice")
    return payment


def test_it_refuses_every_probe_form_without_a_connection_and_says_so_on_the_timeline(
    transactional_db, receiver, connections, client, operator, caplog
):
    services.callback_settings_update(actor="operator:alice", destinations="public")
    port = receiver.server.port
    resolver = Resolver({
        "receiver.test": ["127.0.0.1"], "localhost": ["127.0.0.1"], "router.test": ["192.168.1.1"],
        "rebind.test": ["8.8.8.8", "169.254.169.254"],  # public at a check, metadata at a connect
    })
    probes = {
        "169.254.169.254": (f"http://169.254.169.254:{port}/latest/meta-data", FAILED, "link-local"),
        "metadata.google.internal": ("http://metadata.google.internal/computeMetadata/v1/", FAILED, "metadata service name"),
        "0x7f000001": (f"http://0x7f000001:{port}/cb", FAILED, "not a canonical IP address"),
        "0.0.0.0": (f"http://0.0.0.0:{port}/cb", FAILED, "unspecified"),
        "::ffff:127.0.0.1": (f"http://[::ffff:127.0.0.1]:{port}/cb", PENDING, "loopback address"),
        "localhost.": (f"http://localhost.:{port}/cb", PENDING, "loopback address"),
        "receiver.test": (f"http://receiver.test:{port}/cb", PENDING, "loopback address"),
        "10.0.0.1": ("http://10.0.0.1/cb", PENDING, "private address"),
        "router.test": ("http://router.test/cb", PENDING, "private address"),
        "127.0.0.1": (f"http://user:secret@127.0.0.1:{port}/cb", FAILED, "user name or password"),
    }
    payments = {host: callback_to(host, url) for host, (url, _, _) in probes.items()}
    with caplog.at_level(logging.WARNING, logger="payments.callbacks"):
        send_due(resolver)

    assert connections == [] and receiver.got == []
    for host, (url, status, words) in probes.items():
        delivery = CallbackDelivery.objects.get(payment=payments[host])
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == (status, 1, None), host
        assert delivery.last_error.startswith("refused:") and words in delivery.last_error, (host, delivery.last_error)
    assert len([r for r in caplog.records if "not sent: refused" in r.getMessage()]) == len(probes)
    client.force_login(operator)
    page = client.get(f"/dashboard/payments/{payments['169.254.169.254'].reference}/").content.decode()
    assert "Callback attempt" in page and "link-local" in page


def test_it_connects_to_the_address_it_checked_and_an_allowed_loopback_receiver_gets_its_callback(
    transactional_db, receiver, connections
):
    port = receiver.server.port  # the default policy: loopback, while this server is loopback-only
    resolver = Resolver({
        "receiver.test": ["127.0.0.1"],
        "rebind.test": ["127.0.0.1", "169.254.169.254"],  # allowed when checked, metadata afterwards
        "flip.test": ["169.254.169.254", "127.0.0.1"],
    })
    plain = callback_to("127.0.0.1", receiver.url("/plain"))
    named = callback_to("receiver.test", f"http://receiver.test:{port}/named")
    rebind = callback_to("rebind.test", f"http://rebind.test:{port}/rebind")
    flip = callback_to("flip.test", f"http://flip.test:{port}/flip")
    lan = callback_to("10.0.0.1", "http://10.0.0.1/lan")
    send_due(resolver)

    assert sorted(r.path for r in receiver.got) == ["/named", "/plain", "/rebind"]
    assert resolver.asked.count("rebind.test") == 1  # one lookup: the one checked is the one dialled
    assert set(connections) == {"127.0.0.1"}
    for payment in (plain, named, rebind):
        assert CallbackDelivery.objects.get(payment=payment).status == DELIVERED
    assert "link-local" in CallbackDelivery.objects.get(payment=flip).last_error
    assert CallbackDelivery.objects.get(payment=flip).status == FAILED
    assert "private address" in CallbackDelivery.objects.get(payment=lan).last_error

    # The operator allows the LAN in one step: the next attempt is not refused by the policy.
    services.callback_settings_update(actor="operator:alice", destinations="private")
    CallbackDelivery.objects.filter(payment=lan).update(next_attempt_at=CallbackDelivery.objects.get(payment=lan).created_at)
    send_due(resolver)
    assert connections[-1] == "10.0.0.1"  # dialled (the test guard stops it there)
    last = PaymentLog.objects.filter(payment=lan, event=PaymentLog.Event.CALLBACK).latest("id")
    assert "refused" not in last.details["error"] and "test guard" in last.details["error"]


def test_it_lets_the_operator_set_the_policy_from_the_dashboard(transactional_db, client, operator):
    from payments import callbacks

    client.force_login(operator)
    answer = client.post("/dashboard/callbacks/settings/", {"name": "destinations", "value": "private"})
    assert answer.status_code == 200 and callbacks.effective()["destinations"] == "private"
    refused = client.post("/dashboard/callbacks/settings/", {"name": "destinations", "value": "anywhere"})
    assert refused.status_code == 422 and callbacks.effective()["destinations"] == "private"


def test_it_refuses_never_allowed_hosts_and_userinfo_on_the_wire_and_writes_nothing(db, settings):
    import uuid

    from django.test import Client

    from payments.models import MomoApiUser, Payment
    from tests.support.momo_client import SUBSCRIPTION_KEY, DjangoMomoClient

    settings.MOMO_SUBSCRIPTION_KEYS = [SUBSCRIPTION_KEY]
    momo = DjangoMomoClient(Client())
    for host in ("169.254.169.254", "metadata.google.internal", "0x7f000001", "0.0.0.0", "[fe80::1]", "224.0.0.1"):
        answer = momo.call("POST", "/v1_0/apiuser", json_body={"providerCallbackHost": host}, X_Reference_Id=str(uuid.uuid4()))
        assert answer.status == 400 and answer.json()["code"] == "INVALID_CALLBACK_HOST", (host, answer.body)
        assert "never a callback destination" in answer.json()["message"] or "metadata" in answer.json()["message"] \
            or "canonical" in answer.json()["message"]
    assert MomoApiUser.objects.count() == 0
    momo.provision("receiver.example").get_token()
    _, answer = momo.request_to_pay(X_Callback_Url="http://user:secret@receiver.example/cb")
    assert answer.status == 400 and answer.json()["code"] == "INVALID_CALLBACK_URL_HOST"
    assert "user name or password" in answer.json()["message"] and Payment.objects.count() == 0
