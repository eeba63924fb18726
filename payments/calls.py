"""The domain's outbound calls (callback attempts, upstream provider calls), reported to
whoever listens: the integration inspector registers here (inspector/apps.py), so the
domain imports nothing of it. Reporting never fails or slows the call it reports: a
listener's error is logged and skipped, and listeners only queue the row.
"""

import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("payments.calls")

Listener = Callable[[dict[str, Any]], None]
_listeners: list[Listener] = []


def register(listener: Listener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def outbound_report(**call: Any) -> None:
    """One outbound call: direction ("callback" / "upstream"), method, url, status (None:
    no answer), latency_ms, reference, api_user, request_headers, request_body,
    response_body, error."""
    for listener in _listeners:
        try:
            listener(call)
        except Exception as exc:
            logger.warning("an outbound call was not recorded (%s): %s", type(exc).__name__, exc)
