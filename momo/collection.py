"""MoMo Collections: money in. A request to pay (and a request to withdraw, v1 and v2) is a
payment whose party is the payer; its reference is the caller's `X-Reference-Id`."""

from django.http import HttpRequest, HttpResponse

from momo import parsing
from momo.common import (
    REFERENCE,
    STATUS_RATE,
    Caller,
    create_payment,
    momo_view,
    status_answer,
    write_call,
)
from payments.models import Payment

PAY = Payment.Kind.REQUEST_TO_PAY
WITHDRAW = Payment.Kind.REQUEST_TO_WITHDRAW


@momo_view("POST")
def request_to_pay(request: HttpRequest, caller: Caller) -> HttpResponse:
    return create_payment(write_call(request, caller, "requesttopay", parsing.request_to_pay), caller, PAY)


@momo_view("GET", rate=STATUS_RATE)
def request_to_pay_status(request: HttpRequest, caller: Caller, reference: str) -> HttpResponse:
    return status_answer(caller, reference, (PAY,))


@momo_view("POST")
def request_to_withdraw(request: HttpRequest, caller: Caller) -> HttpResponse:
    return create_payment(write_call(request, caller, "requesttowithdraw", parsing.request_to_pay), caller, WITHDRAW)


@momo_view("GET", rate=STATUS_RATE)
def request_to_withdraw_status(request: HttpRequest, caller: Caller, reference: str) -> HttpResponse:
    return status_answer(caller, reference, (WITHDRAW,))


ROUTES = [
    ("v1_0/requesttopay", request_to_pay, "requesttopay"),
    (f"v1_0/requesttopay/{REFERENCE}", request_to_pay_status, "status"),
    ("v1_0/requesttowithdraw", request_to_withdraw, "requesttowithdraw"),
    ("v2_0/requesttowithdraw", request_to_withdraw, "requesttowithdraw"),
    # One status call serves both versions, as at MTN.
    (f"v1_0/requesttowithdraw/{REFERENCE}", request_to_withdraw_status, "requesttowithdraw-status"),
]
