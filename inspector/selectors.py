"""Reads of recorded calls: the page's rows, one call, a payment's calls, the JSON export."""

import uuid
from datetime import datetime
from typing import Any

from django.db.models import Count, Max, QuerySet

from inspector import recorder
from inspector.models import ApiCall
from regions.inspector_calls import ROWS, CallFilter

EXPORT_MAX = 2000
SUMMARY_WORDS = {
    "requesttopay": "request to pay sent",
    "status": "status read",
    "deliverynotification": "delivery notification sent",
    "callback": "callback attempted",
    "token": "token fetched",
}


def filtered(view: CallFilter) -> QuerySet[ApiCall]:
    rows = ApiCall.objects.all()
    if view.api_user:
        try:
            rows = rows.filter(api_user=uuid.UUID(view.api_user))
        except ValueError:
            return rows.none()
    if view.product:
        rows = rows.filter(product=view.product)
    if view.outcome == "none":
        rows = rows.filter(status__isnull=True)
    elif view.outcome:
        low = int(view.outcome[0]) * 100
        rows = rows.filter(status__gte=low, status__lt=low + 100)
    if view.reference:
        rows = rows.filter(reference__iexact=view.reference)
    if view.direction:
        rows = rows.filter(direction=view.direction)
    return rows


def latest(view: CallFilter, limit: int = ROWS) -> list[dict[str, Any]]:
    """The newest `limit` calls matching `view`, newest first, as snapshots."""
    summary = filtered(view).defer("request_headers", "request_body", "response_body")
    return [recorder.snapshot(call) for call in summary.order_by("-id")[:limit]]


def one(call_id: int) -> ApiCall | None:
    return ApiCall.objects.filter(pk=call_id).first()


def export(view: CallFilter, limit: int = EXPORT_MAX) -> list[dict[str, Any]]:
    """Every field of the newest calls (redacted when recorded), for the JSON export."""
    rows = []
    for call in filtered(view).order_by("-id")[:limit]:
        row = recorder.snapshot(call)
        row.update(
            host=call.host, user_agent=call.user_agent, request_headers=call.request_headers,
            request_body=call.request_body, response_body=call.response_body,
        )
        rows.append(row)
    return rows


def about_payment(reference: str, now: datetime) -> dict[str, Any]:
    """A payment's calls: one line per operation ("status read 14 times, last 2 s ago")
    and the newest calls themselves."""
    rows = ApiCall.objects.filter(reference__iexact=str(reference))
    lines = []
    for group in rows.values("direction", "operation").annotate(count=Count("id"), last=Max("at")).order_by("-last"):
        what = SUMMARY_WORDS.get(group["operation"], group["operation"])
        if group["direction"] == "upstream":
            what = f"upstream {what}"
        times = "once" if group["count"] == 1 else f"{group['count']} times"
        lines.append(f"{what} {times}, last {_ago(now, group['last'])}")
    calls = [recorder.snapshot(c) for c in rows.defer("request_headers", "request_body", "response_body").order_by("-id")[:20]]
    return {"lines": lines, "calls": calls}


def _ago(now: datetime, then: datetime) -> str:
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 60:
        return f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"
