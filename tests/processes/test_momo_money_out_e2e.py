"""Money both ways over HTTP against the real demo (Daphne + worker in a subprocess): collect
100, refund 30, a refund of 80 fails, and every balance path says what the ledger holds;
a transfer beyond the float fails NOT_ENOUGH_FUNDS and moves nothing; each product's
sandbox test values; a callback carries its operation's status body."""

import time
import uuid
from decimal import Decimal

import pytest

from payments.selectors import wallet_balance
from tests.support.momo_client import PRODUCT_KEYS, RTP_BODY, SUBSCRIPTION_KEY, HttpMomoClient, basic
from tests.support import wait_for

pytestmark = pytest.mark.slow

STATUS_GAP = 0.12  # seconds between status calls: under MoMo's 10 per second per API user
PAYER = "46733123499"
FLOAT = "500"


class Product:
    """One product's client over HTTP, with that product's own subscription key and token."""

    def __init__(self, base_url: str, product: str, user_id: str, api_key: str) -> None:
        self.product = product
        self.client = HttpMomoClient(base_url, PRODUCT_KEYS[product][0], lower_headers=product == "remittance")
        self.client.user_id, self.client.api_key = user_id, api_key
        self.client.get_token(product)

    def create(self, path: str, body: dict, **headers: str) -> str:
        reference = str(uuid.uuid4())
        answer = self.client.call("POST", f"/{self.product}/{path}", json_body=body, X_Reference_Id=reference,
                                  X_Target_Environment="sandbox", **headers)
        assert answer.status == 202, answer.body
        return reference

    def read(self, path: str) -> dict:
        time.sleep(STATUS_GAP)  # a polite client
        answer = self.client.call("GET", f"/{self.product}/{path}", X_Target_Environment="sandbox")
        assert answer.status == 200, answer.body
        return answer.json()

    def final(self, path: str) -> dict:
        return wait_for(lambda: (lambda s: s if s["status"] != "PENDING" else None)(self.read(path)),
                        timeout=20, interval=0, what=f"{path} to settle")

    def balance(self) -> str:
        return self.read("v1_0/account/balance/EUR")["availableBalance"]


def transfer(payee: str, amount: str = "10", external_id: str = "payout") -> dict:
    return {"amount": amount, "currency": "EUR", "externalId": external_id,
            "payee": {"partyIdType": "MSISDN", "partyId": payee}, "payerMessage": "payout", "payeeNote": "n"}


@pytest.fixture
def products(start_demo):
    env = {f"MOMO_{p.upper()}_SUBSCRIPTION_KEY": keys[0] for p, keys in PRODUCT_KEYS.items()}
    server = start_demo(0.5, "--success-rate", "1", MOMO_SUBSCRIPTION_KEY=SUBSCRIPTION_KEY, MOMO_DEFAULT_FLOAT=FLOAT,
                        WALLET_START_BALANCE="10000", **env)
    provisioner = HttpMomoClient(server.base_url, PRODUCT_KEYS["disbursement"][0]).provision("127.0.0.1")
    return {p: Product(server.base_url, p, provisioner.user_id, provisioner.api_key)
            for p in ("collection", "disbursement", "remittance")}


def test_it_collects_refunds_within_what_was_paid_and_balances_add_up(products):
    collection, disbursement, remittance = products["collection"], products["disbursement"], products["remittance"]
    paid = collection.create("v1_0/requesttopay", {**RTP_BODY, "amount": "100"})
    assert collection.final(f"v1_0/requesttopay/{paid}")["status"] == "SUCCESSFUL"

    refund = {"amount": "30", "currency": "EUR", "externalId": "booking-42", "payerMessage": "Cancelled",
              "payeeNote": "refund", "referenceIdToRefund": paid}
    first = disbursement.create("v1_0/refund", refund)
    done = disbursement.final(f"v1_0/refund/{first}")
    assert done["status"] == "SUCCESSFUL" and done["payee"] == {"partyIdType": "MSISDN", "partyId": PAYER}
    second = disbursement.create("v2_0/refund", {**refund, "amount": "80"})
    refused = disbursement.final(f"v1_0/refund/{second}")
    assert (refused["status"], refused["reason"]) == ("FAILED", "NOT_ALLOWED")

    assert collection.balance() == "100"
    assert disbursement.balance() == "470"
    assert remittance.balance() == FLOAT
    assert wallet_balance(PAYER, "EUR") == Decimal("10000") - 100 + 30

    # More than the float: FAILED NOT_ENOUGH_FUNDS, and nothing moves.
    big = disbursement.create("v1_0/transfer", transfer("46733123477", "470.01"))
    assert disbursement.final(f"v1_0/transfer/{big}")["reason"] == "NOT_ENOUGH_FUNDS"
    assert disbursement.balance() == "470" and wallet_balance("46733123477", "EUR") == Decimal("10000")
    fits = remittance.create("v1_0/transfer", transfer("46733123477", "500"))
    assert remittance.final(f"v1_0/transfer/{fits}")["status"] == "SUCCESSFUL"
    assert remittance.balance() == "0" and wallet_balance("46733123477", "EUR") == Decimal("10500")

    # Each product's token and key on its own paths only.
    stranger = HttpMomoClient(disbursement.client.host and f"http://{disbursement.client.host}:{disbursement.client.port}",
                              PRODUCT_KEYS["disbursement"][0])
    stranger.token = collection.client.token
    answer = stranger.call("GET", "/disbursement/v1_0/account/balance")
    assert answer.status == 401 and answer.json()["code"] == "UNAUTHORIZED"
    token = stranger.call("POST", "/collection/token/", raw=b"{}", Authorization=basic(disbursement.client.user_id, disbursement.client.api_key))
    assert token.status == 401 and token.json()["statusCode"] == 401  # the disbursement key on collection


# (product, write path, status path, body, expected (status, reason))
TEST_VALUES = [
    ("disbursement", "v1_0/transfer", "v1_0/transfer", transfer("46733123455"), ("FAILED", "NOT_ENOUGH_FUNDS")),
    ("disbursement", "v1_0/transfer", "v1_0/transfer", transfer("46733123457"), ("FAILED", "PAYEE_NOT_FOUND")),
    ("disbursement", "v2_0/deposit", "v1_0/deposit", transfer("46733123451"), ("FAILED", "APPROVAL_REJECTED")),
    ("disbursement", "v1_0/deposit", "v1_0/deposit", transfer("46733123488"), ("SUCCESSFUL", None)),
    ("disbursement", "v1_0/refund", "v1_0/refund",
     {"amount": "5", "currency": "EUR", "externalId": "1", "referenceIdToRefund": str(uuid.uuid4())}, ("FAILED", "TRANSACTION_NOT_FOUND")),
    ("remittance", "v1_0/transfer", "v1_0/transfer", transfer("46733123456"), ("FAILED", "PAYER_LIMIT_REACHED")),
    ("remittance", "v2_0/cashtransfer", "v2_0/cashtransfer", transfer("46733123488", external_id="5"), ("FAILED", "PAYEE_NOT_FOUND")),
    ("remittance", "v2_0/cashtransfer", "v2_0/cashtransfer", transfer("46733123488", external_id="13"), ("FAILED", "COULD_NOT_PERFORM_TRANSACTION")),
    ("collection", "v2_0/requesttowithdraw", "v1_0/requesttowithdraw", {**RTP_BODY, "payer": {"partyIdType": "MSISDN", "partyId": "46733123450"}},
     ("FAILED", "INTERNAL_PROCESSING_ERROR")),
    ("collection", "v1_0/requesttowithdraw", "v1_0/requesttowithdraw", RTP_BODY, ("SUCCESSFUL", None)),
]


def test_it_settles_each_products_sandbox_test_values_and_calls_back_with_the_status_body(products, receiver):
    made = []
    for product, write, read, body, expected in TEST_VALUES:
        made.append((products[product], read, products[product].create(write, body, X_Callback_Url=receiver.url()), expected))
    for product, read, reference, (status, reason) in made:
        final = product.final(f"{read}/{reference}")
        assert (final["status"], final.get("reason")) == (status, reason), (read, final)
    # Every kind's callback is its status body, as the status GET now answers it.
    wait_for(lambda: len(receiver.got) >= len(made), timeout=20, what="a callback per operation")
    bodies = {(got.body["externalId"], got.body["status"], got.body.get("reason")) for got in receiver.got}
    for product, read, reference, _ in made:
        final = product.read(f"{read}/{reference}")
        assert (final["externalId"], final["status"], final.get("reason")) in bodies
    assert all(got.method in ("POST", "PUT") for got in receiver.got)

