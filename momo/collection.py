"""MoMo Collections: money in. A request to pay (and a request to withdraw) is a payment
whose party is the payer; its reference is the caller's `X-Reference-Id`."""

from django.http import HttpRequest, HttpResponse

from momo import parsing
from momo.common import (
    REFERENCE,
    SEGMENT,
    STATUS_RATE,
    Caller,
    balance,
    check_create_limit,
    create_once,
    injected_faults,
    momo_view,
    status_answer,
)
from payments import services


@momo_view("POST")
def request_to_pay(request: HttpRequest, caller: Caller) -> HttpResponse:
    check_create_limit(request)
    injected_faults(caller.user, "requesttopay")
    reference = parsing.reference_id(request.headers.get("X-Reference-Id"))
    environment = parsing.target_environment(request, caller.user)
    callback_url = parsing.callback_url(request.headers.get("X-Callback-Url"), caller.user)
    fields = parsing.request_to_pay(parsing.json_body(request, required=True), environment)
    return create_once(reference, lambda: services.payment_create(
        reference=reference, momo_user=caller.user, callback_url=callback_url, actor=caller.actor, **fields
    ))


@momo_view("GET", rate=STATUS_RATE)
def request_to_pay_status(request: HttpRequest, caller: Caller, reference: str) -> HttpResponse:
    return status_answer(caller, reference)


ROUTES = [
    ("v1_0/account/balance", balance, "balance"),
    (f"v1_0/account/balance/{SEGMENT.format('currency')}", balance, "balance-currency"),
    ("v1_0/requesttopay", request_to_pay, "requesttopay"),
    (f"v1_0/requesttopay/{REFERENCE}", request_to_pay_status, "status"),
]
