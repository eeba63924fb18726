"""The counters for every dashboard of one server process (one event loop).

A payment change marks them dirty (`touch`); the hub recomputes `counters.read()` at most
once per `STATS_MIN_GAP` seconds (longer when the read itself is slow: at most
`STATS_MAX_SHARE` of the time), renders once per format and hands the same text to every
local dashboard. At 1,000 settlements/s with 20 dashboards that is one stats read per
second per server process, not 20,000. It also refreshes every `STATS_IDLE_REFRESH`
seconds while a dashboard is open, so "worker alive/stale" changes even when no payment
does. The bookkeeping is `dashboard_state.StatsBook`; this module holds the timer, the
read and the sends.
"""

import asyncio
import logging
import time
from typing import Any

from channels.db import database_sync_to_async

from consumers import dashboard_frames as frames
from consumers.dashboard_state import STATS_IDLE_REFRESH, StatsBook, StatsFrame
from regions import counters

logger = logging.getLogger("consumers.dashboard")


class StatsHub:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.book = StatsBook()
        self.wake = asyncio.Event()  # set with book.dirty: the loop waits on it
        self.task: asyncio.Task | None = None

    def join(self, member: Any) -> None:
        self.book.join(member)
        if self.task is None or self.task.done():
            self.task = self.loop.create_task(self._run())

    def leave(self, member: Any) -> None:
        if self.book.leave(member) and self.task:
            self.task.cancel()
            self.task = None

    def touch(self) -> None:
        self.book.touch()
        self.wake.set()

    def fresh(self) -> dict[str, Any] | None:
        return self.book.fresh(time.monotonic())

    async def _run(self) -> None:
        while self.book.members:
            try:
                await asyncio.wait_for(self.wake.wait(), timeout=STATS_IDLE_REFRESH)
            except TimeoutError:
                pass
            self.wake.clear()
            self.book.reading()
            started = time.monotonic()
            await self._read_and_push(started)
            await asyncio.sleep(self.book.pause_after(time.monotonic() - started))

    async def _read_and_push(self, started: float) -> None:
        try:
            stats = await database_sync_to_async(counters.read)()
            self.book.record(started, stats)
            await self._push(StatsFrame(stats, html=frames.stats, json=lambda s: frames.json_message("stats", s)))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the database is down: the counters wait, the rows still flow
            logger.warning("dashboard stats unavailable (%s): %s", type(exc).__name__, exc)

    async def _push(self, frame: StatsFrame) -> None:
        for member in list(self.book.members):
            text = frame.text(member.as_json)
            try:
                await member.send(text_data=text)
            except Exception as exc:  # a socket closing right now; its disconnect() removes it
                logger.info("dashboard stats not sent (%s)", type(exc).__name__)


_hub: StatsHub | None = None


def hub() -> StatsHub:
    """One hub per running event loop (a server process has one; each test has its own)."""
    global _hub
    loop = asyncio.get_running_loop()
    if _hub is None or _hub.loop is not loop:
        _hub = StatsHub(loop)
    return _hub
