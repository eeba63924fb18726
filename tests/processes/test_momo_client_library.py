"""A public MoMo client library, unmodified, against the live demo server: only its base URL changes.

`momo-openapi` (PyPI) is a maintained Python client for MTN's Collections API. Its sandbox
provisioning helper is wired to MTN's own host, so the API user comes from
`manage.py momo_credentials`, as a presenter would get it; everything after that (token,
request to pay, status, balance, its error mapping) is the library talking to LiveSettle.
"""

import re
import time

import pytest

from tests.support.momo_client import SUBSCRIPTION_KEY
from tests.support import free_port, manage, wait_for

momo_openapi = pytest.importorskip("momo_openapi")

pytestmark = pytest.mark.slow


def test_it_serves_the_momo_openapi_client_unmodified(start_demo, tmp_path):
    server = start_demo(1.0, "--success-rate", "1", MOMO_SUBSCRIPTION_KEY=SUBSCRIPTION_KEY)
    printed = manage("momo_credentials", "--callback-host", "127.0.0.1", env=server.env).stdout
    values = dict(re.findall(r"^(subscription key|API user|API key)\b.*:\s+(\S+)$", printed, re.M))

    config = momo_openapi.MomoConfig(
        subscription_key=values["subscription key"],
        user_id=values["API user"],
        credential_token=values["API key"],
        target_environment="sandbox",
        base_url=server.base_url,
        currency="EUR",
        timeout=10,
    )
    collection = momo_openapi.Collection(config)

    paid = collection.request_to_pay(15, "46733123499", "order-7", payer_message="Permit", payee_note="n-7",
                                     callback_url=f"http://127.0.0.1:{free_port()}/momo")  # loopback only
    declined = collection.request_to_pay("30", "46733123451", "order-8")
    assert collection.get_transaction_status(paid)["status"] == "PENDING"

    def final(reference: str) -> dict | None:
        status = collection.get_transaction_status(reference)
        time.sleep(0.15)  # a polite client: under MoMo's 10 status calls per second
        return status if status["status"] != "PENDING" else None

    done = wait_for(lambda: final(paid), timeout=15, what="the payment to settle")
    assert done["status"] == "SUCCESSFUL" and done["financialTransactionId"] and done["externalId"] == "order-7"
    failed = wait_for(lambda: final(declined), timeout=15, what="the declined payment")
    assert failed["status"] == "FAILED" and failed["reason"] == "APPROVAL_REJECTED"
    assert collection.get_balance() == {"availableBalance": "15", "currency": "EUR"}

    # Its error mapping reads LiveSettle's bodies: MoMo's code, OAuth's error.
    with pytest.raises(momo_openapi.MomoAPIError) as unknown:
        collection.get_transaction_status("0b6c9a8e-8f57-4c55-9d5f-0c3f0c9d1a11")
    assert unknown.value.status_code == 404 and unknown.value.code == "RESOURCE_NOT_FOUND"
    with pytest.raises(momo_openapi.MomoAPIError) as reused:
        collection.request_to_pay(5, "46733123499", "order-9", reference_id=paid)
    assert reused.value.status_code == 409 and reused.value.code == "RESOURCE_ALREADY_EXIST"
    wrong = momo_openapi.Collection(momo_openapi.MomoConfig(
        subscription_key=values["subscription key"], user_id=values["API user"], credential_token="0" * 32,
        target_environment="sandbox", base_url=server.base_url, currency="EUR",
    ))
    with pytest.raises(momo_openapi.AuthenticationError) as refused:
        wrong.get_balance()
    assert refused.value.code == "invalid_client"


def test_it_serves_the_momo_openapi_disbursement_and_remittance_clients_unmodified(start_demo):
    """Each product on its own key (MOMO_<PRODUCT>_SUBSCRIPTION_KEY), as a client is set up for MTN."""
    keys = {product: f"{digit}" * 32 for product, digit in (("disbursement", "d"), ("remittance", "e"))}
    server = start_demo(0.5, "--success-rate", "1", MOMO_SUBSCRIPTION_KEY=SUBSCRIPTION_KEY, MOMO_DEFAULT_FLOAT="1000",
                        MOMO_DISBURSEMENT_SUBSCRIPTION_KEY=keys["disbursement"], MOMO_REMITTANCE_SUBSCRIPTION_KEY=keys["remittance"])
    printed = manage("momo_credentials", "--callback-host", "127.0.0.1", env=server.env).stdout
    values = dict(re.findall(r"^(API user|API key|\w+ key)\b.*:\s+(\S+)$", printed, re.M))
    assert values["disbursement key"] == keys["disbursement"] and values["remittance key"] == keys["remittance"]

    def client(kind, product: str):
        return kind(momo_openapi.MomoConfig(
            subscription_key=values[f"{product} key"], user_id=values["API user"], credential_token=values["API key"],
            target_environment="sandbox", base_url=server.base_url, currency="EUR", timeout=10,
        ))

    disbursement, remittance = client(momo_openapi.Disbursement, "disbursement"), client(momo_openapi.Remittance, "remittance")
    paid_out = disbursement.transfer(250, "46733123499", "payout-1", payer_message="Guide fee", payee_note="July")
    no_funds = disbursement.transfer("10", "46733123455", "payout-2")  # the transfer table's NOT_ENOUGH_FUNDS
    sent = remittance.transfer("40.5", "46733123498", "remit-1")

    def final(product, reference: str) -> dict | None:
        status = product.get_transaction_status(reference)
        time.sleep(0.15)  # a polite client: under MoMo's 10 status calls per second
        return status if status["status"] != "PENDING" else None

    done = wait_for(lambda: final(disbursement, paid_out), timeout=15, what="the transfer to settle")
    assert done["status"] == "SUCCESSFUL" and done["payee"]["partyId"] == "46733123499" and done["amount"] == "250"
    failed = wait_for(lambda: final(disbursement, no_funds), timeout=15, what="the refused transfer")
    assert (failed["status"], failed["reason"]) == ("FAILED", "NOT_ENOUGH_FUNDS")
    assert wait_for(lambda: final(remittance, sent), timeout=15, what="the remittance")["status"] == "SUCCESSFUL"
    assert disbursement.get_balance() == {"availableBalance": "750", "currency": "EUR"}
    assert remittance.get_balance() == {"availableBalance": "959.5", "currency": "EUR"}

    # A remittance reference is not a disbursement's; a product's key is its own.
    with pytest.raises(momo_openapi.MomoAPIError) as unknown:
        disbursement.get_transaction_status(sent)
    assert unknown.value.status_code == 404 and unknown.value.code == "RESOURCE_NOT_FOUND"
    with pytest.raises(momo_openapi.MomoError):
        client(momo_openapi.Collection, "disbursement").get_balance()
