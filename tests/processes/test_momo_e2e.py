"""A MoMo integration against the real demo server (Daphne + worker in a subprocess), over HTTP.

Provision, token, request to pay (a success and three failure test numbers), status until
final; the same payments on LiveSettle's own API and pushed on their WebSockets.
"""

import asyncio
import json
import re
import threading
import time
from datetime import datetime

import pytest
from websockets.asyncio.client import connect

from tests.support.momo_client import RTP_BODY, SUBSCRIPTION_KEY, HttpMomoClient
from tests.support import async_wait_for, free_port, wait_for

pytestmark = pytest.mark.slow

CASES = {
    "46733123499": ("SUCCESSFUL", ""),
    "46733123450": ("FAILED", "INTERNAL_PROCESSING_ERROR"),
    "46733123451": ("FAILED", "APPROVAL_REJECTED"),
    "46733123452": ("FAILED", "EXPIRED"),
}
STATUS_GAP = 0.11  # seconds between status calls: under MoMo's 10 per second per API user


class PushListener(threading.Thread):
    """Holds /ws/payments/<reference>/?format=json open and keeps every payment it is sent."""

    def __init__(self, url: str, origin: str) -> None:
        super().__init__(daemon=True)
        self.url, self.origin = url, origin
        self.received: list[dict] = []
        self.opened = threading.Event()

    def run(self) -> None:
        asyncio.run(self._listen())

    async def _listen(self) -> None:
        async with connect(self.url, origin=self.origin, open_timeout=10) as socket:
            self.opened.set()

            async def final_pushed() -> bool:
                payment = json.loads(await socket.recv())["payment"]
                self.received.append(payment)
                return payment["status"] != "processing"

            await async_wait_for(final_pushed, timeout=30, interval=0, what="the final push")


def _http_json(client: HttpMomoClient, path: str) -> dict:
    answer = client.send("GET", path, None, {})
    assert answer.status == 200, answer.body
    return answer.json()


def _check_when_final(momo: HttpMomoClient, number: str, reference: str, final_seen: dict[str, float]) -> None:
    """One status call; a final answer is checked against CASES and its time kept."""
    answer = momo.status(reference)
    assert answer.status == 200, answer.body
    body = answer.json()
    if body["status"] == "PENDING":
        return
    final_seen[number] = time.time()
    expected_status, expected_reason = CASES[number]
    assert body["status"] == expected_status
    assert body.get("reason", "") == expected_reason
    assert ("financialTransactionId" in body) == (expected_status == "SUCCESSFUL")
    assert body["amount"] == "42" and body["payer"]["partyId"] == number


def test_it_settles_momo_payments_end_to_end_over_http(start_demo):
    server = start_demo(1.5, "--success-rate", "1", MOMO_SUBSCRIPTION_KEY=SUBSCRIPTION_KEY)
    # Header names in lower case on the wire, as some HTTP stacks send them.
    momo = HttpMomoClient(server.base_url, lower_headers=True).provision("127.0.0.1")
    momo.get_token()
    # Loopback only: the worker sends callbacks here (a closed port; callbacks are not under test).
    callback_url = f"http://127.0.0.1:{free_port()}/momo"

    references, listeners = {}, {}
    for number in CASES:
        reference, answer = momo.request_to_pay({**RTP_BODY, "amount": 42, "payer": {"partyIdType": "MSISDN", "partyId": number}},
                                                X_Callback_Url=callback_url)
        assert answer.status == 202, answer.body
        references[number] = reference
        listener = PushListener(f"{server.ws_url}/ws/payments/{reference}/?format=json", server.base_url)
        listener.start()
        listeners[number] = listener
    for listener in listeners.values():
        assert listener.opened.wait(10)

    final_seen: dict[str, float] = {}

    def all_final() -> bool:
        for number, reference in references.items():
            if number not in final_seen:
                _check_when_final(momo, number, reference, final_seen)
                time.sleep(STATUS_GAP)
        return len(final_seen) == len(CASES)

    wait_for(all_final, timeout=20, interval=0, what="every payment's final status")

    for number, reference in references.items():
        payment = _http_json(momo, f"/api/payments/{reference}/")
        assert payment["status"] == CASES[number][0].lower()
        assert payment["reason"] == CASES[number][1]
        settle_at = datetime.fromisoformat(payment["settle_at"]).timestamp()
        # Seen final on the MoMo status call within 1 s of settle_at (polling gaps included).
        assert final_seen[number] - settle_at < 1.0, (number, final_seen[number] - settle_at)
        listeners[number].join(10)
        pushed = listeners[number].received
        assert pushed[0]["reference"] == reference
        assert pushed[-1]["status"] == payment["status"] and pushed[-1]["version"] == payment["version"]

    balance = momo.call("GET", "/collection/v1_0/account/balance", X_Target_Environment="sandbox")
    assert balance.json() == {"availableBalance": "42", "currency": "EUR"}


def test_it_prints_a_ready_set_in_the_demo_and_keeps_tokens_across_a_restart(start_demo):
    server = start_demo(30, MOMO_SUBSCRIPTION_KEY=SUBSCRIPTION_KEY)
    output = wait_for(lambda: "API key" in server.process.output() and server.process.output(), timeout=10, what="the demo's banner")
    assert f"MoMo API (collection, disbursement, remittance): base URL {server.base_url}" in output
    values = dict(re.findall(r"^\s+(subscription key|API user|API key)\b.*:\s+(\S+)$", output, re.M))
    momo = HttpMomoClient(server.base_url, subscription_key=values["subscription key"])
    momo.user_id, momo.api_key = values["API user"], values["API key"]
    token = momo.get_token()
    assert momo.call("GET", "/collection/v1_0/account/balance").status == 200
    # Each product's own key, printed under it, works on that product.
    keys = dict(re.findall(r"^\s+(\w+) key \(\w+ paths only\):\s+(\S+)$", output, re.M))
    assert set(keys) == {"collection", "disbursement", "remittance"}
    payout = HttpMomoClient(server.base_url, subscription_key=keys["disbursement"])
    payout.user_id, payout.api_key = values["API user"], values["API key"]
    payout.get_token("disbursement")
    assert payout.call("GET", "/disbursement/v1_0/account/balance").status == 200

    server.restart()
    assert momo.call("GET", "/collection/v1_0/account/balance").status == 200  # the same token
    restarted = wait_for(lambda: "API key" in server.process.output() and server.process.output(), timeout=10, what="the banner")
    assert dict(re.findall(r"^\s+(API user|API key)\b.*:\s+(\S+)$", restarted, re.M)) == {
        "API user": values["API user"], "API key": values["API key"],
    }
    assert momo.token == token
