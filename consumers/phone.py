"""The payer's phone page socket: the prompt region, live, for whoever holds the token.

The token is looked up once, in connect(); groups are then built from the payment's
server-side reference, like the checkout page's, so the phone hears every change of its
payment (an approval from another copy of the page, the timer, an operator, a reset).
"""

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.template.loader import render_to_string

from consumers import rendering
from consumers.common import RenderFromMessage, refuse_frame
from payments.events import PAGES_GROUP, payment_group, wallet_group
from regions import phone_prompt
from regions import wallet as wallet_region


class PhoneConsumer(RenderFromMessage, AsyncWebsocketConsumer):
    groups_joined: tuple[str, ...] = ()
    version = 0

    async def connect(self) -> None:
        token = self.scope["url_route"]["kwargs"]["token"]
        snapshot = await database_sync_to_async(phone_prompt.read)(token)
        if snapshot is None:
            await self.close()  # before accept: the handshake is refused
            return
        # Its party's wallet too: money arriving (a refund) is shown as it lands.
        self.currency = snapshot["currency"]
        self.groups_joined = (payment_group(snapshot["reference"]), PAGES_GROUP, wallet_group(snapshot["phone_number"]))
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        # Joined after the first read: read again, so a change committed in between is not lost.
        snapshot = await database_sync_to_async(phone_prompt.read)(token) or snapshot
        await self.accept()
        await self.push(snapshot)

    async def disconnect(self, code: int) -> None:
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await refuse_frame(self, text_data, bytes_data)  # approvals are CSRF-checked POSTs

    async def payment_updated(self, event: dict[str, Any]) -> None:
        await self.push(event["payment"])

    async def wallet_updated(self, event: dict[str, Any]) -> None:
        """The party's wallet moved (this payment, a refund, a transfer): balance, and what arrived."""
        if event["wallet"]["currency"] != self.currency:
            return
        context = wallet_region.context(event["wallet"], event.get("payment"))
        await self.send(text_data=render_to_string(wallet_region.PARTIAL, context))

    async def demo_reset(self, event: dict[str, Any]) -> None:
        await self.send(text_data=render_to_string(phone_prompt.RESET, {"region_id": "phone-prompt"}))
        await self.close()

    async def push(self, snapshot: dict[str, Any]) -> None:
        if snapshot["version"] <= self.version:
            return  # never an older (or the same) version after a newer one
        self.version = snapshot["version"]
        await self.send(text_data=rendering.fragment(phone_prompt.PARTIAL, snapshot, phone_prompt.context))
