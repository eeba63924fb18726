"""Each Daphne keeps copies of the rows every MoMo call reads (the API user, the fault
settings: payments/generation.py); a write through another process retires them at that
process's next call: a re-keyed API user's old token is refused by both Daphnes at once,
and a fault setting changed from a command applies at the next call (Redis, PostgreSQL)."""

import uuid

import pytest

from tests.support.momo_client import RTP_BODY, SUBSCRIPTION_KEY, HttpMomoClient, basic
from tests.support.scaleout import post_as_operator

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]


def status_code(client: HttpMomoClient, token: str, reference: str) -> tuple[int, str]:
    client.token = token
    answer = client.status(reference)
    return answer.status, answer.json().get("code", "") if answer.body else ""


def test_both_daphnes_refuse_a_re_keyed_users_old_token_and_apply_a_new_fault_at_the_next_call(
    pg_database, private_redis, stack_factory
):
    stack = stack_factory(pg_database, private_redis.url, MOMO_SUBSCRIPTION_KEY=SUBSCRIPTION_KEY)
    server_a, server_b = stack.server("daphne-a"), stack.server("daphne-b")
    on_a, on_b = HttpMomoClient(server_a.base_url), HttpMomoClient(server_b.base_url)
    on_a.provision("merchant.example")
    old_token = on_a.get_token()
    on_b.user_id, on_b.api_key = on_a.user_id, on_a.api_key
    reference, answer = on_a.request_to_pay()
    assert answer.status == 202, answer.body
    # Both processes now hold the user's row (every call after the first uses the copy).
    for client in (on_a, on_b, on_a, on_b):
        assert status_code(client, old_token, reference) == (200, "")

    # A new key, over the wire through A: the old token is refused by both at their next call.
    keyed = on_a.call("POST", f"/v1_0/apiuser/{on_a.user_id}/apikey", raw=b"")
    assert keyed.status == 201, keyed.body
    for client in (on_b, on_a):
        assert status_code(client, old_token, reference) == (401, "UNAUTHORIZED")
    new_key = keyed.json()["apiKey"]
    answer = on_b.call("POST", "/collection/token/", raw=b"", Authorization=basic(on_a.user_id, new_key))
    assert answer.status == 200, answer.body
    new_token = answer.json()["access_token"]
    for client in (on_a, on_b):
        assert status_code(client, new_token, reference) == (200, "")

    # Every call refused by the fault settings, changed by a command (a third process).
    stack.script(
        "from payments.services import callback_settings_update\n"
        "callback_settings_update(actor='test', api_error_rate=1)\n"
    )
    for client in (on_b, on_a):
        status, code = status_code(client, new_token, reference)
        assert (status, code) in {(503, "SERVICE_UNAVAILABLE"), (500, "INTERNAL_PROCESSING_ERROR")}
    stack.script(
        "from payments.services import callback_settings_update\n"
        "callback_settings_update(actor='test', api_error_rate=0)\n"
    )
    for client in (on_b, on_a):
        assert status_code(client, new_token, reference) == (200, "")

    # An API user the other process never saw works there at once; an unknown one is refused.
    other = HttpMomoClient(server_b.base_url).provision("other.example")
    other_token = other.get_token()
    assert status_code(on_a, other_token, str(uuid.uuid4())) == (404, "RESOURCE_NOT_FOUND")


WALLET_EXISTS = (
    "from payments.accounts import wallet_key\n"
    "from payments.models import LedgerAccount\n"
    "print(LedgerAccount.objects.filter(**wallet_key({phone!r}, {currency!r})._asdict()).exists())\n"
)


def test_a_reset_on_another_daphne_makes_a_daphne_open_a_wallet_it_knew_at_its_next_request_to_pay(
    pg_database, private_redis, stack_factory
):
    """A Daphne that has seen a payer's wallet open does not look it up again
    (payments/services/ledger.wallet_open); an operator's demo reset on another Daphne
    removes every wallet, and the first one's next request to pay from the payer opens it
    again at once (well inside the knowledge's own bound, generation.MAX_AGE)."""
    stack = stack_factory(pg_database, private_redis.url, MOMO_SUBSCRIPTION_KEY=SUBSCRIPTION_KEY)
    server_a, server_b = stack.server("daphne-a"), stack.server("daphne-b")
    session = stack.operator_session()
    client = HttpMomoClient(server_a.base_url)
    client.provision("merchant.example")
    client.get_token()
    wallet = WALLET_EXISTS.format(phone=RTP_BODY["payer"]["partyId"], currency=RTP_BODY["currency"])
    for _ in range(2):  # the first opens the wallet; the second finds it known
        assert client.request_to_pay()[1].status == 202
    status, toast = post_as_operator(server_b, session, "/dashboard/reset/")
    assert status == 200 and "2 payments removed" in toast, toast  # and every ledger account with them
    assert client.request_to_pay()[1].status == 202
    assert stack.script(wallet).strip() == "True"
