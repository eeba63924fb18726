"""The operator dashboard's socket: staff only; a snapshot on connect, then every change.

This module connects, checks access and dispatches; what a message changes on the page is
decided by plain classes (consumers/dashboard_state.py), the HTML comes from template
partials (consumers/dashboard_frames.py), and the counters from one hub per server
process (consumers/stats.py).

Fan-out without a query per dashboard per update: payment and settings changes are
rendered from the message's snapshot (each payment version once per process,
`consumers/rendering.py`); under load an HTML page's row changes share one frame per
`ROW_FRAME_GAP` (JSON clients get one message per change); the counters are read once per
hub tick for every dashboard of the process.
"""

import asyncio
import logging
import time
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from consumers import access, rendering, resync, stats
from consumers import dashboard_frames as frames
from consumers.common import RenderFromMessage, is_staff, query, refuse_frame, wants_json
from consumers.dashboard_state import CallbackRows, JsonVersions, PaymentRows, RowFrames
from payments.events import BALANCES_GROUP, DASHBOARD_GROUP, user_group
from payments.filters import Filter
from regions import callbacks as callbacks_panel
from regions import payment_row

logger = logging.getLogger("consumers.dashboard")


def _account_key(account: dict[str, Any]) -> tuple[str, str, str]:
    return account["owner"], account["kind"], account["currency"]


class DashboardConsumer(access.StaffSocket, RenderFromMessage, AsyncWebsocketConsumer):
    joined = False
    as_json = False
    room = False
    masked = False

    async def connect(self) -> None:
        if not is_staff(self.scope):
            await self.close()  # before accept: the handshake is refused with 403
            return
        self.as_json = wants_json(self.scope)
        # The projector (`?view=room`): masked phone numbers, no callbacks or Scenarios panel.
        # A dashboard shown to a room (`?phones=masked`): masked phone numbers.
        self.room = query(self.scope).get("view") == "room"
        self.masked = self.room or query(self.scope).get("phones") == "masked"
        self.user_pk = self.scope["user"].pk
        session = self.scope.get("session")
        self.session_key = session.session_key if session is not None else None
        self.filter = Filter.from_params(query(self.scope))
        self.rows = PaymentRows(self.filter, size=payment_row.ROWS)
        self.versions = JsonVersions(self.filter)
        self.callbacks = CallbackRows(size=callbacks_panel.CALLBACKS_SHOWN)
        self.row_frames = RowFrames()
        self.flusher: asyncio.Future | None = None
        # Join first, then read: a change committed in between arrives as a message and is
        # dropped by version if the snapshot already holds it.
        await self._join_groups()
        self.joined = True
        self.access_task = asyncio.ensure_future(self._recheck_access())
        snapshot = await database_sync_to_async(payment_row.read)(
            self.filter, stats=stats.hub().fresh(), details=self.as_json
        )
        await self.accept()
        await self.send_snapshot(snapshot)
        stats.hub().join(self)
        resync.watch(self)

    async def _join_groups(self) -> None:
        await self.channel_layer.group_add(DASHBOARD_GROUP, self.channel_name)
        await self.channel_layer.group_add(BALANCES_GROUP, self.channel_name)
        await self.channel_layer.group_add(user_group(self.user_pk), self.channel_name)

    async def disconnect(self, code: int) -> None:
        resync.unwatch(self)
        if self.joined:
            self.access_task.cancel()
            self._drop_pending_rows()
            stats.hub().leave(self)
            await self.channel_layer.group_discard(DASHBOARD_GROUP, self.channel_name)
            await self.channel_layer.group_discard(BALANCES_GROUP, self.channel_name)
            await self.channel_layer.group_discard(user_group(self.user_pk), self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # Actions are htmx POSTs (CSRF-checked views), never socket messages.
        await refuse_frame(self, text_data, bytes_data)

    # Access: its rights can end while the socket is open (consumers/access.py).

    async def _on_revoke(self) -> None:
        # Not one more payment goes to this socket, and the counters stop reading for it.
        self._drop_pending_rows()
        stats.hub().leave(self)

    async def send_snapshot(self, snapshot: dict[str, Any]) -> None:
        if self.as_json:
            self.versions.load(snapshot["payments"])
            await self.send(text_data=frames.json_snapshot(snapshot))
            return
        self.rows.load(snapshot["payments"])
        self.callbacks.load(snapshot["callbacks"])
        self.accounts = {_account_key(a): a for a in snapshot.get("balances", [])}
        await self.send(text_data=frames.snapshot(snapshot, room=self.room, masked=self.masked))

    async def callbacks_updated(self, event: dict[str, Any]) -> None:
        """Callback rows: changed in place, or inserted on top (the panel keeps the latest)."""
        if self.as_json:
            await self.send(text_data=frames.json_message("callbacks", event["callbacks"]))
            return
        if self.room:
            return  # the projector has no callbacks panel
        changes = self.callbacks.change(event["callbacks"])
        if changes:
            await self.send(text_data=frames.callbacks_changed(changes))

    async def presenter_changed(self, event: dict[str, Any]) -> None:
        """A scenario or the traffic started or ended: the Scenarios panel (not on the projector)."""
        if self.as_json:
            await self.send(text_data=frames.json_message("presenter", event["presenter"]))
        elif not self.room:
            await self.send(text_data=frames.presenter(event["presenter"]))

    async def balances_updated(self, event: dict[str, Any]) -> None:
        """Merchant accounts the ledger moved: their cells in the balances panel."""
        if self.as_json:
            await self.send(text_data=frames.json_message("balances", event["accounts"]))
        elif not self.room:
            # An account the page has no cell for (the first settlement after a reset, a new
            # API user): the whole panel, from the accounts this socket knows, not a swap
            # into a cell that is not there (htmx:oobErrorNoTarget).
            known = getattr(self, "accounts", {})
            new = any(_account_key(a) not in known for a in event["accounts"])
            known.update({_account_key(a): a for a in event["accounts"]})
            self.accounts = known
            await self.send(text_data=frames.balances_all(list(known.values())) if new else frames.balances(event["accounts"]))

    async def payment_updated(self, event: dict[str, Any]) -> None:
        stats.hub().touch()
        snapshot = event["payment"]
        if self.as_json:
            if self.versions.accept(snapshot):
                await self.send(text_data=rendering.payment_json(snapshot))
            return
        change = self.rows.change(snapshot)
        if change is None:
            return
        if change.inserted:
            await self._send_rows(frames.row_inserted(snapshot, change.evicted, self.masked))
        else:
            await self._send_rows(frames.row(snapshot, self.masked))

    async def _send_rows(self, fragments: str) -> None:
        """At once when the socket is quiet, else in the next frame (dashboard_state.RowFrames)."""
        text = self.row_frames.offer(fragments, time.monotonic())
        if text is not None:
            await self.send(text_data=text)
        elif self.flusher is None:
            self.flusher = asyncio.ensure_future(self._flush_rows())

    async def _flush_rows(self) -> None:
        await asyncio.sleep(self.row_frames.wait(time.monotonic()))
        self.flusher = None
        text = self.row_frames.take(time.monotonic())
        if text:
            await self.send(text_data=text)

    def _drop_pending_rows(self) -> None:
        if self.flusher is not None:
            self.flusher.cancel()
        self.flusher = None
        self.row_frames.drop()

    async def layer_resync(self, event: dict[str, Any]) -> None:
        """The channel layer may have lost pushes (consumers/resync.py): rejoin, resend the page."""
        await self._join_groups()
        snapshot = await database_sync_to_async(payment_row.read)(self.filter, details=self.as_json)
        # Read after every message this consumer has handled, so nothing on it is older.
        self._drop_pending_rows()  # older than the snapshot below
        await self.send_snapshot(snapshot)

    async def demo_reset(self, event: dict[str, Any]) -> None:
        """Every payment was removed: the page shows the fresh, empty snapshot."""
        stats.hub().touch()
        await self.layer_resync(event)

    async def settings_updated(self, event: dict[str, Any]) -> None:
        settings = event["settings"]
        if self.as_json:
            await self.send(text_data=frames.json_message("settings", settings))
        else:
            await self.send(text_data=frames.settings(settings))
