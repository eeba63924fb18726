"""The customer's side: the checkout form and the payment page with its pushed status."""

from typing import Any

from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseStopPolling

from payments import ratelimit, services, validation
from checkout.phone import phone_link
from payments.selectors import payment_by_reference, payment_snapshot
from regions import checkout_status


class CheckoutForm(forms.Form):
    item = forms.CharField(max_length=80, initial="Gorilla trekking permit")
    date = validation.AsciiDateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    guests = validation.AsciiIntegerField(min_value=1, max_value=50, initial=2)
    amount = forms.CharField(max_length=20, initial="100.00")
    currency = forms.ChoiceField(choices=[])
    phone_number = forms.CharField(max_length=20, initial="46733123499", label="Phone number")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = [(c, c) for c in settings.PAYMENT_CURRENCIES]

    def clean_item(self) -> str:
        return validation.clean_text(self.cleaned_data["item"], label="Item", max_length=80, required=True)

    def booking_details(self) -> dict[str, Any]:
        data = self.cleaned_data
        details: dict[str, Any] = {"item": data["item"]}
        if data.get("date"):
            details["date"] = data["date"].isoformat()
        details["guests"] = data["guests"]
        return details


TEST_NUMBER_HINTS = [
    ("46733123450", "fails: internal processing error"),
    ("46733123451", "fails: rejected on the phone"),
    ("46733123452", "fails: expired"),
    ("46733123453", "succeeds, but takes twice as long"),
    ("46733123454", "never answers, then expires"),
    ("46733123455 … 63", "fail with other MoMo reasons"),
    ("any other number", "succeeds or fails at the configured rate"),
]


@require_http_methods(["GET", "POST"])
@xframe_options_sameorigin  # the projector screen embeds it as the simulated phone
def checkout(request: HttpRequest) -> HttpResponse:
    if request.method == "POST" and (wait := ratelimit.create_wait(request)) is not None:
        return too_many(request, wait)
    # Bound on every POST, even an empty one, so it shows its errors instead of a blank form.
    form = CheckoutForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            payment = services.payment_create(
                amount=form.cleaned_data["amount"],
                currency=form.cleaned_data["currency"],
                phone_number=form.cleaned_data["phone_number"],
                booking_details=form.booking_details(),
                actor="customer",
            )
            return redirect("payment-page", reference=payment.reference)
        except services.InvalidValue as exc:  # the payment's own rules, in the service
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
    return render(request, "payments/checkout.html", {"form": form, "hints": TEST_NUMBER_HINTS})


def too_many(request: HttpRequest, wait: int) -> HttpResponse:
    response = render(request, "429.html", {"wait": wait}, status=429)
    response["Retry-After"] = str(wait)
    return response


def _not_found(request: HttpRequest) -> HttpResponse:
    # Rendered here rather than raising Http404, so a customer with a wrong link gets the
    # real 404 page in the DEBUG demo too, not Django's technical one.
    return render(request, "404.html", status=404)


@require_GET
@xframe_options_sameorigin
def payment_page(request: HttpRequest, reference) -> HttpResponse:
    payment = payment_by_reference(reference)
    if payment is None:
        return _not_found(request)
    context = {**checkout_status.context(payment_snapshot(payment)), **phone_link(request, payment)}
    return render(request, "payments/pay.html", context)


@require_GET
def payment_status(request: HttpRequest, reference) -> HttpResponse:
    """The status fragment, for the polling fallback; 286 stops htmx polling at a final state."""
    snapshot = checkout_status.read(reference)
    if snapshot is None:
        return _not_found(request)
    html = render_to_string(checkout_status.PARTIAL, checkout_status.context(snapshot), request)
    return HttpResponse(html) if snapshot["status"] == "processing" else HttpResponseStopPolling(html)
