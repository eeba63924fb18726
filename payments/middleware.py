"""A database or Redis outage answers 503 with a clear message, never a traceback."""

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger("payments.outage")

try:
    from redis.exceptions import ConnectionError as RedisConnectionError
except ImportError:  # pragma: no cover - redis comes with channels-redis
    RedisConnectionError = OSError

OUTAGES = (OperationalError, InterfaceError, RedisConnectionError)


class ServiceUnavailableMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OUTAGES):
            return None
        logger.warning("%s %s: service unavailable: %s", request.method, request.path, exception)
        message = "A backing service (database or Redis) is unavailable; try again shortly."
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": message}, status=503, headers={"Retry-After": "5"})
        return HttpResponse(message, status=503, content_type="text/plain", headers={"Retry-After": "5"})
