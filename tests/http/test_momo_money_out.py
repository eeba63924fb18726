"""MoMo Disbursements, Remittances and request to withdraw on the wire: every write call and
status GET, their errors, the quirks clients send, balances from the ledger and callbacks
of every kind. In-process (Django's test client); the worker settles what is due."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from payments import services
from payments.models import CallbackDelivery, Payment, PaymentLog
from payments.wire import amount_text
from payments.worker import SettlementWorker
from tests.support.momo_client import PRODUCT_KEYS, RTP_BODY, SUBSCRIPTION_KEY, DjangoMomoClient

pytestmark = pytest.mark.django_db

PAYEE = {"partyIdType": "MSISDN", "partyId": "46733123499"}
TRANSFER_BODY = {"amount": "250", "currency": "EUR", "externalId": "payout-1", "payee": PAYEE,
                 "payerMessage": "Guide fee", "payeeNote": "July"}
KYC = {
    "orginatingCountry": "UG", "originalAmount": "90000.0", "originalCurrency": "UGX", "payerIdentificationType": "PASS",
    "payerIdentificationNumber": "B1234567", "payerIdentity": "ID:256701081899/MSISDN", "payerFirstName": "Amina",
    "payerSurName": "Nakato", "payerLanguageCode": "en", "payerEmail": "amina@example.com", "payerMsisdn": "256701081899",
    "payerGender": "F",
}


@pytest.fixture(autouse=True)
def _momo_settings(settings):
    settings.MOMO_SUBSCRIPTION_KEYS = [SUBSCRIPTION_KEY]
    settings.MOMO_PRODUCT_SUBSCRIPTION_KEYS = PRODUCT_KEYS
    settings.MOMO_ENVIRONMENTS = {"sandbox": "EUR", "mtnuganda": "UGX"}
    settings.MOMO_DEFAULT_FLOAT = Decimal("1000")
    services.settings_update(actor="test", success_rate=1.0)


class Merchant:
    """One API user with a client per product (each with its own token)."""

    def __init__(self, callback_host: str = "merchant.example") -> None:
        first = DjangoMomoClient(Client(enforce_csrf_checks=True)).provision(callback_host)
        self.by_product = {}
        for product in ("collection", "disbursement", "remittance"):
            client = DjangoMomoClient(Client(enforce_csrf_checks=True))
            client.user_id, client.api_key = first.user_id, first.api_key
            client.get_token(product)
            self.by_product[product] = client

    def post(self, product: str, path: str, body, reference: str | None = None, **headers):
        reference = reference or str(uuid.uuid4())
        headers.setdefault("X_Target_Environment", "sandbox")
        answer = self.by_product[product].call("POST", f"/{product}/{path}", json_body=body, X_Reference_Id=reference, **headers)
        return reference, answer

    def get(self, product: str, path: str):
        return self.by_product[product].call("GET", f"/{product}/{path}")


@pytest.fixture
def merchant() -> Merchant:
    return Merchant()


def settle_due() -> None:
    SettlementWorker(seed=1).handle_one(timezone.now() + timedelta(minutes=2))


def written() -> tuple[int, int]:
    return Payment.objects.count(), PaymentLog.objects.count()


def paid_request(merchant: Merchant, amount: str = "100") -> str:
    reference, answer = merchant.post("collection", "v1_0/requesttopay", {**RTP_BODY, "amount": amount})
    assert answer.status == 202, answer.body
    settle_due()
    assert Payment.objects.get(reference=reference).status == "successful"
    return reference


# --- write calls and their status GETs -------------------------------------------------------


WRITES = [
    # (product, write path, status path, kind, body)
    ("disbursement", "v1_0/transfer", "v1_0/transfer", "transfer", TRANSFER_BODY),
    ("disbursement", "v1_0/deposit", "v1_0/deposit", "deposit", TRANSFER_BODY),
    ("disbursement", "v2_0/deposit", "v1_0/deposit", "deposit", TRANSFER_BODY),
    ("remittance", "v1_0/transfer", "v1_0/transfer", "remittance_transfer", TRANSFER_BODY),
    ("remittance", "v2_0/cashtransfer", "v2_0/cashtransfer", "cash_transfer", {**TRANSFER_BODY, **KYC}),
    ("collection", "v1_0/requesttowithdraw", "v1_0/requesttowithdraw", "request_to_withdraw", RTP_BODY),
    ("collection", "v2_0/requesttowithdraw", "v1_0/requesttowithdraw", "request_to_withdraw", RTP_BODY),
]


@pytest.mark.parametrize(("product", "write", "read", "kind", "body"), WRITES, ids=[f"{w[0]} {w[1]}" for w in WRITES])
def test_it_creates_each_kind_and_reports_its_status_through_settlement(merchant, product, write, read, kind, body):
    reference, answer = merchant.post(product, write, body, X_Callback_Url="https://merchant.example/cb")
    assert answer.status == 202 and answer.body == b""
    payment = Payment.objects.get(reference=reference)
    assert (payment.kind, payment.product, payment.momo_user_id) == (kind, product, uuid.UUID(merchant.by_product[product].user_id))
    assert payment.phone_number == "46733123499" and payment.external_id == body["externalId"]
    party = "payer" if product == "collection" else "payee"
    pending = merchant.get(product, f"{read}/{reference}").json()
    assert pending["status"] == "PENDING" and pending[party] == {"partyIdType": "MSISDN", "partyId": "46733123499"}
    assert "financialTransactionId" not in pending and "reason" not in pending

    settle_due()
    done = merchant.get(product, f"{read}/{reference}").json()
    assert done["status"] == "SUCCESSFUL" and done["financialTransactionId"].isdigit()
    assert done["amount"] == amount_text(Decimal(body["amount"])) and done["externalId"] == body["externalId"]
    # The callback carries that operation's status body, through the one outbox.
    [delivery] = CallbackDelivery.objects.filter(payment=payment)
    assert delivery.url == "https://merchant.example/cb" and delivery.body == done


def test_it_echoes_a_cash_transfers_sender_fields_in_either_spelling(merchant):
    reference, _ = merchant.post("remittance", "v2_0/cashtransfer", {**TRANSFER_BODY, **KYC})
    body = merchant.get("remittance", f"v2_0/cashtransfer/{reference}").json()
    assert {name: body[name] for name in KYC} == {**KYC, "originalAmount": "90000"}
    other = {**TRANSFER_BODY, "originatingCountry": "GH"}
    reference, answer = merchant.post("remittance", "v2_0/cashtransfer", other)
    assert answer.status == 202
    assert merchant.get("remittance", f"v2_0/cashtransfer/{reference}").json()["originatingCountry"] == "GH"


def test_it_takes_a_deposit_that_names_its_party_payer(merchant):
    body = {k: v for k, v in TRANSFER_BODY.items() if k != "payee"} | {"payer": {"partyIdType": "MSISDN", "partyId": "46733123488"}}
    reference, answer = merchant.post("disbursement", "v1_0/deposit", body)
    assert answer.status == 202, answer.body
    status = merchant.get("disbursement", f"v1_0/deposit/{reference}").json()
    assert status["payee"] == {"partyIdType": "MSISDN", "partyId": "46733123488"} and "payer" not in status


def test_it_takes_an_alias_payee_and_a_number_amount(merchant):
    body = {**TRANSFER_BODY, "amount": 5.0, "payee": {"partyIdType": "alias", "partyId": "virunga-guides"}}
    reference, answer = merchant.post("disbursement", "v1_0/transfer", body)
    assert answer.status == 202, answer.body
    status = merchant.get("disbursement", f"v1_0/transfer/{reference}").json()
    assert status["amount"] == "5" and status["payee"] == {"partyIdType": "ALIAS", "partyId": "virunga-guides"}


def test_it_finds_a_status_only_under_its_own_kind_and_api_user(merchant):
    transfer, _ = merchant.post("disbursement", "v1_0/transfer", TRANSFER_BODY)
    paid, _ = merchant.post("collection", "v1_0/requesttopay", RTP_BODY)
    for product, path in [("disbursement", f"v1_0/deposit/{transfer}"), ("disbursement", f"v1_0/refund/{transfer}"),
                          ("remittance", f"v1_0/transfer/{transfer}"), ("collection", f"v1_0/requesttopay/{transfer}"),
                          ("disbursement", f"v1_0/transfer/{paid}"), ("disbursement", f"v1_0/transfer/{uuid.uuid4()}"),
                          ("disbursement", "v1_0/transfer/not-a-uuid")]:
        answer = merchant.get(product, path)
        assert answer.status == 404 and answer.json()["code"] == "RESOURCE_NOT_FOUND", path
    rival = Merchant("rival.example")
    assert rival.get("disbursement", f"v1_0/transfer/{transfer}").status == 404


def test_it_answers_a_reused_reference_with_409_on_every_write(merchant):
    reference, _ = merchant.post("collection", "v1_0/requesttopay", RTP_BODY)
    for product, path, body in [("disbursement", "v1_0/transfer", TRANSFER_BODY), ("remittance", "v2_0/cashtransfer", TRANSFER_BODY),
                                ("disbursement", "v2_0/refund", {**TRANSFER_BODY, "referenceIdToRefund": reference})]:
        _, answer = merchant.post(product, path, body, reference=reference)
        assert answer.status == 409 and answer.json()["code"] == "RESOURCE_ALREADY_EXIST"
    assert Payment.objects.filter(reference=reference).count() == 1


MONEY_OUT_REFUSALS = [
    ("no payee", "v1_0/transfer", {k: v for k, v in TRANSFER_BODY.items() if k != "payee"}, {}, 400, "INVALID_PAYEE"),
    ("payee type", "v1_0/transfer", {**TRANSFER_BODY, "payee": {"partyIdType": "IBAN", "partyId": "1"}}, {}, 400, "INVALID_PAYEE"),
    ("amount", "v1_0/deposit", {**TRANSFER_BODY, "amount": "-5"}, {}, 400, "INVALID_AMOUNT"),
    ("body", "v2_0/deposit", [1], {}, 400, "INVALID_BODY"),
    ("refund reference", "v1_0/refund", {**TRANSFER_BODY, "referenceIdToRefund": "order-1"}, {}, 400, "INVALID_BODY"),
    ("refund no reference", "v2_0/refund", TRANSFER_BODY, {}, 400, "INVALID_BODY"),
    ("currency", "v1_0/transfer", {**TRANSFER_BODY, "currency": "UGX"}, {}, 500, "INVALID_CURRENCY"),
    ("environment", "v1_0/transfer", TRANSFER_BODY, {"X_Target_Environment": "mars"}, 500, "NOT_ALLOWED_TARGET_ENVIRONMENT"),
    ("callback host", "v1_0/transfer", TRANSFER_BODY, {"X_Callback_Url": "https://evil.example/cb"}, 500, "INVALID_CALLBACK_URL_HOST"),
    ("reference", "v1_0/transfer", TRANSFER_BODY, {"X_Reference_Id": str(uuid.uuid1())}, 400, "INVALID_REFERENCE_ID"),
]


@pytest.mark.parametrize(("case", "path", "body", "headers", "status", "code"), MONEY_OUT_REFUSALS, ids=[r[0] for r in MONEY_OUT_REFUSALS])
def test_it_refuses_a_bad_disbursement_with_momos_code_and_writes_nothing(merchant, case, path, body, headers, status, code):
    before = written()
    headers = {"X_Target_Environment": "sandbox", "X_Reference_Id": str(uuid.uuid4()), **headers}
    answer = merchant.by_product["disbursement"].call("POST", f"/disbursement/{path}", json_body=body, **headers)
    assert answer.status == status and answer.json()["code"] == code, answer.body
    assert written() == before


def test_it_refuses_a_bad_cash_transfer_identification_type(merchant):
    before = written()
    _, answer = merchant.post("remittance", "v2_0/cashtransfer", {**TRANSFER_BODY, "payerIdentificationType": "BADGE"})
    assert answer.status == 400 and "payerIdentificationType" in answer.json()["message"]
    assert written() == before


# --- refunds and balances --------------------------------------------------------------------------


def test_it_refunds_a_request_to_pay_within_what_it_paid_and_moves_the_balances(merchant):
    paid = paid_request(merchant, "100")
    assert merchant.get("collection", "v1_0/account/balance").json() == {"availableBalance": "100", "currency": "EUR"}
    first, answer = merchant.post("disbursement", "v1_0/refund", {**TRANSFER_BODY, "amount": "30", "referenceIdToRefund": paid})
    assert answer.status == 202
    settle_due()
    refund = merchant.get("disbursement", f"v1_0/refund/{first}").json()
    assert refund["status"] == "SUCCESSFUL" and refund["payee"] == RTP_BODY["payer"]
    second, _ = merchant.post("disbursement", "v2_0/refund", {**TRANSFER_BODY, "amount": "80", "referenceIdToRefund": paid})
    settle_due()
    refused = merchant.get("disbursement", f"v1_0/refund/{second}").json()
    assert refused["status"] == "FAILED" and refused["reason"] == "NOT_ALLOWED"
    assert merchant.get("disbursement", "v1_0/account/balance/EUR").json() == {"availableBalance": "970", "currency": "EUR"}
    assert merchant.get("remittance", "v1_0/account/balance").json()["availableBalance"] == "1000"
    assert Payment.objects.get(reference=paid).refunded_amount == Decimal("30")


def test_it_fails_a_refund_of_a_reference_it_does_not_own_as_transaction_not_found(merchant):
    rival = Merchant("rival.example")
    theirs = paid_request(rival, "50")
    for target in (theirs, str(uuid.uuid4())):
        reference, answer = merchant.post("disbursement", "v1_0/refund", {**TRANSFER_BODY, "amount": "5", "referenceIdToRefund": target})
        assert answer.status == 202
        settle_due()
        status = merchant.get("disbursement", f"v1_0/refund/{reference}").json()
        assert (status["status"], status["reason"]) == ("FAILED", "TRANSACTION_NOT_FOUND")
        assert status["payee"]["partyId"] != RTP_BODY["payer"]["partyId"]  # never the other user's payer
    assert Payment.objects.get(reference=theirs).refunded_amount == 0


def test_it_fails_a_transfer_larger_than_the_float_with_not_enough_funds(merchant):
    reference, _ = merchant.post("disbursement", "v1_0/transfer", {**TRANSFER_BODY, "amount": "1000.01"})
    settle_due()
    status = merchant.get("disbursement", f"v1_0/transfer/{reference}").json()
    assert (status["status"], status["reason"]) == ("FAILED", "NOT_ENOUGH_FUNDS")
    assert merchant.get("disbursement", "v1_0/account/balance").json()["availableBalance"] == "1000"


def test_it_sends_reason_as_an_object_on_money_out_for_api_users_configured_so(merchant):
    from payments.models import MomoApiUser

    MomoApiUser.objects.filter(id=merchant.by_product["remittance"].user_id).update(reason_format="object")
    reference, _ = merchant.post("remittance", "v2_0/cashtransfer", {**TRANSFER_BODY, "externalId": "3"})
    settle_due()
    reason = merchant.get("remittance", f"v2_0/cashtransfer/{reference}").json()["reason"]
    assert reason["code"] == "APPROVAL_REJECTED" and reason["message"]


def test_it_follows_the_api_users_readings_where_mtns_sources_disagree(merchant):
    from payments.models import MomoApiUser

    deposit, _ = merchant.post("disbursement", "v1_0/deposit", TRANSFER_BODY)
    transfer, _ = merchant.post("disbursement", "v1_0/transfer", TRANSFER_BODY)
    settle_due()
    notify = {"notificationMessage": "Your payout is on its way"}
    pages = merchant.by_product["disbursement"].call("POST", f"/disbursement/v1_0/requesttopay/{deposit}/deliverynotification", json_body=notify)
    assert pages.status == 200 and "financialTransactionId" in merchant.get("disbursement", f"v1_0/deposit/{deposit}").json()

    MomoApiUser.objects.filter(id=merchant.by_product["disbursement"].user_id).update(readings="captured")
    captured = merchant.by_product["disbursement"].call("POST", f"/disbursement/v1_0/requesttopay/{deposit}/deliverynotification", json_body=notify)
    assert captured.status == 202
    status = merchant.get("disbursement", f"v1_0/deposit/{deposit}").json()
    assert status["status"] == "SUCCESSFUL" and "financialTransactionId" not in status
    assert "financialTransactionId" in merchant.get("disbursement", f"v1_0/transfer/{transfer}").json()
    assert PaymentLog.objects.filter(payment__reference=deposit, event="notified").count() == 2


def test_it_provisions_an_api_user_with_its_readings_from_the_command():
    import re
    from io import StringIO

    from django.core.management import call_command

    from payments.models import MomoApiUser

    out = StringIO()
    call_command("momo_credentials", "--callback-host", "shop.example", "--readings", "captured", stdout=out)
    user_id = re.search(r"^API user\b.*:\s+(\S+)$", out.getvalue(), re.MULTILINE).group(1)
    assert MomoApiUser.objects.get(id=user_id).readings == "captured"
