"""The operator dashboard: staff-only pages and htmx actions, each action one service call.

Every region the socket pushes (a row, the counters, the settings panel) is one partial of
`dashboard/dashboard.html`, rendered by these context functions from plain snapshots, so
the page and `consumers/dashboard.py` render it the same way.
"""

import random
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from django import forms
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_POST

from dashboard.filters import ROWS, Filter
from payments import outcomes, services
from payments.models import Payment, PaymentLog
from payments.models import MomoApiUser
from payments.momo.errors import MomoError
from payments.momo.parsing import callback_host
from payments.selectors import (
    dashboard_stats,
    momo_users,
    payment_by_reference,
    payment_snapshot,
    settings_snapshot,
    simulator_settings,
)

PAGE = "dashboard/dashboard.html"
ROW = f"{PAGE}#row"
STATS = f"{PAGE}#stats"
SETTINGS = f"{PAGE}#settings"
TOAST = f"{PAGE}#toast"
MOMO = f"{PAGE}#momo"
REASONS = sorted(outcomes.REASONS)
DEFAULT_FAIL_REASON = "APPROVAL_REJECTED"


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous pages go to the login page; anything else not staff is 403, actions included."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated and request.method == "GET":
            return redirect_to_login(request.get_full_path())
        if not request.user.is_staff:
            raise PermissionDenied("Staff only.")
        return view(request, *args, **kwargs)

    return guarded


def actor_of(request: HttpRequest) -> str:
    return f"operator:{request.user.get_username()}"


# --- contexts shared with the consumer -----------------------------------------------------


def row_context(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {
        "p": snapshot,
        "processing": snapshot["status"] == Payment.Status.PROCESSING,
        "reason_text": outcomes.reason_text(snapshot["reason"]) if snapshot["reason"] else "",
    }


CHART_WIDTH, CHART_HEIGHT = 300, 64


def chart_bars(per_minute: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Bars of a small SVG chart, tallest bar at full height; geometry here, not in the template."""
    peak = max((m["count"] for m in per_minute), default=0) or 1
    slot = CHART_WIDTH / max(len(per_minute), 1)
    bars = []
    for i, minute in enumerate(per_minute):
        height = round(minute["count"] / peak * (CHART_HEIGHT - 14), 1)
        bars.append(
            {
                "x": round(i * slot + 1, 1),
                "width": round(slot - 2, 1),
                "y": round(CHART_HEIGHT - height, 1),
                "height": height,
                "count": minute["count"],
                "minute": minute["minute"][11:16],
            }
        )
    return bars


def stats_context(stats: dict[str, Any]) -> dict[str, Any]:
    ratio = stats["success_ratio"]
    median = stats["median_settle_seconds"]
    return {
        "s": stats,
        "ratio": "—" if ratio is None else f"{ratio:.0%}",
        "median": "—" if median is None else f"{median:.1f} s",
        "bars": chart_bars(stats["per_minute"]),
        "chart_width": CHART_WIDTH,
        "chart_height": CHART_HEIGHT,
        "per_minute_total": sum(m["count"] for m in stats["per_minute"]),
    }


class SettingsForm(forms.Form):
    timeout_seconds = forms.FloatField(
        label="Timeout (s)", min_value=0, max_value=86_400,
        error_messages={"invalid": "Timeout must be a number of seconds.",
                        "min_value": "Timeout must be 0 seconds or more.",
                        "max_value": "Timeout must be at most 86400 seconds (a day)."},
    )
    success_rate = forms.FloatField(
        label="Success rate (0–1)", min_value=0, max_value=1,
        error_messages={"invalid": "Success rate must be a number between 0 and 1.",
                        "min_value": "Success rate must be between 0 and 1: 0.9 means 9 in 10 succeed.",
                        "max_value": "Success rate must be between 0 and 1: 0.9 means 9 in 10 succeed."},
    )
    expiry_seconds = forms.IntegerField(
        label="Expiry (s)", min_value=1, max_value=7 * 86_400,
        error_messages={"invalid": "Expiry must be a whole number of seconds.",
                        "min_value": "Expiry must be at least 1 second.",
                        "max_value": "Expiry must be at most 604800 seconds (a week)."},
    )


def settings_context(config: dict[str, Any], form: SettingsForm | None = None) -> dict[str, Any]:
    # 30 rather than 30.0 in the inputs.
    initial = {name: f"{value:g}" if isinstance(value, float) else value for name, value in config.items()}
    return {"config": config, "form": form or SettingsForm(initial=initial)}


def render_partial(name: str, context: dict[str, Any], *, oob: bool = False) -> str:
    """`oob`: an htmx out-of-band swap by id, for HTTP answers (socket messages swap by id anyway)."""
    return render_to_string(name, {**context, "oob": oob})


def rows_html(snapshots: list[dict[str, Any]], render_row: Callable[[dict[str, Any]], str] | None = None) -> str:
    render_row = render_row or (lambda snapshot: render_partial(ROW, row_context(snapshot)))
    return "".join(render_row(snapshot) for snapshot in snapshots)


# --- pages -------------------------------------------------------------------------------


def dashboard_snapshot(view: Filter, stats: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything a dashboard shows, read once: the page and every socket (re)connect use it.

    `stats`: counters read moments ago by the consumers' hub, reused rather than re-read.
    """
    payments = [payment_snapshot(p) for p in view.apply(Payment.objects.all())[:ROWS]]
    return {
        "payments": payments,
        "stats": stats if stats is not None else dashboard_stats(),
        "settings": settings_snapshot(simulator_settings()),
    }


@require_GET
@staff_required
def dashboard(request: HttpRequest) -> HttpResponse:
    view = Filter.from_params(request.GET)
    snapshot = dashboard_snapshot(view)
    context = {
        "rows_html": mark_safe(rows_html(snapshot["payments"])),
        "filter": view,
        "statuses": Payment.Status.choices,
        "reasons": REASONS,
        "default_reason": DEFAULT_FAIL_REASON,
        "ws_url": "/ws/dashboard/" + (f"?{view.query_string()}" if view.active else ""),
        **stats_context(snapshot["stats"]),
        **settings_context(snapshot["settings"]),
        **momo_context(request),
    }
    return render(request, PAGE, context)


def momo_context(request: HttpRequest, created: dict[str, str] | None = None) -> dict[str, Any]:
    """The "MoMo clients" panel: the three values a MoMo client needs (a new key shown once)."""
    return {
        "momo_base_url": request.build_absolute_uri("/").rstrip("/"),
        "momo_subscription_key": services.momo_subscription_keys()[0],
        "momo_users": momo_users(),
        "momo_created": created,
        "momo_reason_formats": MomoApiUser.ReasonFormat.choices,
    }


def _payment_or_404(reference) -> Payment:
    payment = payment_by_reference(reference)
    if payment is None:
        raise Http404("No payment with that reference.")
    return payment


@require_GET
@staff_required
def payment_detail(request: HttpRequest, reference) -> HttpResponse:
    payment = _payment_or_404(reference)
    context = {
        **row_context(payment_snapshot(payment)),
        "payment": payment,
        "logs": PaymentLog.objects.filter(payment=payment).order_by("created_at", "id"),
        "reasons": REASONS,
        "default_reason": DEFAULT_FAIL_REASON,
    }
    return render(request, "dashboard/payment.html", context)


# --- actions: htmx POSTs, answered with a toast (and the changed region) ------------------


def toast(message: str, *, level: str = "ok", status: int = 200, extra: str = "") -> HttpResponse:
    """The answer to an action; the page's htmx swaps 4xx toasts too (static/js/dashboard.js)."""
    html = render_partial(TOAST, {"message": message, "level": level}) + extra
    return HttpResponse(html, status=status)


def _short(reference: Any) -> str:
    return str(reference)[:8]


@require_POST
@staff_required
def payment_force(request: HttpRequest, reference) -> HttpResponse:
    payment = payment_by_reference(reference)
    if payment is None:
        return toast("No payment with that reference.", level="error", status=404)
    outcome = request.POST.get("outcome", "")
    reason = request.POST.get("reason", "") or DEFAULT_FAIL_REASON
    if outcome not in (Payment.Status.SUCCESSFUL, Payment.Status.FAILED):
        return toast("Choose an outcome: successful or failed.", level="error", status=422)
    if outcome == Payment.Status.FAILED and reason not in outcomes.REASONS:
        return toast(f"Unknown MoMo reason code: {reason[:48]}.", level="error", status=422)
    try:
        payment = services.payment_force(payment=payment, outcome=outcome, reason=reason, actor=actor_of(request))
    except services.PaymentError as exc:
        payment.refresh_from_db()
        if not payment.is_final:  # refused, not raced: an upstream payment
            return toast(f"Payment {_short(reference)} cannot be forced: {exc}.", level="error", status=409)
        # Lost the race (to the worker or another operator): say so, show the winner's result.
        row = render_partial(ROW, row_context(payment_snapshot(payment)), oob=True)
        return toast(
            f"Payment {_short(reference)} is already settled ({payment.status}); nothing changed.",
            level="warn", status=409, extra=row,
        )
    done = "successful" if outcome == Payment.Status.SUCCESSFUL else f"failed ({reason})"
    row = render_partial(ROW, row_context(payment_snapshot(payment)), oob=True)
    return toast(f"Payment {_short(reference)} forced {done}.", extra=row)


@require_POST
@staff_required
def settle_all(request: HttpRequest) -> HttpResponse:
    """The browser's `auto_complete_demo_payments --timeout 0`: every processing payment, now."""
    config = simulator_settings()
    counts = services.payment_settle_all(
        older_than=timedelta(0), success_rate=config.success_rate, rng=random.Random(), actor=actor_of(request)
    )
    total = counts["successful"] + counts["failed"]
    if not total:
        return toast("Nothing to settle: no payment is processing.")
    return toast(f"Settled {total} now: {counts['successful']} successful, {counts['failed']} failed.")


def _settings_answer(request: HttpRequest, message: str, **changes: Any) -> HttpResponse:
    config = services.settings_update(actor=actor_of(request), **changes)
    panel = render_partial(SETTINGS, settings_context(settings_snapshot(config)), oob=True)
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
def settings_save(request: HttpRequest) -> HttpResponse:
    form = SettingsForm(request.POST)
    if not form.is_valid():
        config = settings_snapshot(simulator_settings())
        panel = render_partial(SETTINGS, settings_context(config, form), oob=True)
        first = next(iter(form.errors.values()))[0]
        return toast(first, level="error", status=422, extra=panel)
    return _settings_answer(request, "Settings saved; every worker applies them now.", **form.cleaned_data)


@require_POST
@staff_required
def momo_client_create(request: HttpRequest) -> HttpResponse:
    """One click: a new MoMo API user and its key, shown in the panel this once."""
    try:
        host = callback_host(request.POST.get("callback_host", "") or "localhost")
        user, api_key = services.momo_credentials_create(
            provider_callback_host=host,
            reason_format=request.POST.get("reason_format", "") or MomoApiUser.ReasonFormat.STRING,
            actor=actor_of(request),
        )
    except MomoError as exc:
        return toast(exc.message, level="error", status=422)
    except services.PaymentError as exc:
        return toast(f"{str(exc)[:1].upper()}{str(exc)[1:]}.", level="error", status=422)
    created = {"api_user": str(user.id), "api_key": api_key, "host": user.provider_callback_host}
    panel = render_partial(MOMO, momo_context(request, created), oob=True)
    return toast(f"MoMo client {_short(user.id)} created: copy its API key now, it is shown once.", extra=panel)
