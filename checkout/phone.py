"""The payer's phone: a MoMo-style approval prompt, reached only through the payment's
`approval_token` (never through its reference), and its QR code on the checkout page.

The prompt is a pushed region (`regions/phone_prompt.py`), rendered by these views and by
the phone page's socket (`consumers/phone.py`).
"""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_POST

from checkout.qr import qr_svg
from payments import services
from payments.models import Payment
from payments.selectors import payment_by_approval_token, payment_snapshot
from regions import phone_prompt
from regions import wallet as wallet_region
from regions.phone_prompt import PAGE, PARTIAL as PROMPT


def phone_path(payment: Payment) -> str:
    return f"/p/{payment.approval_token}/"


def public_base(request: HttpRequest) -> str:
    """Where another device reaches this server: PUBLIC_URL, else the address this page came from."""
    return settings.PUBLIC_URL or f"{request.scheme}://{request.get_host()}"


def phone_link(request: HttpRequest, payment: Payment) -> dict[str, Any]:
    """What the checkout page shows to open the phone page on another device."""
    url = public_base(request) + phone_path(payment)
    return {"phone_url": url, "phone_path": phone_path(payment), "phone_qr": qr_svg(url, label="Scan to approve on your phone")}


def _not_found(request: HttpRequest) -> HttpResponse:
    return render(request, "404.html", status=404)


def _answer(request: HttpRequest, payment: Payment, *, message: str = "", level: str = "", status: int = 200) -> HttpResponse:
    snapshot = payment_snapshot(payment)
    context = phone_prompt.context(snapshot, message=message, level=level, balance=phone_prompt.balance_after(snapshot))
    context.update(wallet_region.context(wallet_region.read(snapshot)))
    # htmx swaps the prompt; a browser without JavaScript gets the whole page back.
    template = PROMPT if request.headers.get("HX-Request") else PAGE
    return render(request, template, context, status=status)


@require_GET
@xframe_options_sameorigin  # the checkout page embeds it as the simulated phone
def phone_page(request: HttpRequest, token: str) -> HttpResponse:
    payment = payment_by_approval_token(token)
    if payment is None:
        return _not_found(request)
    snapshot = payment_snapshot(payment)
    context = phone_prompt.context(snapshot, balance=phone_prompt.balance_after(snapshot))
    return render(request, PAGE, {**context, **wallet_region.context(wallet_region.read(snapshot)), "token": token})


@require_GET
def phone_status(request: HttpRequest, token: str) -> HttpResponse:
    """The prompt fragment, for the phone page's polling fallback; 286 stops it at a final state."""
    payment = payment_by_approval_token(token)
    if payment is None:
        return _not_found(request)
    snapshot = payment_snapshot(payment)
    context = phone_prompt.context(snapshot, balance=phone_prompt.balance_after(snapshot))
    return render(request, PROMPT, context, status=286 if payment.is_final else 200)


@require_POST
def phone_approve(request: HttpRequest, token: str) -> HttpResponse:
    pin = request.POST.get("pin", "")[:16]
    return _payer_answers(request, token, lambda payment: services.payment_approve(payment=payment, pin=pin))


@require_POST
def phone_decline(request: HttpRequest, token: str) -> HttpResponse:
    return _payer_answers(request, token, lambda payment: services.payment_decline(payment=payment))


def _payer_answers(request: HttpRequest, token: str, answer: Callable[[Payment], Payment]) -> HttpResponse:
    payment = payment_by_approval_token(token)
    if payment is None:
        return _not_found(request)
    try:
        payment = answer(payment)
    except services.WrongPin as exc:
        return _answer(request, payment, message=f"Wrong PIN. Try again (attempt {exc.attempts}).", level="error")
    except services.PaymentError as exc:
        return _refused(request, payment, exc)
    return _answer(request, payment)


def _refused(request: HttpRequest, payment: Payment, exc: services.PaymentError) -> HttpResponse:
    payment.refresh_from_db()
    if payment.is_final:
        # Works once: a replay (or a click that lost to the timer) changes nothing.
        return _answer(request, payment, message="This payment is already settled; nothing changed.", level="warn", status=409)
    return _answer(request, payment, message=str(exc), level="error", status=422)
