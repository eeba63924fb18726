"""Pages converge to the database whatever the Redis channel layer lost.

The layer delivers at most once and never says that it lost something:
- the pub/sub layer: redis-py resubscribes once Redis is back, but whatever was published
  while this process's subscription was down is gone, and channels-redis never calls its
  documented `on_disconnect`/`on_reconnect` hooks;
- the core layer keeps group membership in Redis: a restart empties every group and
  `group_send` keeps succeeding into the void.

So each server process (each event loop) runs one `LayerWatch` while it has consumers.
Every `PROBE_EVERY` seconds it sends itself a probe through a group (the path every push
takes) and reads Redis's `run_id`, which changes on every restart, even one shorter than
a probe. A lost probe or a new `run_id` means this process may have missed pushes: as soon
as a probe gets through again, every watched consumer gets `{"type": "layer.resync"}` on
its own channel. Its `layer_resync` handler runs in order with its other messages: it
rejoins its groups and pushes its snapshot from the database (versions only move forward,
so a resync never shows an older state).

A push can also be lost with Redis up: a worker whose publish failed on its own
connection, a core-layer channel over capacity. So a checkout page also tells the watch
when its payment is due (`expect`); a page still showing "processing" `OVERDUE_AFTER`
seconds past its `settle_at` (a worker settles within 1 s of it) gets a resync, then again
after twice as long, and so on, up to every `OVERDUE_MAX` seconds (a paused simulator).

A consumer calls `watch(self)` once it has accepted and `unwatch(self)` in `disconnect()`.
Checkout pages have no channel of their own: the page hub's channel is watched
(`watch_channel`, consumers/pagehub.py) and a page's overdue resync goes straight to its
mailbox. With the in-memory layer (one process, nothing in between to fail) they do nothing.
"""

import asyncio
import logging
import time
import uuid
from datetime import datetime
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings

from payments import events

logger = logging.getLogger("consumers.resync")

PROBE_EVERY = 1.0
PROBE_TIMEOUT = 2.0
OVERDUE_AFTER = 5.0
OVERDUE_MAX = 300.0
RESYNC = {"type": "layer.resync"}


class LayerWatch:
    """The probe and the resync fan-out for every watched consumer of one event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.channels: set[str] = set()
        # channel, or a checkout page (a mailbox) -> (when its payment is due, epoch
        # seconds; resyncs sent since)
        self.due: dict[Any, tuple[float, int]] = {}
        self.group = f"resync-probe-{uuid.uuid4().hex}"
        self.channel: str | None = None
        self.arrived = asyncio.Event()
        self.token = ""
        self.run_id: str | None = None
        self.missed = False
        self.joined = False
        self.task: asyncio.Task | None = None

    def join(self, channel: str) -> None:
        self.channels.add(channel)
        if self.task is None or self.task.done():
            self.task = self.loop.create_task(self._run())

    def leave(self, channel: Any) -> None:
        self.channels.discard(channel)
        self.due.pop(channel, None)
        if not self.channels and self.task:
            self.task.cancel()
            self.task = None

    async def _run(self) -> None:
        layer = get_channel_layer()
        receiver = self.loop.create_task(self._receive(layer))
        try:
            while self.channels:
                healthy = await self._probe(layer)
                if not healthy:
                    self.missed = True
                elif self.missed:
                    try:
                        await self._resync_all(layer)
                    except Exception as exc:  # down again: the next good probe retries
                        logger.warning("resync failed (%s); retrying", type(exc).__name__)
                if healthy:
                    await self._resync_overdue(layer)
                await asyncio.sleep(PROBE_EVERY)
        finally:
            receiver.cancel()

    async def _probe(self, layer) -> bool:
        """True when Redis answers, has not restarted, and a probe went through this process."""
        try:
            run_id = await _redis_run_id()
            if self.run_id is not None and run_id != self.run_id:
                logger.warning("Redis restarted (run_id changed): pages will resync")
                self.missed = True
            self.run_id = run_id
            if self.channel is None:
                self.channel = await layer.new_channel()
            if self.missed or not self.joined:
                await layer.group_add(self.group, self.channel)  # a core-layer restart drops it
                self.joined = True
            self.arrived.clear()
            self.token = uuid.uuid4().hex
            await events.send_now(events.resync_probe(self.group, self.token), layer=layer)
            await asyncio.wait_for(self.arrived.wait(), timeout=PROBE_TIMEOUT)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not self.missed:
                logger.warning("channel layer probe failed (%s): pages will resync when it is back", type(exc).__name__)
            return False
        return True

    async def _receive(self, layer) -> None:
        # A long-lived reader: cancelling a pub/sub layer's receive() drops its channel.
        while True:
            if self.channel is None:
                await asyncio.sleep(0.1)
                continue
            try:
                message = await layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                await asyncio.sleep(0.5)  # the layer is down; the probe notices
                continue
            if message.get("token") == self.token:
                self.arrived.set()

    async def _resync_overdue(self, layer) -> None:
        now = time.time()
        for target, (due, sent) in list(self.due.items()):
            if now >= due + min(OVERDUE_AFTER * 2**sent, OVERDUE_MAX):
                self.due[target] = (due, sent + 1)
                if not isinstance(target, str):  # a checkout page: no layer in between
                    target.mailbox.put_nowait(RESYNC)
                    continue
                try:
                    await layer.send(target, RESYNC)
                except Exception:  # the layer went down meanwhile: the probe takes over
                    return

    async def _resync_all(self, layer) -> None:
        channels = list(self.channels)
        logger.warning("channel layer back: resyncing %d local pages from the database", len(channels))
        for channel in channels:
            await layer.send(channel, RESYNC)
        self.missed = False


_watch: LayerWatch | None = None
_redis = None


async def _redis_run_id() -> str:
    global _redis
    if _redis is None:
        from redis.asyncio import Redis

        _redis = Redis.from_url(settings.REDIS_URL, socket_timeout=PROBE_TIMEOUT, socket_connect_timeout=PROBE_TIMEOUT)
    info = await _redis.info("server")
    return info["run_id"]


def layer_watch() -> LayerWatch:
    """One watch per running event loop (a server process has one; each test its own)."""
    global _watch, _redis
    loop = asyncio.get_running_loop()
    if _watch is None or _watch.loop is not loop:
        _watch = LayerWatch(loop)
        _redis = None  # a redis-py client belongs to the loop it was made on
    return _watch


def enabled() -> bool:
    return bool(getattr(settings, "REDIS_URL", ""))


def watch(consumer) -> None:
    watch_channel(consumer.channel_name)


def watch_channel(channel: str) -> None:
    if enabled():
        layer_watch().join(channel)


def _target(consumer) -> Any:
    """A consumer's channel; a checkout page (no channel of its own) itself."""
    return getattr(consumer, "channel_name", None) or consumer


def expect(consumer, snapshot: dict[str, Any]) -> None:
    """A checkout page now shows `snapshot`: while it is processing, a change is due."""
    if not enabled():
        return
    due = snapshot["settle_at"] if snapshot["status"] == "processing" else None
    if due is None:  # final, or a payment that never settles by itself
        layer_watch().due.pop(_target(consumer), None)
    else:
        layer_watch().due[_target(consumer)] = (datetime.fromisoformat(due).timestamp(), 0)


def unwatch(consumer) -> None:
    unwatch_channel(_target(consumer))


def unwatch_channel(target: Any) -> None:
    if enabled() and _watch is not None and _watch.loop is asyncio.get_running_loop():
        _watch.leave(target)
