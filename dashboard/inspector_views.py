"""The integration inspector's pages (staff): the live list of calls, one call expanded
(headers, bodies, Copy as curl), the JSON export, and the report cards."""

import uuid

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET

from dashboard.common import staff_required
from inspector import curl, selectors
from inspector import report as report_cards
from payments.models import Payment
from payments.selectors import momo_users
from regions import inspector_calls
from regions.inspector_calls import CallFilter

PAGE = "dashboard/inspector.html"


@require_GET
@staff_required
def inspector(request: HttpRequest) -> HttpResponse:
    view = CallFilter.from_params(request.GET)
    context = {
        "filter": view,
        "call_rows": [inspector_calls.render(call) for call in selectors.latest(view)],
        "rows_max": inspector_calls.ROWS,
        "ws_url": "/ws/inspector/" + (f"?{view.query_string()}" if view.active else ""),
        "api_users": momo_users(),
        "products": inspector_calls.PRODUCTS,
        "outcomes": inspector_calls.OUTCOMES,
        "directions": inspector_calls.DIRECTIONS,
    }
    return render(request, PAGE, context)


@require_GET
@staff_required
def call_detail(request: HttpRequest, call_id: int) -> HttpResponse:
    call = selectors.one(call_id)
    if call is None:
        raise Http404("No such call (the oldest are dropped first).")
    payment_url = ""
    reference = _uuid_or_none(call.reference)
    if reference and Payment.objects.filter(reference=reference).exists():
        payment_url = reverse("dashboard-payment", args=[call.reference])
    base = f"{request.scheme}://{call.host or request.get_host()}"
    context = {"call": call, "curl": curl.as_curl(call, base), "payment_url": payment_url}
    return HttpResponse(render_to_string(f"{PAGE}#detail", context, request=request))


def _uuid_or_none(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


@require_GET
@staff_required
def export(request: HttpRequest) -> JsonResponse:
    view = CallFilter.from_params(request.GET)
    return JsonResponse({"filter": view.query_string(), "calls": selectors.export(view)})


def _cards(request: HttpRequest) -> list[dict]:
    wanted = request.GET.get("api_user", "").strip()[:64]
    users = [wanted] if wanted else report_cards.users_seen(limit=20)
    return [card for card in (report_cards.card(user) for user in users) if card is not None]


@require_GET
@staff_required
def report(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard/inspector_report.html", {"cards": _cards(request), "users": report_cards.users_seen()})


@require_GET
@staff_required
def report_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"cards": _cards(request)})
