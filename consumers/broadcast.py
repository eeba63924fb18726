"""The only place that calls `group_send`. Called after commit, from sync code.

Messages on the channel layer (all carry snapshots, so consumers never query per message):
- to `payment-<reference>` and `dashboard`: {"type": "payment.updated", "payment": {...}}
- to `dashboard`: {"type": "settings.updated", "settings": {...}}
- to `settlement-workers`: {"type": "worker.wake"} when a payment or the settings change,
  so a sleeping worker recomputes its next due time at once.

The channel layer delivers at most once; every page resyncs from the database on
(re)connect, so a lost message delays a page, it never leaves it wrong.
"""

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger("consumers.broadcast")

DASHBOARD_GROUP = "dashboard"
WORKER_GROUP = "settlement-workers"


def payment_group(reference: str) -> str:
    """Group names are built from the server-side reference only (a UUID)."""
    return f"payment-{reference}"


async def _send_all(sends: list[tuple[str, dict[str, Any]]]) -> None:
    layer = get_channel_layer()
    for group, message in sends:
        await layer.group_send(group, message)


def _send(sends: list[tuple[str, dict[str, Any]]]) -> None:
    try:
        async_to_sync(_send_all)(sends)
    except Exception as exc:  # the commit stands; pages converge when they resync
        logger.warning("broadcast failed (%s): %s", type(exc).__name__, exc)


def payment_created(snapshot: dict[str, Any]) -> None:
    message = {"type": "payment.updated", "payment": snapshot}
    _send(
        [
            (WORKER_GROUP, {"type": "worker.wake"}),
            (payment_group(snapshot["reference"]), message),
            (DASHBOARD_GROUP, message),
        ]
    )


def payments_changed(snapshots: list[dict[str, Any]]) -> None:
    """Settlements committed together go out in one hop to the event loop."""
    sends = []
    for snapshot in snapshots:
        message = {"type": "payment.updated", "payment": snapshot}
        sends += [(payment_group(snapshot["reference"]), message), (DASHBOARD_GROUP, message)]
    _send(sends)


def settings_changed(snapshot: dict[str, Any]) -> None:
    _send(
        [
            (WORKER_GROUP, {"type": "worker.wake"}),
            (DASHBOARD_GROUP, {"type": "settings.updated", "settings": snapshot}),
        ]
    )


def workers_wake() -> None:
    """Something is due now (an upstream callback asked for a status check)."""
    _send([(WORKER_GROUP, {"type": "worker.wake"})])
