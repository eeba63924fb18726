"""The REST API: plain function views that parse input and call services."""

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import api_view, permission_classes, throttle_classes
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle

from payments import ratelimit, services
from payments.models import Payment
from payments.selectors import payment_snapshot
from payments.serializers import CompleteSerializer, PaymentCreateSerializer, PaymentSerializer

LIST_LIMIT = 100
_error = inline_serializer("Error", {"detail": serializers.CharField()})


class CreateThrottle(BaseThrottle):
    """Creates count against the caller's limit, shared with the checkout form; reads are free."""

    def allow_request(self, request, view) -> bool:
        self.wait_seconds = ratelimit.create_wait(request) if request.method == "POST" else None
        return self.wait_seconds is None

    def wait(self) -> float | None:
        return self.wait_seconds


@extend_schema(
    methods=["POST"],
    request=PaymentCreateSerializer,
    responses={201: PaymentSerializer, 400: OpenApiTypes.OBJECT, 409: _error, 429: _error},
    parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False)],
    summary="Create a payment (requestToPay)",
)
@extend_schema(
    methods=["GET"],
    responses={200: PaymentSerializer(many=True), 400: _error, 403: _error},
    parameters=[OpenApiParameter("status", str, enum=Payment.Status.values, required=False)],
    summary="List the latest payments (staff)",
)
@api_view(["GET", "POST"])
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
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        payment = services.payment_create(**incoming.validated_data, actor="api")
        return Response(payment_snapshot(payment), status=201)
    if len(key) > 255:
        return Response({"detail": "Idempotency-Key is longer than 255 characters."}, status=400)
    try:
        body = services.payment_create_idempotent(
            key=key,
            fingerprint=services.request_fingerprint(incoming.validated_data),
            render=payment_snapshot,
            actor="api",
            **incoming.validated_data,
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
    return Response(payment_snapshot(get_object_or_404(Payment, reference=reference)))


@extend_schema(
    request=CompleteSerializer,
    responses={200: PaymentSerializer, 400: OpenApiTypes.OBJECT, 403: _error, 404: _error, 409: _error},
    summary="Force a payment's outcome (staff)",
)
@api_view(["POST"])
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
        return Response({"detail": f"Payment is {exc}."}, status=409)
    return Response(payment_snapshot(payment))
