"""The presenter's controls on the dashboard (scenarios, traffic) and the projector screen."""

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_POST

from checkout.phone import phone_path, public_base
from checkout.qr import qr_svg
from dashboard.common import render_partial, staff_required, toast
from payments.filters import Filter
from payments.selectors import newest_waiting_payment
from presenter import runner as presenter
from presenter import scenarios
from regions import counters, payment_row, presenter_panel, settings_panel


PRESENTER = presenter_panel.PARTIAL


def presenter_context() -> dict[str, Any]:
    return presenter_panel.context(presenter.state())


def _presenter_answer(message: str, *, level: str = "ok", status: int = 200) -> HttpResponse:
    panel = render_partial(PRESENTER, presenter_context(), oob=True)
    return toast(message, level=level, status=status, extra=panel)


@require_POST
@staff_required
def scenario_play(request: HttpRequest) -> HttpResponse:
    try:
        scenario = presenter.play(request.POST.get("scenario", "")[:64])
    except scenarios.ScenarioError as exc:
        return _presenter_answer(str(exc), level="error", status=422)
    held = ""
    if scenario.settings:
        held = " Its settings hold until it ends: " + ", ".join(f"{k} {v}" for k, v in scenario.settings.items()) + "."
    return _presenter_answer(f"Playing {scenario.name}: {scenario.payments} payments.{held}")


@require_POST
@staff_required
def scenario_stop(request: HttpRequest) -> HttpResponse:
    stopped = presenter.stop("scenario")
    return _presenter_answer("Scenario stopped." if stopped else "No scenario is playing.")


@require_POST
@staff_required
def traffic(request: HttpRequest) -> HttpResponse:
    if request.POST.get("traffic") == "on":
        presenter.traffic_on()
        return _presenter_answer(f"Background traffic on: {presenter.TRAFFIC_RATE:g} payments a second.")
    presenter.stop("traffic")
    return _presenter_answer("Background traffic off.")


SCREEN_CARDS = 12  # cards on the projector; the rest of the socket's rows stay hidden


@require_GET
@staff_required
def screen(request: HttpRequest) -> HttpResponse:
    """The projector: the latest payments as large cards, big counters, a "Scan to pay" QR.

    The same regions over the same socket as the dashboard; its CSS draws them large."""
    snapshot = payment_row.read(Filter.from_params({}))
    pay_url = public_base(request) + "/"
    context = {
        "payment_rows": [payment_row.render(p, room=True) for p in snapshot["payments"]],
        "pay_url": pay_url,
        "pay_qr": qr_svg(pay_url, label="Scan to pay"),
        **counters.context(snapshot["stats"]),
        **settings_panel.context(snapshot["settings"]),
    }
    return render(request, "dashboard/screen.html", context)


@require_GET
@staff_required
@xframe_options_sameorigin  # the projector screen frames it
def screen_phone(request: HttpRequest) -> HttpResponse:
    """The projector's simulated phone: the phone page of the newest waiting payment."""
    payment = newest_waiting_payment()
    if payment is None:
        return render(request, "dashboard/screen_phone_idle.html", {"pay_url": public_base(request) + "/"})
    return redirect(phone_path(payment))
