"""The MoMo Collections API at the server root: plain views that check, parse, call a service.

`momo_view` does what MTN's gateway does before a product sees a call (method, body bound,
subscription key), then the bearer token and the API user's rate limit; every expected
refusal is a MomoError answered in MoMo's own shape, so a client never sees a Django page.
"""

import copy
import logging
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from payments import callbacks, outcomes, ratelimit, services
from payments.middleware import OUTAGES
from payments.models import MomoApiUser, Payment
from momo import auth, parsing
from momo.errors import (
    ROUTE_NOT_FOUND,
    GatewayError,
    MomoError,
    already_exists,
    bad_request,
    error_response,
    not_found,
)
from momo.serializers import SANDBOX_PERSON, api_user_json, balance_json
from payments.wire import status_json
from payments.selectors import momo_balance, momo_payment

logger = logging.getLogger("payments.outage")
STATUS_RATE = "status"
REQUEST_RATE = "request"


def _rate_of(bucket: str) -> int:
    return settings.MOMO_STATUS_RATE if bucket == STATUS_RATE else settings.MOMO_REQUEST_RATE


def momo_view(*methods: str, bearer: bool = True, rate: str = REQUEST_RATE) -> Callable:
    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @wraps(view)
        def handle(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            try:
                if request.method not in methods:
                    raise GatewayError(405, "", f"Method {request.method} is not allowed here; use {' or '.join(methods)}.")
                if int(request.META.get("CONTENT_LENGTH") or 0) > parsing.MAX_BODY:
                    raise GatewayError(413, "", f"The request body is larger than {parsing.MAX_BODY} bytes.")
                auth.check_subscription(request)
                if not bearer:
                    return view(request, **kwargs)
                user = auth.user_from_bearer(request)
                request.momo_user = user  # who called, for the inspector (inspector/rows.py)
                auth.check_rate(user, rate, _rate_of(rate))
                return view(request, user, **kwargs)
            except MomoError as error:
                return error_response(error)
            except ValueError:  # a Content-Length that is not a number
                return error_response(bad_request("INVALID_BODY", "Content-Length is not a number."))
            except OUTAGES as exc:
                # MoMo's own answer for an outage, so clients retry as they would with MTN;
                # the service's transaction rolled back, so nothing is half-written.
                logger.warning("%s %s: service unavailable: %s", request.method, request.path, exc)
                return error_response(MomoError(
                    503, "SERVICE_UNAVAILABLE", "A backing service (database or Redis) is unavailable; try again shortly.",
                    headers={"Retry-After": "5"},
                ))

        return handle

    return decorate


def _check_create_limit(request: HttpRequest) -> None:
    """The per-address create limit every create path shares (API, checkout form, MoMo):
    API users are provisioned with the subscription key alone, so a limit per API user is
    no limit for someone who makes a new one per request."""
    wait = ratelimit.create_wait(request)
    if wait is not None:
        raise GatewayError(429, "", f"Rate limit is exceeded. Try again in {wait} seconds.", headers={"Retry-After": str(wait)})


def _actor(user: MomoApiUser) -> str:
    return f"momo:{user.id}"


def _existing_user(user_id: str) -> MomoApiUser:
    parsed = auth.parse_user_id(user_id)
    user = MomoApiUser.objects.filter(id=parsed).first() if parsed else None
    if user is None:
        raise not_found("API user not found.")
    return user


# --- sandbox provisioning ----------------------------------------------------------------


@momo_view("POST", bearer=False)
def api_user_create(request: HttpRequest) -> HttpResponse:
    _check_create_limit(request)
    user_id = parsing.reference_id(request.headers.get("X-Reference-Id"))
    body = parsing.json_body(request, required=True)
    host = parsing.callback_host(body.get("providerCallbackHost") if isinstance(body, dict) else None)
    try:
        services.momo_user_create(
            user_id=user_id, provider_callback_host=host, actor="momo:provisioning",
            subscription_key=auth.subscription_key(request),
        )
    except IntegrityError:
        if MomoApiUser.objects.filter(id=user_id).exists():
            raise already_exists("An API user with this X-Reference-Id already exists.") from None
        raise
    return HttpResponse(status=201)


@momo_view("POST", bearer=False)
def api_key_create(request: HttpRequest, user_id: str) -> HttpResponse:
    user = _existing_user(user_id)
    try:
        api_key = services.momo_user_new_key(
            user=user, actor="momo:provisioning", subscription_key=auth.subscription_key(request)
        )
    except services.NotKeyOwner as exc:
        raise MomoError(403, "NOT_ALLOWED", f"Not allowed: {exc}.") from None
    return JsonResponse({"apiKey": api_key}, status=201)


@momo_view("GET", bearer=False)
def api_user_detail(request: HttpRequest, user_id: str) -> HttpResponse:
    return JsonResponse(api_user_json(_existing_user(user_id)))


# --- the token -----------------------------------------------------------------------------


@momo_view("POST", bearer=False)
def token(request: HttpRequest) -> HttpResponse:
    user = auth.user_from_basic(request)
    access_token, expires_in = auth.issue_token(user)
    return JsonResponse({"access_token": access_token, "token_type": "access_token", "expires_in": expires_in})


# --- collection ------------------------------------------------------------------------------


def _injected_faults(user: MomoApiUser, operation: str) -> None:
    """The fault settings (payments/callbacks.py): added latency, then maybe a refusal,
    before anything is read or written, so a refused request to pay creates nothing."""
    fault = callbacks.api_fault(user.pk, operation=operation)
    if fault.latency_seconds:
        time.sleep(fault.latency_seconds)
    if fault.refusal:
        status, code = fault.refusal
        raise MomoError(status, code, f"{outcomes.reason_text(code)} (injected fault)")


@momo_view("POST")
def request_to_pay(request: HttpRequest, user: MomoApiUser) -> HttpResponse:
    _check_create_limit(request)
    _injected_faults(user, "requesttopay")
    reference = parsing.reference_id(request.headers.get("X-Reference-Id"))
    environment = parsing.target_environment(request, user)
    callback_url = parsing.callback_url(request.headers.get("X-Callback-Url"), user)
    fields = parsing.request_to_pay(parsing.json_body(request, required=True), environment)
    try:
        services.payment_create(
            reference=reference, momo_user=user, callback_url=callback_url, actor=_actor(user), **fields
        )
    except IntegrityError:
        # The unique reference decides between concurrent reuses: the losers land here.
        if Payment.objects.filter(reference=reference).exists():
            raise already_exists() from None
        raise
    except services.PaymentError as exc:
        raise bad_request("INVALID_BODY", str(exc)) from None
    return HttpResponse(status=202)


def _own_payment(user: MomoApiUser, reference: str) -> Payment:
    parsed = auth.parse_user_id(reference)
    payment = momo_payment(user, parsed) if parsed else None
    if payment is None:
        raise not_found("Requested resource was not found.")
    return payment


@momo_view("GET", rate=STATUS_RATE)
def request_to_pay_status(request: HttpRequest, user: MomoApiUser, reference: str) -> HttpResponse:
    _injected_faults(user, "status")
    payment = _own_payment(user, reference)
    if callbacks.status_lag_pending(payment, timezone.now()):
        # The callback-before-status fault: the callback is out, the status call lags behind.
        payment = copy.copy(payment)
        payment.status = Payment.Status.PROCESSING
    return JsonResponse(status_json(payment, user.reason_format))


@momo_view("POST")
def delivery_notification(request: HttpRequest, user: MomoApiUser, reference: str) -> HttpResponse:
    payment = _own_payment(user, reference)
    message = parsing.notification_message(request)
    language = parsing.language(request)
    services.payment_notify(payment=payment, message=message, language=language, actor=_actor(user))
    return HttpResponse(status=200)


@momo_view("GET")
def balance(request: HttpRequest, user: MomoApiUser, currency: str | None = None) -> HttpResponse:
    if currency is None:
        code = settings.MOMO_ENVIRONMENTS[parsing.target_environment(request, user)]
    else:
        code = parsing.currency_code(currency)
    return JsonResponse(balance_json(momo_balance(user, code), code))


ID_TYPES = {"msisdn", "email", "party_code"}


def _account_holder_error(number: str) -> None:
    """The test numbers' account-holder cases, answered with MoMo's status for each."""
    code = outcomes.ACCOUNT_HOLDER_ERRORS.get(number)
    if code is None:
        return
    status = {"PAYER_NOT_FOUND": 404, "SERVICE_UNAVAILABLE": 503}.get(code, 500)
    raise MomoError(status, code, outcomes.reason_text(code))


@momo_view("GET")
def account_holder_active(request: HttpRequest, user: MomoApiUser, id_type: str, party_id: str) -> HttpResponse:
    if id_type.lower() not in ID_TYPES:
        raise bad_request("INVALID_PARTY_ID_TYPE", "The account holder id type must be msisdn, email or party_code.")
    _account_holder_error(party_id)
    return JsonResponse({"result": party_id != outcomes.ACCOUNT_NOT_ACTIVE})


@momo_view("GET")
def basic_user_info(request: HttpRequest, user: MomoApiUser, msisdn: str) -> HttpResponse:
    _account_holder_error(msisdn)
    return JsonResponse(SANDBOX_PERSON)


@csrf_exempt
def unknown_route(request: HttpRequest, rest: str = "") -> HttpResponse:
    return error_response(ROUTE_NOT_FOUND)
