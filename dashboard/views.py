"""The operator dashboard: staff-only pages and htmx actions, each action one service call.

Every region the socket pushes (a row, the counters, the settings panel) is owned by its
module in `regions/`, which this page and `consumers/dashboard.py` both render through.
"""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from payments import callbacks, outcomes, providers, services, validation
from payments.filters import Filter
from payments.models import CallbackDelivery, Payment, PaymentLog
from payments.models import MomoApiUser
from momo.auth import parse_user_id
from payments.selectors import callback_snapshot, momo_users, payment_by_reference, payment_snapshot, settings_snapshot, simulator_settings
from presenter import runner as presenter
from regions import balances as balances_panel
from inspector import selectors as inspector_selectors
from regions import callbacks as callbacks_panel, counters, inspector_calls, payment_row, settings_panel

from dashboard.common import PAGE, actor_of, render_partial, staff_required, toast, _short  # noqa: F401
from dashboard.room import presenter_context
MOMO = f"{PAGE}#momo"
REASONS = sorted(outcomes.REASONS)


# --- pages -------------------------------------------------------------------------------


@require_GET
@staff_required
def dashboard(request: HttpRequest) -> HttpResponse:
    view = Filter.from_params(request.GET)
    snapshot = payment_row.read(view)
    # Shown to a room (`?phones=masked`): phone numbers masked, in the page and its pushes.
    masked = request.GET.get("phones") == "masked"
    context = {
        "payment_rows": [payment_row.render(p, room=masked) for p in snapshot["payments"]],
        "filter": view,
        "masked": masked,
        "statuses": Payment.Status.choices,
        "kinds": Payment.Kind.choices,
        "reasons": REASONS,
        "default_reason": services.DEFAULT_FAIL_REASON,
        "ws_url": _socket_url(view, masked),
        "provider": providers.status(),
        **counters.context(snapshot["stats"]),
        **settings_panel.context(snapshot["settings"]),
        **momo_context(request),
        **presenter_context(),
        "callback_rows": [callbacks_panel.render(c) for c in snapshot["callbacks"]],
        "callbacks_shown": callbacks_panel.CALLBACKS_SHOWN,
        "balances_panel": balances_panel.render(snapshot["balances"]),
        "callback_setting_names": [(name, setting.help) for name, setting in callbacks.SETTINGS.items()],
    }
    return render(request, PAGE, context)


def _socket_url(view: Filter, masked: bool) -> str:
    query = "&".join(q for q in (view.query_string() if view.active else "", "phones=masked" if masked else "") if q)
    return "/ws/dashboard/" + (f"?{query}" if query else "")


def momo_context(request: HttpRequest, created: dict[str, str] | None = None) -> dict[str, Any]:
    """The "MoMo clients" panel: the three values a MoMo client needs (a new key shown once)."""
    return {
        "momo_base_url": request.build_absolute_uri("/").rstrip("/"),
        "momo_subscription_key": services.momo_subscription_keys()[0],
        "momo_product_keys": [(p, services.momo_product_subscription_keys(p)[0]) for p in settings.MOMO_PRODUCTS],
        "momo_users": momo_users(),
        "momo_created": created,
        "momo_reason_formats": MomoApiUser.ReasonFormat.choices,
        "momo_readings": MomoApiUser.Readings.choices,
    }


@require_GET
@staff_required
def payment_detail(request: HttpRequest, reference) -> HttpResponse:
    payment = get_object_or_404(Payment, reference=reference)
    snapshot = payment_snapshot(payment)
    context = {
        **payment_row.context(snapshot),
        "row_html": payment_row.render(snapshot),  # a rendered partial: safe as it is
        "ws_url": "/ws/dashboard/?" + Filter(q=str(payment.reference)).query_string(),
        "payment": payment,
        # Pairs, not the dict: a key such as "items" must not shadow dict.items in a template.
        "booking": validation.booking_rows(snapshot["booking_details"]),
        "logs": PaymentLog.objects.filter(payment=payment).order_by("created_at", "id"),
        "reasons": REASONS,
        "default_reason": services.DEFAULT_FAIL_REASON,
        "calls": inspector_selectors.about_payment(str(payment.reference), timezone.now()),
    }
    context["call_rows"] = [inspector_calls.render(call) for call in context["calls"]["calls"]]
    return render(request, "dashboard/payment.html", context)


# --- actions: htmx POSTs, answered with a toast (and the changed region) ------------------


@require_POST
@staff_required
def payment_force(request: HttpRequest, reference) -> HttpResponse:
    payment = payment_by_reference(reference)
    if payment is None:
        return toast("No payment with that reference.", level="error", status=404)
    outcome = request.POST.get("outcome", "")
    # The page's reason select is sent with either button; it counts for "Fail" only.
    reason = request.POST.get("reason", "") if outcome == Payment.Status.FAILED else ""
    try:
        payment = services.payment_force(payment=payment, outcome=outcome, reason=reason, actor=actor_of(request))
    except services.InvalidValue as exc:
        return toast(str(exc), level="error", status=422)
    except services.PaymentError as exc:
        payment.refresh_from_db()
        if not payment.is_final:  # refused, not raced: an upstream payment
            return toast(f"Payment {_short(reference)} cannot be forced. {exc}", level="error", status=409)
        # Lost the race (to the worker or another operator): say so, show the winner's result.
        row = payment_row.render(payment_snapshot(payment), oob=True)
        return toast(
            f"Payment {_short(reference)} is already settled ({payment.status}); nothing changed.",
            level="warn", status=409, extra=row,
        )
    done = "successful" if payment.status == Payment.Status.SUCCESSFUL else f"failed ({payment.reason})"
    row = payment_row.render(payment_snapshot(payment), oob=True)
    return toast(f"Payment {_short(reference)} forced {done}.", extra=row)


@require_POST
@staff_required
def payment_refund(request: HttpRequest, reference) -> HttpResponse:
    """Give back all that is left of a successful payment, or the amount typed beside
    "Refund": a refund payment that settles by the same rules (and the ledger's)."""
    payment = payment_by_reference(reference)
    if payment is None:
        return toast("No payment with that reference.", level="error", status=404)
    amount = request.POST.get("refund_amount", "").strip()[:20] or payment.amount - payment.refunded_amount
    try:
        refund = services.payment_refund(payment=payment, amount=amount, actor=actor_of(request), strict=True)
    except services.InvalidValue as exc:
        return toast(f"Not refunded: {exc}", level="error", status=422)
    except services.PaymentError as exc:
        return toast(f"Payment {_short(reference)} cannot be refunded: {exc}", level="error", status=409)
    return toast(
        f"Refund of {refund.amount:.2f} {refund.currency} for payment {_short(reference)} started "
        f"({_short(refund.reference)}): it settles like any payment."
    )


@require_POST
@staff_required
def balances_change(request: HttpRequest) -> HttpResponse:
    """An operator's balance change: top up or set a merchant's float, or set a wallet."""
    action, amount = request.POST.get("action", ""), request.POST.get("amount", "").strip()[:20]
    currency = request.POST.get("currency", "").strip().upper()[:3]
    try:
        if action == "wallet":
            party = request.POST.get("party_id", "").strip()
            account = services.wallet_set_balance(party_id=party, currency=currency, balance=amount, actor=actor_of(request))
            return toast(f"Wallet of {party} set to {account.balance:.2f} {currency}.")
        user = None
        if request.POST.get("merchant"):
            user = MomoApiUser.objects.filter(pk=parse_user_id(request.POST["merchant"])).first()
            if user is None:
                return toast("No MoMo API user with that id.", level="error", status=404)
        change = services.float_top_up if action == "top_up" else services.float_set
        field = "amount" if action == "top_up" else "balance"
        product = request.POST.get("product", "")
        account = change(momo_user=user, product=product, currency=currency, actor=actor_of(request), **{field: amount})
    except services.InvalidValue as exc:
        return toast(f"Not changed: {exc}", level="error", status=422)
    owner = f"API user {_short(user.pk)}" if user else "the house"
    return toast(f"The {product} float of {owner} is now {account.balance:.2f} {currency}.")


@require_POST
@staff_required
def settle_all(request: HttpRequest) -> HttpResponse:
    """The browser's `auto_complete_demo_payments --timeout 0`: every processing payment, now."""
    config = simulator_settings()
    counts = services.payment_settle_all(older_than=timedelta(0), success_rate=config.success_rate, actor=actor_of(request))
    total = counts["successful"] + counts["failed"]
    if not total:
        return toast("Nothing to settle: no payment is processing.")
    return toast(f"Settled {total} now: {counts['successful']} successful, {counts['failed']} failed.")


def _settings_answer(request: HttpRequest, message: str, **changes: Any) -> HttpResponse:
    config = services.settings_update(actor=actor_of(request), **changes)
    panel = render_partial(settings_panel.PARTIAL, settings_panel.context(settings_snapshot(config)), oob=True)
    return toast(message, extra=panel)


@require_POST
@staff_required
def pause(request: HttpRequest) -> HttpResponse:
    return _settings_answer(request, "Auto-settlement paused: no worker settles until you resume.", paused=True)


@require_POST
@staff_required
def resume(request: HttpRequest) -> HttpResponse:
    return _settings_answer(request, "Auto-settlement resumed: what is due settles now.", paused=False)


@require_POST
@staff_required
def reset_demo(request: HttpRequest) -> HttpResponse:
    """Remove every payment and its log (the button asks first); every open page resyncs."""
    # A scenario playing ends first: its settings go back, and it creates nothing after the reset.
    presenter.stop("scenario")
    removed = services.demo_reset(actor=actor_of(request))
    return toast(f"Demo reset: {removed} payment{'s' if removed != 1 else ''} removed.")


@require_POST
@staff_required
def approval_mode(request: HttpRequest) -> HttpResponse:
    mode = request.POST.get("approval_mode", "")[:16]
    try:
        if mode == "phone":
            return _settings_answer(request, "Approval on the phone: new payments wait for their payer (or expire).", approval_mode=mode)
        return _settings_answer(request, "Approval by timer: new payments settle at the timeout unless the payer answers first.", approval_mode=mode)
    except services.PaymentError as exc:
        return toast(str(exc), level="error", status=422)


@require_POST
@staff_required
def settings_save(request: HttpRequest) -> HttpResponse:
    form = settings_panel.SettingsForm(request.POST)
    if not form.is_valid():
        panel = render_partial(settings_panel.PARTIAL, settings_panel.context(settings_panel.read(), form), oob=True)
        first = next(iter(form.errors.values()))[0]
        return toast(first, level="error", status=422, extra=panel)
    return _settings_answer(request, "Settings saved; every worker applies them now.", **form.cleaned_data)


@require_POST
@staff_required
def momo_client_create(request: HttpRequest) -> HttpResponse:
    """One click: a new MoMo API user and its key, shown in the panel this once."""
    try:
        user, api_key = services.momo_credentials_create(
            provider_callback_host=request.POST.get("callback_host", "") or "localhost",
            reason_format=request.POST.get("reason_format", "") or MomoApiUser.ReasonFormat.STRING,
            readings=request.POST.get("readings", "") or MomoApiUser.Readings.PAGES,
            actor=actor_of(request),
        )
    except services.InvalidValue as exc:
        return toast(str(exc), level="error", status=422)
    except services.PaymentError as exc:
        return toast(str(exc), level="error", status=422)
    created = {"api_user": str(user.id), "api_key": api_key, "host": user.provider_callback_host}
    panel = render_partial(MOMO, momo_context(request, created), oob=True)
    return toast(f"MoMo client {_short(user.id)} created: copy its API key now, it is shown once.", extra=panel)


@require_POST
@staff_required
def callback_resend(request: HttpRequest, delivery_id: int) -> HttpResponse:
    delivery = CallbackDelivery.objects.select_related("payment").filter(pk=delivery_id).first()
    if delivery is None:
        return toast("No callback with that id.", level="error", status=404)
    try:
        delivery = services.callback_resend(delivery=delivery, actor=actor_of(request))
    except services.PaymentError as exc:
        return toast(f"Not resent. {exc}", level="warn", status=409)
    row = callbacks_panel.render(callback_snapshot(delivery), oob=True)
    return toast(f"Callback for payment {_short(delivery.payment.reference)} resent now.", extra=row)


@require_POST
@staff_required
def callback_settings_save(request: HttpRequest) -> HttpResponse:
    """One live callback setting, globally or for one API user (empty value: the default)."""
    user = None
    if request.POST.get("api_user"):
        user = MomoApiUser.objects.filter(pk=parse_user_id(request.POST["api_user"])).first()
        if user is None:
            return toast("No MoMo API user with that id.", level="error", status=404)
    name, value = request.POST.get("name", ""), request.POST.get("value", "").strip()[:200]
    if not value:
        value = None if user else callbacks.SETTINGS[name].default if name in callbacks.SETTINGS else value
    try:
        values = services.callback_settings_update(actor=actor_of(request), momo_user=user, **{name: value})
    except callbacks.SettingError as exc:
        return toast(str(exc), level="error", status=422)
    scope = f"API user {_short(user.pk)}" if user else "every API user"
    return toast(f"Callbacks for {scope}: {name} is now {values[name]}.")
