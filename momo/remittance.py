"""MoMo Remittances: money out of the API user's remittance account (its float).

A transfer pays a payee; a cash transfer (v2) does too, with the sender's KYC, which its
status call echoes as sent. Each is a payment of its kind, settled by the same rules.
"""

from django.http import HttpRequest, HttpResponse

from momo import parsing
from momo.common import REFERENCE, STATUS_RATE, Caller, create_payment, momo_view, status_answer, write_call
from payments.models import Payment

TRANSFER = Payment.Kind.REMITTANCE_TRANSFER
CASH_TRANSFER = Payment.Kind.CASH_TRANSFER


@momo_view("POST")
def transfer(request: HttpRequest, caller: Caller) -> HttpResponse:
    return create_payment(write_call(request, caller, "remittance-transfer", parsing.transfer), caller, TRANSFER)


@momo_view("GET", rate=STATUS_RATE)
def transfer_status(request: HttpRequest, caller: Caller, reference: str) -> HttpResponse:
    return status_answer(caller, reference, (TRANSFER,))


@momo_view("POST")
def cash_transfer(request: HttpRequest, caller: Caller) -> HttpResponse:
    return create_payment(write_call(request, caller, "cashtransfer", parsing.cash_transfer), caller, CASH_TRANSFER)


@momo_view("GET", rate=STATUS_RATE)
def cash_transfer_status(request: HttpRequest, caller: Caller, reference: str) -> HttpResponse:
    return status_answer(caller, reference, (CASH_TRANSFER,))


ROUTES = [
    ("v1_0/transfer", transfer, "transfer"),
    (f"v1_0/transfer/{REFERENCE}", transfer_status, "transfer-status"),
    ("v2_0/cashtransfer", cash_transfer, "cashtransfer"),
    (f"v2_0/cashtransfer/{REFERENCE}", cash_transfer_status, "cashtransfer-status"),
]
