"""Records every request on a MoMo path (by path prefix, so products added later are
recorded too), after its answer is made: the answer is never changed or delayed by more
than building one row and queueing it (inspector/recorder.py)."""

import logging
import time

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from inspector import recorder, rows

logger = logging.getLogger("payments.inspector")


class InspectorMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not settings.INSPECTOR_ENABLED or not rows.is_momo_path(request.path):
            return self.get_response(request)
        started = time.perf_counter()
        response = self.get_response(request)
        try:
            recorder.record(rows.inbound(request, response, time.perf_counter() - started))
        except Exception as exc:  # recording never fails a call
            logger.warning("a call was not recorded (%s): %s", type(exc).__name__, exc)
        return response
