"""The dashboard socket's frames: every piece of HTML is a template partial
(templates/dashboard/dashboard.html), and the JSON messages are built here too.

A row, a callback row and the frames around them are rendered once per process per state
(consumers/rendering.py), however many dashboards get them; the counters once per hub
tick (consumers/stats.py); a snapshot once per (re)connect.
"""

import json
from typing import Any

from django.template.loader import render_to_string

from consumers import rendering
from consumers.dashboard_state import CallbackChanges
from regions import callbacks as callbacks_panel
from regions import balances as balances_panel
from regions import counters, payment_row, presenter_panel, settings_panel

SNAPSHOT = "dashboard/dashboard.html#socket_snapshot"


def row(snapshot: dict[str, Any], masked: bool = False) -> str:
    """`masked`: a row a room reads (the projector's), its phone number masked."""
    if masked:
        return rendering.fragment(payment_row.PARTIAL, snapshot, payment_row.room_context, variant="#room")
    return rendering.fragment(payment_row.PARTIAL, snapshot, payment_row.context)


def row_inserted(snapshot: dict[str, Any], evicted: list[str], masked: bool = False) -> str:
    """The new row on top, the evicted ones off the bottom."""
    variant = "#room" if masked else ""
    insert = rendering.fragment(payment_row.INSERT, snapshot, lambda s: {"row": row(s, masked)}, variant=variant)
    return insert + "".join(_row_deleted(reference) for reference in evicted)


def _row_deleted(reference: str) -> str:
    return rendering.once(payment_row.DELETE, reference, None, lambda: {"reference": reference})


def settings(config: dict[str, Any]) -> str:
    # Settings change rarely; the cache key is their version, like a payment's.
    keyed = {**config, "reference": "settings"}
    return rendering.fragment(settings_panel.PARTIAL, keyed, lambda s: settings_panel.context(config))


def presenter(state: dict[str, Any]) -> str:
    return presenter_panel.render(state)


def stats(counts: dict[str, Any]) -> str:
    return render_to_string(counters.PARTIAL, counters.context(counts))


def snapshot(page: dict[str, Any], *, room: bool = False, masked: bool = False) -> str:
    """The whole page (rows, callbacks, counters, settings) in one frame, on (re)connect.

    `room`: the projector's (no callbacks or balances panel); `masked`: rows with masked numbers."""
    return render_to_string(SNAPSHOT, {
        "room": room,
        "rows": [row(p, masked or room) for p in page["payments"]],
        "callback_rows": [] if room else [callbacks_panel.render(c) for c in page["callbacks"]],
        "stats": stats(page["stats"]),
        "settings": settings(page["settings"]),
        "balances": "" if room or "balances" not in page else balances_panel.render(page["balances"], oob=True),
    })


def balances_all(accounts: list[dict[str, str]]) -> str:
    """The whole balances panel, when an account appeared that has no cell yet."""
    return balances_panel.render(accounts, oob=True)


def balances(accounts: list[dict[str, str]]) -> str:
    """The balance cells of accounts that moved."""
    return balances_panel.cells(accounts)


def callbacks_changed(changes: CallbackChanges) -> str:
    """Rows changed in place or inserted on top, in message order, then the ones dropped."""
    fragments = [_callback_inserted(c) if inserted else _callback_changed(c) for inserted, c in changes.changed]
    fragments += [_callback_deleted(callback_id) for callback_id in changes.removed]
    return "".join(fragments)


def _callback_changed(snapshot: dict[str, Any]) -> str:
    # `callbacks_panel.render` looked up at each call: tests count the renders.
    return rendering.callback_row(snapshot, callbacks_panel.render, oob=True)


def _callback_inserted(snapshot: dict[str, Any]) -> str:
    def context() -> dict[str, Any]:
        return {"row": rendering.callback_row(snapshot, callbacks_panel.render, oob=False)}

    return rendering.once(callbacks_panel.INSERT, str(snapshot["id"]), rendering.callback_state(snapshot), context)


def _callback_deleted(callback_id: int) -> str:
    return rendering.once(callbacks_panel.DELETE, str(callback_id), None, lambda: {"id": callback_id})


def json_snapshot(page: dict[str, Any]) -> str:
    return json.dumps({"type": "snapshot", **page})


def json_message(kind: str, body: Any) -> str:
    """`{"type": kind, kind: body}`: "stats", "settings", "callbacks"."""
    return json.dumps({"type": kind, kind: body})
