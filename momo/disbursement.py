"""MoMo Disbursements: money out of the API user's disbursement account (its float).

A transfer and a deposit (v1 and v2) pay a payee; a refund (v1 and v2) pays back the payer
of one of the API user's own requests to pay, named by `referenceIdToRefund`. Each is a
payment of its kind, settled by the same rules; the ledger checks the funds when it
settles. A refund naming a reference the API user does not own is taken (202) and fails
TRANSACTION_NOT_FOUND, as at MTN: its payer's number is never read from another user.
"""

from django.http import HttpRequest, HttpResponse

from momo import parsing
from momo.common import (
    REFERENCE,
    STATUS_RATE,
    Caller,
    WriteCall,
    create_once,
    create_payment,
    momo_view,
    status_answer,
    write_call,
)
from payments import services
from payments.models import Payment
from payments.selectors import momo_payment

TRANSFER = Payment.Kind.TRANSFER
DEPOSIT = Payment.Kind.DEPOSIT
REFUND = Payment.Kind.REFUND


@momo_view("POST")
def transfer(request: HttpRequest, caller: Caller) -> HttpResponse:
    return create_payment(write_call(request, caller, "transfer", parsing.transfer), caller, TRANSFER)


@momo_view("GET", rate=STATUS_RATE)
def transfer_status(request: HttpRequest, caller: Caller, reference: str) -> HttpResponse:
    return status_answer(caller, reference, (TRANSFER,))


@momo_view("POST")
def deposit(request: HttpRequest, caller: Caller) -> HttpResponse:
    return create_payment(write_call(request, caller, "deposit", parsing.transfer), caller, DEPOSIT)


@momo_view("GET", rate=STATUS_RATE)
def deposit_status(request: HttpRequest, caller: Caller, reference: str) -> HttpResponse:
    return status_answer(caller, reference, (DEPOSIT,))


def _refund(call: WriteCall, caller: Caller) -> Payment:
    refunded, fields = call.fields
    own = momo_payment(caller.user, refunded)
    return services.payment_refund(
        payment=own, reference=call.reference, momo_user=caller.user, actor=caller.actor,
        callback_url=call.callback_url, **fields,
    )


@momo_view("POST")
def refund(request: HttpRequest, caller: Caller) -> HttpResponse:
    call = write_call(request, caller, "refund", parsing.refund)
    return create_once(call.reference, lambda: _refund(call, caller))


@momo_view("GET", rate=STATUS_RATE)
def refund_status(request: HttpRequest, caller: Caller, reference: str) -> HttpResponse:
    return status_answer(caller, reference, (REFUND,))


ROUTES = [
    ("v1_0/transfer", transfer, "transfer"),
    (f"v1_0/transfer/{REFERENCE}", transfer_status, "transfer-status"),
    ("v1_0/deposit", deposit, "deposit"),
    ("v2_0/deposit", deposit, "deposit"),
    (f"v1_0/deposit/{REFERENCE}", deposit_status, "deposit-status"),  # serves both versions
    ("v1_0/refund", refund, "refund"),
    ("v2_0/refund", refund, "refund"),
    (f"v1_0/refund/{REFERENCE}", refund_status, "refund-status"),  # serves both versions
]
