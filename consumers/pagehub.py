"""One channel-layer channel per server process for every checkout page it holds.

A Channels consumer gets a layer channel of its own (with the pub/sub layer, a Redis
SUBSCRIBE and a queue) and joins each of its groups with it (another SUBSCRIBE each, under
channels-redis's one lock per connection). A checkout page only ever hears its payment's
group and `pages`, so the pages of one process share one channel instead, this hub's:
- the hub joins `pages` once, and a payment's group when the first page of that payment
  connects (pages of the same payment share the membership) and leaves it when the last
  one goes; a page's connect waits for its group's join, so "join, then read the
  snapshot" holds for every page as before;
- the hub receives each message once and hands it to the pages it is for: a
  `payment.updated` to the pages of that payment, anything else (`demo.reset`) to every
  page. A page reads its messages from a local queue (`PaymentConsumer.mailbox`), in
  order with its socket's, exactly as Channels hands a consumer its channel's messages;
- the layer watch (consumers/resync.py) watches the hub's channel: a resync the hub gets
  rejoins `pages` and goes to every page, which rejoins its group and re-reads its
  snapshot.
Every other process does the same with its own pages: a push reaches every open page.

One hub per running event loop (a server process has one; each test its own); it stops
(its channel dropped) when its last page leaves.
"""

import asyncio
import logging
from typing import Any

from channels.layers import get_channel_layer

from consumers import resync
from payments.events import PAGES_GROUP, payment_group

logger = logging.getLogger("consumers.pagehub")


class Mailbox:
    """A page's messages from the hub, in order: what an asyncio.Queue would do for its one
    reader, in two slots instead of a queue's four deques and an event (per page held)."""

    __slots__ = ("items", "waiter")

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.waiter: asyncio.Future | None = None

    def put_nowait(self, message: dict[str, Any]) -> None:
        self.items.append(message)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def get(self) -> dict[str, Any]:
        while not self.items:
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        return self.items.pop(0)


class _Group:
    """The pages of one group in this process; `ready`: the hub's join, until it is done."""

    __slots__ = ("pages", "ready")

    def __init__(self, ready: asyncio.Future) -> None:
        self.pages: set[Any] = set()
        self.ready: asyncio.Future | None = ready


class PageHub:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.layer = get_channel_layer()
        self.groups: dict[str, _Group] = {}
        self.leaving: dict[str, asyncio.Task] = {}  # group -> its discard, while in flight
        self.channel: str | None = None
        self.starting: asyncio.Task | None = None
        self.receiver: asyncio.Task | None = None

    async def join(self, page: Any, group: str) -> None:
        """From now on `page` gets `group`'s messages (and every page's): back once the hub is in it."""
        entry = self.groups.get(group)
        if entry is None:
            entry = self.groups[group] = _Group(self.loop.create_task(self._add(group, self.leaving.get(group))))
        entry.pages.add(page)
        try:
            await self._started()
            if entry.ready is not None:
                await asyncio.shield(entry.ready)
                entry.ready = None  # joined: nothing more to wait for, nothing kept
        except BaseException:
            self.leave(page, group)
            raise

    async def rejoin(self, group: str) -> None:
        """Join `group` again (a resync: the core layer's groups may have been lost with Redis)."""
        if self.channel is not None and group in self.groups:
            await self.layer.group_add(group, self.channel)

    def leave(self, page: Any, group: str) -> None:
        entry = self.groups.get(group)
        if entry is None or page not in entry.pages:
            return
        entry.pages.discard(page)
        if entry.pages:
            return
        del self.groups[group]
        self.leaving[group] = self.loop.create_task(self._discard(group, self.channel, entry.ready))
        if not self.groups:
            self._stop()

    async def _add(self, group: str, leaving: asyncio.Task | None) -> None:
        if leaving is not None:  # the last page's discard goes first, then this join
            await asyncio.wait([leaving])
        await self._started()
        await self.layer.group_add(group, self.channel)

    async def _discard(self, group: str, channel: str | None, ready: asyncio.Future | None) -> None:
        try:
            if ready is not None:
                await asyncio.wait([ready])
            if channel is not None:
                await self.layer.group_discard(group, channel)
        except Exception as exc:  # the layer is down: nothing more will come for it anyway
            logger.info("group %s not left (%s)", group, type(exc).__name__)
        finally:
            if self.leaving.get(group) is asyncio.current_task():
                del self.leaving[group]

    async def _started(self) -> None:
        if self.channel is None:
            if self.starting is None or self.starting.done():
                self.starting = self.loop.create_task(self._start())
            await asyncio.shield(self.starting)

    async def _start(self) -> None:
        channel = await self.layer.new_channel()
        await self.layer.group_add(PAGES_GROUP, channel)
        self.channel = channel
        self.receiver = self.loop.create_task(self._receive(channel))
        resync.watch_channel(channel)

    def _stop(self) -> None:
        if self.channel is None:
            return  # still starting: it stays up, idle, until its next last page leaves
        resync.unwatch_channel(self.channel)
        self.leaving[PAGES_GROUP] = self.loop.create_task(self._discard(PAGES_GROUP, self.channel, None))
        self.receiver.cancel()  # the pub/sub layer drops the channel with its reader
        self.channel = self.starting = self.receiver = None

    async def _receive(self, channel: str) -> None:
        # A long-lived reader: cancelling a pub/sub layer's receive() drops its channel.
        while True:
            try:
                message = await self.layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                await asyncio.sleep(0.5)  # the layer is down; the watch notices
                continue
            if message.get("type") == "layer.resync":
                await self._resync()
            self._deliver(message)

    async def _resync(self) -> None:
        try:
            await self.layer.group_add(PAGES_GROUP, self.channel)
        except Exception as exc:  # down again: the watch's next good probe resyncs again
            logger.warning("pages group not rejoined (%s)", type(exc).__name__)

    def _deliver(self, message: dict[str, Any]) -> None:
        if message.get("type") == "payment.updated":
            entry = self.groups.get(payment_group(message["payment"]["reference"]))
            pages = list(entry.pages) if entry else []
        else:
            pages = [page for entry in list(self.groups.values()) for page in entry.pages]
        for page in pages:
            page.mailbox.put_nowait(message)


_hub: PageHub | None = None


def hub() -> PageHub:
    """The page hub of the running event loop."""
    global _hub
    loop = asyncio.get_running_loop()
    if _hub is None or _hub.loop is not loop or _hub.layer is not get_channel_layer():
        _hub = PageHub(loop)
    return _hub
