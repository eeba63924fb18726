"""The inspector page's socket: staff only; every call the inspector records, as it is
written (one `calls.recorded` message per batch), filtered like the page.

It sends only what arrives (the page itself renders the latest calls over HTTP, and a
reconnecting page reloads them, static/js/inspector.js), so it reads nothing per
message; access ends as on the dashboard (consumers/access.py).
"""

import asyncio
import logging
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer

from consumers import access
from consumers.common import RenderFromMessage, is_staff, query, refuse_frame
from payments.events import INSPECTOR_GROUP, user_group
from regions import inspector_calls

logger = logging.getLogger("consumers.inspector")


class InspectorConsumer(access.StaffSocket, RenderFromMessage, AsyncWebsocketConsumer):
    joined = False

    async def connect(self) -> None:
        if not is_staff(self.scope):
            await self.close()  # before accept: the handshake is refused with 403
            return
        self.user_pk = self.scope["user"].pk
        session = self.scope.get("session")
        self.session_key = session.session_key if session is not None else None
        self.filter = inspector_calls.CallFilter.from_params(query(self.scope))
        await self.channel_layer.group_add(INSPECTOR_GROUP, self.channel_name)
        await self.channel_layer.group_add(user_group(self.user_pk), self.channel_name)
        self.joined = True
        self.access_task = asyncio.ensure_future(self._recheck_access())
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.joined:
            self.access_task.cancel()
            await self.channel_layer.group_discard(INSPECTOR_GROUP, self.channel_name)
            await self.channel_layer.group_discard(user_group(self.user_pk), self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await refuse_frame(self, text_data, bytes_data)

    async def calls_recorded(self, event: dict[str, Any]) -> None:
        calls = [call for call in event["calls"] if self.filter.matches(call)]
        if calls:
            await self.send(text_data=inspector_calls.render_inserted(calls))

