"""What every MoMo product shares: the gateway's checks, the token call, and the calls MTN
serves under each product's prefix (balance, account holder, basic user info, delivery
notification).

`momo_view` does what MTN's gateway does before a product sees a call (method, body bound,
subscription key of that product), then the product's bearer token and the API user's rate
limit; every expected refusal is a MomoError answered in MoMo's own shape, so a client never
sees a Django page. The URL names the product (momo/urls.py passes it as `product`).
"""

import copy
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.conf import settings
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

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
from momo.serializers import SANDBOX_PERSON, balance_json
from payments import callbacks, generation, outcomes, ratelimit, services
from payments.middleware import OUTAGES
from payments.models import MomoApiUser, Payment
from payments.selectors import momo_payment, product_balance, simulator_settings
from payments.wire import STATUS_FIELDS, status_json

logger = logging.getLogger("payments.outage")
STATUS_RATE = "status"
SEGMENT = r"(?P<{}>[^/]+)"  # one path segment, named, for momo/urls.py and the products' ROUTES
REFERENCE = SEGMENT.format("reference")
REQUEST_RATE = "request"


@dataclass(frozen=True)
class Caller:
    """Who called which product: what every bearer-authenticated view receives."""

    user: MomoApiUser
    product: str
    generation: str | None = None  # the rows' generation its call found (payments/generation.py)

    @property
    def actor(self) -> str:
        return f"momo:{self.user.id}"


def _rate_of(bucket: str) -> int:
    return settings.MOMO_STATUS_RATE if bucket == STATUS_RATE else settings.MOMO_REQUEST_RATE


def _gateway(request: HttpRequest, methods: tuple[str, ...], product: str | None) -> None:
    if request.method not in methods:
        raise GatewayError(405, "", f"Method {request.method} is not allowed here; use {' or '.join(methods)}.")
    if int(request.META.get("CONTENT_LENGTH") or 0) > parsing.MAX_BODY:
        raise GatewayError(413, "", f"The request body is larger than {parsing.MAX_BODY} bytes.")
    auth.check_subscription(request, product)


def _unavailable(request: HttpRequest, exc: Exception) -> HttpResponse:
    # MoMo's own answer for an outage, so clients retry as they would with MTN;
    # the service's transaction rolled back, so nothing is half-written.
    logger.warning("%s %s: service unavailable: %s", request.method, request.path, exc)
    return error_response(MomoError(
        503, "SERVICE_UNAVAILABLE", "A backing service (database or Redis) is unavailable; try again shortly.",
        headers={"Retry-After": "5"},
    ))


def momo_view(*methods: str, bearer: bool = True, rate: str = REQUEST_RATE) -> Callable:
    """Bearer views are called `view(request, caller, **url)`; the others `view(request, product, **url)`."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @wraps(view)
        def handle(request: HttpRequest, product: str | None = None, **kwargs: Any) -> HttpResponse:
            try:
                _gateway(request, methods, product)
                if not bearer:
                    return view(request, product, **kwargs)
                user, at = auth.bearer_caller(request, product, rate, _rate_of(rate))
                return view(request, Caller(user, product, at), **kwargs)
            except MomoError as error:
                return error_response(error)
            except ValueError:  # a Content-Length that is not a number
                return error_response(bad_request("INVALID_BODY", "Content-Length is not a number."))
            except OUTAGES as exc:
                return _unavailable(request, exc)

        return handle

    return decorate


def check_create_limit(request: HttpRequest) -> None:
    """The per-address create limit every create path shares (API, checkout form, MoMo):
    API users are provisioned with the subscription key alone, so a limit per API user is
    no limit for someone who makes a new one per request."""
    wait = ratelimit.create_wait(request)
    if wait is not None:
        raise GatewayError(429, "", f"Rate limit is exceeded. Try again in {wait} seconds.", headers={"Retry-After": str(wait)})


def injected_faults(caller: Caller, operation: str) -> dict[str, Any]:
    """The fault settings (payments/callbacks.py): added latency, then maybe a refusal,
    before anything is read or written, so a refused write call creates nothing. The
    settings are this process's copy while the call's generation is theirs; returned."""
    user_id = caller.user.pk
    config, _ = generation.kept(("faults", user_id), lambda: callbacks.effective(user_id), at=caller.generation)
    fault = callbacks.api_fault(user_id, operation=operation, config=config)
    if fault.latency_seconds:
        time.sleep(fault.latency_seconds)
    if fault.refusal:
        status, code = fault.refusal
        raise MomoError(status, code, f"{outcomes.reason_text(code)} (injected fault)")
    return config


@dataclass(frozen=True)
class WriteCall:
    """A write call that passed the shared checks: what the product's service needs."""

    reference: uuid.UUID
    callback_url: str
    fields: Any


def write_call(request: HttpRequest, caller: Caller, operation: str, parse: Callable[[Any, str], Any]) -> WriteCall:
    """The checks every write call shares, in MoMo's order, all before anything is written:
    the create limit, injected faults, the reference, the environment, the callback URL's
    host, then the body (`parse(body, environment)`)."""
    check_create_limit(request)
    injected_faults(caller, operation)
    reference = parsing.reference_id(request.headers.get("X-Reference-Id"))
    environment = parsing.target_environment(request, caller.user)
    callback_url = parsing.callback_url(request.headers.get("X-Callback-Url"), caller.user)
    return WriteCall(reference, callback_url, parse(parsing.json_body(request, required=True), environment))


def create_payment(call: WriteCall, caller: Caller, kind: str) -> HttpResponse:
    """A payment of `kind` from a checked write call: 202, or 409 for a reused reference."""
    # The live settings: this process's copy while the call's generation is theirs.
    config, _ = generation.kept("simulator_settings", simulator_settings, at=caller.generation)
    return create_once(call.reference, lambda: services.payment_create(
        reference=call.reference, momo_user=caller.user, callback_url=call.callback_url, actor=caller.actor,
        kind=kind, config=config, **call.fields,
    ))


def create_once(reference: uuid.UUID, create: Callable[[], Any]) -> HttpResponse:
    """Run a create service for `X-Reference-Id`: 202, or 409 for a reference used before
    (the unique constraint decides between concurrent reuses: the losers land here)."""
    try:
        create()
    except IntegrityError:
        if Payment.objects.filter(reference=reference).exists():
            raise already_exists() from None
        raise
    except services.InvalidValue as exc:  # the payment's own rules, in payment_create
        raise parsing.refusal(exc.field, str(exc)) from None
    except services.PaymentError as exc:
        raise bad_request("INVALID_BODY", str(exc)) from None
    return HttpResponse(status=202)


def own_payment(user: MomoApiUser, reference: str, kinds: tuple[str, ...] = (), fields: tuple[str, ...] = ()) -> Payment:
    """The API user's own transaction (of one of `kinds`, if given; only `fields` loaded,
    if given), else MoMo's 404."""
    parsed = auth.parse_user_id(reference)
    payment = momo_payment(user, parsed, fields) if parsed else None
    if payment is None or (kinds and payment.kind not in kinds):
        raise not_found("Requested resource was not found.")
    return payment


def status_answer(caller: Caller, reference: str, kinds: tuple[str, ...] = ()) -> HttpResponse:
    """A status GET of any kind: the operation's own status JSON (payments/wire.py)."""
    faults = injected_faults(caller, "status")
    payment = own_payment(caller.user, reference, kinds, STATUS_FIELDS)
    if callbacks.status_lag_pending(payment, timezone.now(), faults):
        # The callback-before-status fault: the callback is out, the status call lags behind.
        payment = copy.copy(payment)
        payment.status = Payment.Status.PROCESSING
    return JsonResponse(status_json(payment, caller.user.reason_format, caller.user.readings))


# --- the calls every product serves ------------------------------------------------------------


@momo_view("POST", bearer=False)
def token(request: HttpRequest, product: str) -> HttpResponse:
    """`POST /<product>/token/`: clients send no body, `{}`, `null` or a grant type; all ignored."""
    user = auth.user_from_basic(request)
    access_token, expires_in = auth.issue_token(user, product)
    return JsonResponse({"access_token": access_token, "token_type": "access_token", "expires_in": expires_in})


@momo_view("POST")
def delivery_notification(request: HttpRequest, caller: Caller, reference: str) -> HttpResponse:
    payment = own_payment(caller.user, reference)
    message = parsing.notification_message(request)
    language = parsing.language(request)
    services.payment_notify(payment=payment, message=message, language=language, actor=caller.actor)
    # MTN's Collections page answers 200; its disbursement capture shows 202 (per API user).
    return HttpResponse(status=202 if caller.user.readings == MomoApiUser.Readings.CAPTURED else 200)


@momo_view("GET")
def balance(request: HttpRequest, caller: Caller, currency: str | None = None) -> HttpResponse:
    if currency is None:
        code = settings.MOMO_ENVIRONMENTS[parsing.target_environment(request, caller.user)]
    else:
        code = parsing.currency_code(currency)
    return JsonResponse(balance_json(product_balance(caller.user, caller.product, code), code))


ID_TYPES = {"msisdn", "email", "party_code"}


def _account_holder_error(number: str) -> None:
    """The test numbers' account-holder cases, answered with MoMo's status for each."""
    code = outcomes.ACCOUNT_HOLDER_ERRORS.get(number)
    if code is None:
        return
    status = {"PAYER_NOT_FOUND": 404, "SERVICE_UNAVAILABLE": 503}.get(code, 500)
    raise MomoError(status, code, outcomes.reason_text(code))


@momo_view("GET")
def account_holder_active(request: HttpRequest, caller: Caller, id_type: str, party_id: str) -> HttpResponse:
    if id_type.lower() not in ID_TYPES:
        raise bad_request("INVALID_PARTY_ID_TYPE", "The account holder id type must be msisdn, email or party_code.")
    _account_holder_error(party_id)
    return JsonResponse({"result": party_id != outcomes.ACCOUNT_NOT_ACTIVE})


@momo_view("GET")
def basic_user_info(request: HttpRequest, caller: Caller, msisdn: str) -> HttpResponse:
    _account_holder_error(msisdn)
    return JsonResponse(SANDBOX_PERSON)


@csrf_exempt
def unknown_route(request: HttpRequest, rest: str = "", product: str | None = None) -> HttpResponse:
    """Anything else under a MoMo prefix: the gateway's JSON 404, whatever DEBUG says."""
    return error_response(ROUTE_NOT_FOUND)
