"""The checkout page's socket: anyone with the reference; the snapshot on connect, then every change."""

from typing import Any

from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.utils import await_many_dispatch
from django.template.loader import render_to_string

from consumers import pagehub, rendering, resync, snapshots
from consumers.common import RenderFromMessage, is_staff, refuse_frame, wants_json
from payments.events import payment_group
from regions import checkout_status, phone_prompt


class PaymentConsumer(RenderFromMessage, AsyncWebsocketConsumer):
    group: str | None = None
    version = 0

    async def __call__(self, scope, receive, send) -> None:
        """Channels' AsyncConsumer.__call__ without a layer channel of the page's own: the
        process's page hub (consumers/pagehub.py) puts the page's messages in `mailbox`,
        handled in order with the socket's as a channel's would be."""
        self.scope = scope
        self.channel_layer = None
        self.mailbox = pagehub.Mailbox()
        self.base_send = send
        try:
            await await_many_dispatch([receive, self.mailbox.get], self.dispatch)
        except StopConsumer:
            pass

    async def connect(self) -> None:
        reference = str(self.scope["url_route"]["kwargs"]["reference"])
        self.as_json = wants_json(self.scope)
        self.reference = reference
        # Anyone with the reference may listen; only staff read the full phone number.
        self.public = not is_staff(self.scope)
        # Join first, then read: a change committed in between arrives as a message
        # and is dropped by version if the snapshot already holds it.
        self.group = payment_group(reference)
        try:
            await pagehub.hub().join(self, self.group)
            # Batched with the other pages connecting now (consumers/snapshots.py).
            snapshot = await snapshots.read(reference)
        except BaseException:
            pagehub.hub().leave(self, self.group)  # no disconnect() follows a failed connect
            raise
        if snapshot is None:
            await self.close()
            return
        await self.accept()
        await self.push(snapshot, shared=False)

    async def disconnect(self, code: int) -> None:
        resync.unwatch(self)
        if self.group:
            pagehub.hub().leave(self, self.group)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await refuse_frame(self, text_data, bytes_data)

    async def payment_updated(self, event: dict[str, Any]) -> None:
        await self.push(event["payment"])

    async def demo_reset(self, event: dict[str, Any]) -> None:
        """Every payment was removed: say so, and stop (the page drops its socket at "reset")."""
        if self.as_json:
            await self.send(text_data='{"type": "reset"}')
        else:
            await self.send(text_data=render_to_string(phone_prompt.RESET, {"region_id": f"payment-{self.reference}"}))
        await self.close()

    async def layer_resync(self, event: dict[str, Any]) -> None:
        """The channel layer may have lost pushes (consumers/resync.py): rejoin, resend the truth."""
        await pagehub.hub().rejoin(self.group)
        snapshot = await snapshots.read(self.reference)
        if snapshot is not None:
            await self.push(snapshot, shared=False)

    async def push(self, snapshot: dict[str, Any], *, shared: bool = True) -> None:
        """`shared`: a pushed change, rendered once for every page of the payment (and kept);
        else this page's own read, whose text is not kept (10,000 pages held, 10,000 texts)."""
        if snapshot["version"] <= self.version:
            return  # never an older (or the same) version after a newer one
        self.version = snapshot["version"]
        resync.expect(self, snapshot)
        if self.as_json:
            await self.send(text_data=rendering.payment_json(snapshot, public=self.public, keep=shared))
        else:
            text = rendering.fragment(checkout_status.PARTIAL, snapshot, checkout_status.context, keep=shared)
            await self.send(text_data=text)
