"""The operator dashboard's socket: staff only; a snapshot on connect, then every change.

Fan-out without a query per dashboard per update:
- payment and settings changes are rendered from the message's snapshot (and each payment
  version once per process, `consumers/rendering.py`); under load an HTML page's row
  changes share one frame per `ROW_FRAME_GAP` (JSON clients get one message per change);
- the counters come from one `StatsHub` per server process (per event loop): a payment
  change marks it dirty, and it recomputes `counters.read()` at most once per
  `STATS_MIN_GAP` seconds (longer when the read itself is slow: at most `STATS_MAX_SHARE`
  of the time), renders once and hands the same text to every local dashboard.
  At 1,000 settlements/s with 20 dashboards that is one stats read per second per server
  process, not 20,000. It also refreshes every `STATS_IDLE_REFRESH` seconds while a
  dashboard is open, so "worker alive/stale" changes even when no payment does.
"""

import asyncio
import json
import logging
import time
from collections import OrderedDict
from datetime import datetime
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.template.loader import render_to_string

from consumers import access, rendering, resync
from consumers.common import RenderFromMessage, is_staff, query, refuse_frame, wants_json
from payments.events import DASHBOARD_GROUP, user_group
from payments.filters import Filter
from regions import callbacks as callbacks_panel, counters, payment_row, settings_panel

logger = logging.getLogger("consumers.dashboard")

STATS_MIN_GAP = 1.0
STATS_MAX_SHARE = 0.1  # at most this share of wall time spent reading the counters
STATS_IDLE_REFRESH = 5.0
ROW_FRAME_GAP = 0.1  # seconds between HTML frames of row changes under load
JSON_VERSIONS_KEPT = 10_000  # bounds memory per JSON client; far more than are in flight at once


def _render_row(snapshot: dict[str, Any]) -> str:
    return rendering.fragment(payment_row.PARTIAL, snapshot, payment_row.context)


def _render_settings(settings: dict[str, Any]) -> str:
    # Settings change rarely; the cache key is their version, like a payment's.
    keyed = {**settings, "reference": "settings"}
    return rendering.fragment(settings_panel.PARTIAL, keyed, lambda s: settings_panel.context(settings))


def _render_stats(stats: dict[str, Any]) -> str:
    return render_to_string(counters.PARTIAL, counters.context(stats))


def _insert(row: str) -> str:
    return f'<div id="payment-rows" hx-swap-oob="afterbegin">{row}</div>'


def _delete(reference: str) -> str:
    return f'<div id="row-{reference}" hx-swap-oob="delete"></div>'


def _created(snapshot: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(snapshot["created_at"])


class StatsHub:
    """Counters for every dashboard of one event loop, computed once per tick."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.members: set["DashboardConsumer"] = set()
        self.dirty = asyncio.Event()
        self.task: asyncio.Task | None = None
        self.latest: tuple[float, dict[str, Any]] | None = None  # (when read, stats)

    def join(self, member: "DashboardConsumer") -> None:
        self.members.add(member)
        if self.task is None or self.task.done():
            self.task = self.loop.create_task(self._run())

    def leave(self, member: "DashboardConsumer") -> None:
        self.members.discard(member)
        if not self.members and self.task:
            self.task.cancel()
            self.task = None

    def touch(self) -> None:
        self.dirty.set()

    def fresh(self) -> dict[str, Any] | None:
        """The last counters read, if no change arrived since: a connect burst reuses them."""
        if self.latest is None or self.dirty.is_set():
            return None
        read_at, stats = self.latest
        return stats if time.monotonic() - read_at < STATS_IDLE_REFRESH else None

    async def _run(self) -> None:
        while self.members:
            try:
                await asyncio.wait_for(self.dirty.wait(), timeout=STATS_IDLE_REFRESH)
            except asyncio.TimeoutError:
                pass
            # Cleared before the read, so a change committed during it triggers another.
            self.dirty.clear()
            started = time.monotonic()
            try:
                stats = await database_sync_to_async(counters.read)()
                self.latest = (started, stats)
                await self._push(stats)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is down: the counters wait, the rows still flow
                logger.warning("dashboard stats unavailable (%s): %s", type(exc).__name__, exc)
            # On a huge table the read gets slow: keep it under STATS_MAX_SHARE of the time.
            spent = time.monotonic() - started
            await asyncio.sleep(max(STATS_MIN_GAP, spent / STATS_MAX_SHARE - spent))

    async def _push(self, stats: dict[str, Any]) -> None:
        html: str | None = None
        as_json: str | None = None
        for member in list(self.members):
            if member.as_json:
                as_json = as_json or json.dumps({"type": "stats", "stats": stats})
            else:
                html = html or _render_stats(stats)
            try:
                await member.send(text_data=as_json if member.as_json else html)
            except Exception as exc:  # a socket closing right now; its disconnect() removes it
                logger.info("dashboard stats not sent (%s)", type(exc).__name__)


_hub: StatsHub | None = None


def stats_hub() -> StatsHub:
    """One hub per running event loop (a server process has one; each test has its own)."""
    global _hub
    loop = asyncio.get_running_loop()
    if _hub is None or _hub.loop is not loop:
        _hub = StatsHub(loop)
    return _hub


class DashboardConsumer(RenderFromMessage, AsyncWebsocketConsumer):
    joined = False
    as_json = False

    async def connect(self) -> None:
        if not is_staff(self.scope):
            await self.close()  # before accept: the handshake is refused with 403
            return
        self.as_json = wants_json(self.scope)
        self.user_pk = self.scope["user"].pk
        session = self.scope.get("session")
        self.session_key = session.session_key if session is not None else None
        self.filter = Filter.from_params(query(self.scope))
        # The rows on the client's page, newest last: reference -> (version shown, created).
        self.rows: OrderedDict[str, tuple[int, datetime]] = OrderedDict()
        # JSON clients: the last version sent per payment, least recently changed first.
        self.versions: OrderedDict[str, int] = OrderedDict()
        self.cutoff: datetime | None = None
        # HTML row fragments waiting for the next frame (see _send_rows).
        self.pending: list[str] = []
        self.flusher: asyncio.Future | None = None
        self.last_rows_sent = 0.0
        self.callbacks: OrderedDict[int, str] = OrderedDict()  # callback rows shown: id -> updated_at
        # Join first, then read: a change committed in between arrives as a message and is
        # dropped by version if the snapshot already holds it.
        await self.channel_layer.group_add(DASHBOARD_GROUP, self.channel_name)
        await self.channel_layer.group_add(user_group(self.user_pk), self.channel_name)
        self.joined = True
        self.access_task = asyncio.ensure_future(self._recheck_access())
        snapshot = await database_sync_to_async(payment_row.read)(
            self.filter, stats=stats_hub().fresh(), details=self.as_json
        )
        await self.accept()
        await self.send_snapshot(snapshot)
        stats_hub().join(self)
        resync.watch(self)

    async def disconnect(self, code: int) -> None:
        resync.unwatch(self)
        if self.joined:
            self.access_task.cancel()
            self._drop_pending_rows()
            stats_hub().leave(self)
            await self.channel_layer.group_discard(DASHBOARD_GROUP, self.channel_name)
            await self.channel_layer.group_discard(user_group(self.user_pk), self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # Actions are htmx POSTs (CSRF-checked views), never socket messages.
        await refuse_frame(self, text_data, bytes_data)

    async def user_revoked(self, event: dict[str, Any]) -> None:
        """Its user logged out (this session or another) or lost staff, in some process."""
        if event.get("session") and event["session"] == access.session_tag(self.session_key):
            await self._revoke()
        else:
            await self._check_access()

    async def _recheck_access(self) -> None:
        """The backstop for a lost revocation message, an expired session, a password change."""
        while not self.revoked:
            await asyncio.sleep(access.RECHECK_EVERY)
            await self._check_access()

    async def _check_access(self) -> None:
        try:
            allowed = await database_sync_to_async(access.still_staff)(self.user_pk, self.session_key)
        except Exception as exc:  # the database is down: keep the socket until it answers
            logger.info("dashboard access re-check failed (%s)", type(exc).__name__)
            return
        if not allowed:
            await self._revoke()

    async def _revoke(self) -> None:
        if self.revoked:
            return
        # From here dispatch() drops every message: not one more payment goes to this socket.
        self.revoked = True
        self._drop_pending_rows()
        stats_hub().leave(self)
        await self.close(code=access.CLOSE_REVOKED)

    async def send_snapshot(self, snapshot: dict[str, Any]) -> None:
        payments = snapshot["payments"]
        for payment in reversed(payments):  # oldest first, so the newest ends up last
            self.rows[payment["reference"]] = (payment["version"], _created(payment))
            self.versions[payment["reference"]] = payment["version"]
        if len(payments) >= payment_row.ROWS:
            # A full page: anything older than its last row is not on it.
            self.cutoff = _created(payments[-1])
        if self.as_json:
            await self.send(text_data=json.dumps({"type": "snapshot", **snapshot}))
            return
        rows = "".join(_render_row(p) for p in payments)
        self.callbacks = OrderedDict((c["id"], c["updated_at"]) for c in reversed(snapshot["callbacks"]))
        callback_rows = callbacks_panel.render_all(snapshot["callbacks"])
        await self.send(
            text_data=f'<div id="payment-rows" hx-swap-oob="innerHTML">{rows}</div>'
            + f'<div id="callback-rows" hx-swap-oob="innerHTML">{callback_rows}</div>'
            + _render_stats(snapshot["stats"])
            + _render_settings(snapshot["settings"])
        )

    async def callbacks_updated(self, event: dict[str, Any]) -> None:
        """Callback rows: changed in place, or inserted on top (the panel keeps the latest)."""
        if self.as_json:
            await self.send(text_data=json.dumps({"type": "callbacks", "callbacks": event["callbacks"]}))
            return
        fragments = []
        for snapshot in event["callbacks"]:
            shown = self.callbacks.get(snapshot["id"])
            if shown is not None and snapshot["updated_at"] <= shown:
                continue  # never an older state after a newer one
            if shown is not None:
                fragments.append(rendering.callback_row(snapshot, callbacks_panel.render, oob=True))
            elif not self.callbacks or snapshot["id"] > min(self.callbacks):
                row = rendering.callback_row(snapshot, callbacks_panel.render, oob=False)
                fragments.append(f'<div id="callback-rows" hx-swap-oob="afterbegin">{row}</div>')
            else:
                continue  # older than every row shown: not on the panel
            self.callbacks[snapshot["id"]] = snapshot["updated_at"]
        while len(self.callbacks) > callbacks_panel.CALLBACKS_SHOWN:
            oldest = min(self.callbacks)
            del self.callbacks[oldest]
            fragments.append(f'<div id="callback-{oldest}" hx-swap-oob="delete"></div>')
        if fragments:
            await self.send(text_data="".join(fragments))

    async def payment_updated(self, event: dict[str, Any]) -> None:
        stats_hub().touch()
        snapshot = event["payment"]
        if self.as_json:
            await self._payment_json(snapshot)
        else:
            await self._payment_row(snapshot)

    async def _payment_json(self, snapshot: dict[str, Any]) -> None:
        """A JSON client gets every change (of payments matching its filter), in version order."""
        reference = snapshot["reference"]
        known = self.versions.get(reference)
        if known is None and not self.filter.matches(snapshot):
            return
        if known is not None and snapshot["version"] <= known:
            return  # never an older (or the same) version after a newer one
        self.versions[reference] = snapshot["version"]
        self.versions.move_to_end(reference)
        if len(self.versions) > JSON_VERSIONS_KEPT:
            self.versions.popitem(last=False)
        await self.send(text_data=rendering.payment_json(snapshot))

    async def _payment_row(self, snapshot: dict[str, Any]) -> None:
        """The page shows ROWS rows: change one in place, insert a new one, skip the rest."""
        reference = snapshot["reference"]
        shown = self.rows.get(reference)
        if shown is not None:
            if snapshot["version"] <= shown[0]:
                return  # never an older (or the same) version after a newer one
            self.rows[reference] = (snapshot["version"], shown[1])
            await self._send_rows(_render_row(snapshot))
            return
        created = _created(snapshot)
        if not self.filter.matches(snapshot) or (self.cutoff is not None and created <= self.cutoff):
            return  # filtered out, or too old to be on the page
        self.rows[reference] = (snapshot["version"], created)
        evicted = self._trim()
        await self._send_rows(_insert(_render_row(snapshot)) + "".join(_delete(r) for r in evicted))

    async def _send_rows(self, fragments: str) -> None:
        """Row changes go out at once when the socket is quiet, else gathered into one frame
        per ROW_FRAME_GAP: at hundreds of settlements a second a browser applies a few
        frames a second, not hundreds, and the server frames a few messages, not hundreds.
        Fragments keep their order, so the last change of a row is the one that stays."""
        if self.flusher is None and time.monotonic() - self.last_rows_sent >= ROW_FRAME_GAP:
            self.last_rows_sent = time.monotonic()
            await self.send(text_data=fragments)
            return
        self.pending.append(fragments)
        if self.flusher is None:
            self.flusher = asyncio.ensure_future(self._flush_rows())

    async def _flush_rows(self) -> None:
        await asyncio.sleep(max(0.0, self.last_rows_sent + ROW_FRAME_GAP - time.monotonic()))
        text, self.pending, self.flusher = "".join(self.pending), [], None
        self.last_rows_sent = time.monotonic()
        if text:
            await self.send(text_data=text)

    def _drop_pending_rows(self) -> None:
        if self.flusher is not None:
            self.flusher.cancel()
        self.pending, self.flusher = [], None

    def _trim(self) -> list[str]:
        """Keep the page at ROWS rows; an evicted row's later changes are not re-inserted."""
        evicted = []
        while len(self.rows) > payment_row.ROWS:
            reference, (_, created) = self.rows.popitem(last=False)
            evicted.append(reference)
            self.cutoff = created if self.cutoff is None else max(self.cutoff, created)
        return evicted

    async def layer_resync(self, event: dict[str, Any]) -> None:
        """The channel layer may have lost pushes (consumers/resync.py): rejoin, resend the page."""
        await self.channel_layer.group_add(DASHBOARD_GROUP, self.channel_name)
        await self.channel_layer.group_add(user_group(self.user_pk), self.channel_name)
        snapshot = await database_sync_to_async(payment_row.read)(self.filter, details=self.as_json)
        # Read after every message this consumer has handled, so nothing on it is older.
        self.rows.clear()
        self.cutoff = None
        self._drop_pending_rows()  # older than the snapshot below
        await self.send_snapshot(snapshot)

    async def demo_reset(self, event: dict[str, Any]) -> None:
        """Every payment was removed: the page shows the fresh, empty snapshot."""
        stats_hub().touch()
        await self.layer_resync(event)

    async def settings_updated(self, event: dict[str, Any]) -> None:
        settings = event["settings"]
        if self.as_json:
            await self.send(text_data=json.dumps({"type": "settings", "settings": settings}))
        else:
            await self.send(text_data=_render_settings(settings))
