"""The REST API: plain function views that parse input and call services.

JSON bodies only, at most MAX_BODY_BYTES; Idempotency-Key scoped to the caller; the phone
number in full for staff and the payment's owner, masked for anyone else (docs/security.md).
"""

import io
import re
from typing import Any

from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import api_view, parser_classes, permission_classes, throttle_classes
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle

from payments import ratelimit, services
from payments.models import Payment
from payments.network import client_ip
from payments.selectors import payment_snapshot, public_snapshot, wallet_balances
from api.serializers import CompleteSerializer, PaymentCreateSerializer, PaymentSerializer

LIST_LIMIT = 100
# Far above any valid body (booking details are at most 4 KiB), far below what hurts.
MAX_BODY_BYTES = 16 * 1024
IDEMPOTENCY_KEY = re.compile(r"[!-~]{1,255}", re.ASCII)  # visible ASCII, as in an HTTP header
_error = inline_serializer("Error", {"detail": serializers.CharField()})


class BodyTooLarge(APIException):
    status_code = 413
    default_detail = f"The request body is larger than {MAX_BODY_BYTES // 1024} KiB."
    default_code = "body_too_large"


class BoundedJSONParser(JSONParser):
    """JSON only, at most MAX_BODY_BYTES, and nesting too deep for the parser is a 400, not a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        body = stream.read(MAX_BODY_BYTES + 1)
        if len(body) > MAX_BODY_BYTES:
            raise BodyTooLarge()
        try:
            return super().parse(io.BytesIO(body), media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None


class CreateThrottle(BaseThrottle):
    """Creates count against the caller's limit, shared with the checkout form; reads are free."""

    def allow_request(self, request, view) -> bool:
        self.wait_seconds = ratelimit.create_wait(request) if request.method == "POST" else None
        return self.wait_seconds is None

    def wait(self) -> float | None:
        return self.wait_seconds


def caller_scope(request: Request) -> str:
    """Whose Idempotency-Key this is: the signed-in user, else the anonymous client's real
    address (behind exactly TRUSTED_PROXY_COUNT proxies, as the rate limit counts it)."""
    if request.user.is_authenticated:
        return f"user:{request.user.pk}"
    return f"client:{client_ip(request)}"


def sees_full_phone(request: Request, payment: Payment) -> bool:
    """Staff and the payment's owner see its phone number; anyone else with the reference
    sees it masked, as the checkout page shows it."""
    user = request.user
    return user.is_authenticated and (user.is_staff or payment.owner_id == user.pk)


def _for_reader(request: Request, payment: Payment) -> dict:
    snapshot = payment_snapshot(payment)
    return snapshot if sees_full_phone(request, payment) else public_snapshot(snapshot)


@csrf_exempt  # any method, any caller: it changes nothing
def not_found(request, *args, **kwargs) -> JsonResponse:
    return JsonResponse({"detail": "Not found: no such API path, or the reference is not a UUID."}, status=404)


@extend_schema(
    methods=["POST"],
    request=PaymentCreateSerializer,
    responses={201: PaymentSerializer, 400: OpenApiTypes.OBJECT, 409: _error, 413: _error, 415: _error, 429: _error},
    parameters=[
        OpenApiParameter(
            "Idempotency-Key", {"type": "string", "pattern": f"^{IDEMPOTENCY_KEY.pattern}$"},
            OpenApiParameter.HEADER, required=False,
            description="Visible ASCII, 1-255 characters; scoped to the caller (docs/security.md).",
        )
    ],
    summary="Create a payment (requestToPay)",
)
@extend_schema(
    methods=["GET"],
    responses={200: PaymentSerializer(many=True), 400: _error, 403: _error},
    parameters=[OpenApiParameter("status", str, enum=Payment.Status.values, required=False)],
    summary="List the latest payments (staff)",
)
@api_view(["GET", "POST"])
@parser_classes([BoundedJSONParser])
@throttle_classes([CreateThrottle])
def payments_collection(request: Request) -> Response:
    if request.method == "GET":
        return _list(request)
    return _create(request)


def _list(request: Request) -> Response:
    if not IsAdminUser().has_permission(request, None):
        return Response({"detail": "Staff only."}, status=status.HTTP_403_FORBIDDEN)
    payments = Payment.objects.all()
    wanted = request.query_params.get("status")
    if wanted:
        if wanted not in Payment.Status.values:
            allowed = ", ".join(Payment.Status.values)
            return Response({"detail": f"status must be one of {allowed}."}, status=400)
        payments = payments.filter(status=wanted)
    return Response([payment_snapshot(p) for p in payments[:LIST_LIMIT]])


def _create(request: Request) -> Response:
    if not isinstance(request.data, dict):
        return Response({"detail": "Send a JSON object."}, status=400)
    incoming = PaymentCreateSerializer(data=request.data)
    incoming.is_valid(raise_exception=True)
    owner = request.user if request.user.is_authenticated else None
    key = request.headers.get("Idempotency-Key")
    try:
        return _created(request, key, owner, incoming.validated_data)
    except services.InvalidValue as exc:
        return Response({exc.field: [str(exc)]}, status=400)


def _created(request: Request, key: str | None, owner: Any, fields: dict[str, Any]) -> Response:
    if key is None:
        # The creator gets the full number back: it is the one it just sent.
        payment = services.payment_create(**fields, actor="api", owner=owner)
        return Response(payment_snapshot(payment), status=201)
    if not IDEMPOTENCY_KEY.fullmatch(key):
        return Response(
            {"detail": "Idempotency-Key must be 1 to 255 visible ASCII characters (no spaces)."}, status=400
        )
    try:
        body = services.payment_create_idempotent(
            scope=caller_scope(request),
            key=key,
            render=payment_snapshot,
            actor="api",
            owner=owner,
            **fields,
        )
    except services.IdempotencyConflict:
        return Response(
            {"detail": "This Idempotency-Key was already used with a different request body."},
            status=409,
        )
    return Response(body, status=201)


@extend_schema(responses={200: PaymentSerializer, 404: _error}, summary="Get a payment by reference")
@api_view(["GET"])
def payment_detail(request: Request, reference) -> Response:
    return Response(_for_reader(request, get_object_or_404(Payment, reference=reference)))


@extend_schema(
    request=CompleteSerializer,
    responses={200: PaymentSerializer, 400: OpenApiTypes.OBJECT, 403: _error, 404: _error, 409: _error, 413: _error, 415: _error},
    summary="Force a payment's outcome (staff)",
)
@api_view(["POST"])
@parser_classes([BoundedJSONParser])
@permission_classes([IsAdminUser])
def payment_complete(request: Request, reference) -> Response:
    incoming = CompleteSerializer(data=request.data)
    incoming.is_valid(raise_exception=True)
    payment = get_object_or_404(Payment, reference=reference)
    try:
        payment = services.payment_force(
            payment=payment,
            outcome=incoming.validated_data["outcome"],
            reason=incoming.validated_data.get("reason", ""),
            actor=f"operator:{request.user.get_username()}",
        )
    except services.InvalidValue as exc:
        return Response({exc.field: [str(exc)]}, status=400)
    except services.PaymentError as exc:
        return Response({"detail": str(exc)}, status=409)
    return Response(payment_snapshot(payment))


_wallet = inline_serializer("Wallet", {
    "party_id": serializers.CharField(),
    "balances": serializers.ListField(child=inline_serializer("WalletBalance", {
        "currency": serializers.CharField(), "balance": serializers.CharField(help_text='e.g. "9900.00"'),
    })),
})


@extend_schema(responses={200: _wallet, 403: _error, 404: _error}, summary="A party's wallet balances (staff)")
@api_view(["GET"])
@permission_classes([IsAdminUser])
def wallet_detail(request: Request, party_id: str) -> Response:
    """The ledger's wallets of one payer or payee, one per currency (docs/ledger.md)."""
    balances = wallet_balances(party_id)
    if not balances:
        return Response({"detail": "No wallet for that party: it has not paid or been paid yet."}, status=404)
    return Response({"party_id": party_id, "balances": balances})
