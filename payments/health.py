from asgiref.sync import async_to_sync
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from payments import events, providers
from payments.selectors import worker_status


def _database() -> tuple[str, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        worker = worker_status()
    except Exception as exc:
        return f"down: {type(exc).__name__}", "unknown"
    return "ok", worker


def _channel_layer() -> str:
    # A send to an empty group still makes a round trip to Redis (a no-op in memory).
    try:
        async_to_sync(events.send_now)(events.healthz_probe())
    except Exception as exc:
        return f"down: {type(exc).__name__}"
    return "ok"


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    database, worker = _database()
    layer = _channel_layer()
    body = {"database": database, "channel_layer": layer, "worker": worker}
    if providers.active().decides_upstream:
        # Reported, but not a 503: pages and the dashboard still serve, and the status
        # schedule catches up once the upstream accepts the credentials again.
        body["provider"] = providers.active().health()
    healthy = database == "ok" and layer == "ok"
    return JsonResponse(body, status=200 if healthy else 503)
