"""A push from a server's request thread is handed to the server's event loop: the thread
answers without waiting for the layer, the thread's pushes still go out in commit order,
and a failed push is logged as before (payments/events.py)."""

import asyncio
import logging

from asgiref.sync import sync_to_async

from payments import events


class SlowLayer:
    """Holds its first send until `release` is set; notes every send in order."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.sent: list[tuple[str, dict]] = []

    async def group_send(self, group: str, message: dict) -> None:
        if not self.sent and not self.release.is_set():
            await self.release.wait()
        self.sent.append((group, message))


class DownLayer:
    async def group_send(self, group: str, message: dict) -> None:
        raise ConnectionError("Redis is down")


async def _until(condition, what: str) -> None:
    async with asyncio.timeout(5):
        while not condition():
            await asyncio.sleep(0.01)
    assert condition(), what


def _two_commits() -> None:
    """Two transactions' pushes, one after the other, on one request thread."""
    events.send_events([("dashboard", {"n": 1}), ("payment-x", {"n": 2})])
    events.send_events([("dashboard", {"n": 3})])


async def test_it_answers_before_the_push_and_keeps_the_threads_commit_order(monkeypatch):
    layer = SlowLayer()
    monkeypatch.setattr(events, "get_channel_layer", lambda: layer)
    async with asyncio.timeout(5):  # a thread that waits for the layer would wait for ever
        await sync_to_async(_two_commits, thread_sensitive=False)()
    assert layer.sent == []
    layer.release.set()
    await _until(lambda: len(layer.sent) == 3, "every push sent")
    assert [message["n"] for _, message in layer.sent] == [1, 2, 3]


async def test_it_logs_a_push_that_failed(monkeypatch, caplog):
    monkeypatch.setattr(events, "get_channel_layer", lambda: DownLayer())
    with caplog.at_level(logging.WARNING, logger="payments.events"):
        await sync_to_async(events.send_events, thread_sensitive=False)([("dashboard", {"n": 1})])
        await _until(lambda: "push failed" in caplog.text, "the warning")
    assert "push failed (ConnectionError): Redis is down" in caplog.text


def test_it_sends_at_once_off_a_server(monkeypatch):
    layer = SlowLayer()
    layer.release.set()
    monkeypatch.setattr(events, "get_channel_layer", lambda: layer)
    _two_commits()  # no event loop to hand to: sent before it returns
    assert [message["n"] for _, message in layer.sent] == [1, 2, 3]


async def test_pushes_sent_waits_for_what_the_loop_was_handed(monkeypatch):
    """What a worker awaits before it exits: asyncio.run would cancel a push still in flight."""
    layer = SlowLayer()
    monkeypatch.setattr(events, "get_channel_layer", lambda: layer)
    await sync_to_async(_two_commits, thread_sensitive=False)()
    asyncio.get_running_loop().call_later(0.2, layer.release.set)
    await events.pushes_sent(timeout=5)
    assert [message["n"] for _, message in layer.sent] == [1, 2, 3]
