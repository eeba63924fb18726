"""The checkout pages' snapshot reads, batched: the pages connecting at once share one query.

A page reads its payment's snapshot when it connects (after it joined its group) and again
when the layer watch resyncs it. One read each cost a page's connect a quarter of the
server's CPU (a query compiled, a row, a thread hop: docs/performance.md), and 10,000 pages
coming back after a restart asked for 10,000 of them at once.

So a page asks `read(reference)` here. A read asked while none is running goes at once, on
its own; the reads asked while one is running wait for it and then go together, up to
`BATCH_MAX`, in one `WHERE reference IN (...)` on one thread hop. A read never starts
before it was asked for, so "join, then read" holds for every page as before.
"""

import asyncio
import logging
from typing import Any

from channels.db import database_sync_to_async

from regions import checkout_status

logger = logging.getLogger("consumers.snapshots")

BATCH_MAX = 500  # references per query


def _read(references: list[str]) -> dict[str, dict[str, Any]]:
    """On a pool thread: one reference is the one-row lookup, several one query."""
    if len(references) == 1:
        snapshot = checkout_status.read(references[0])
        return {references[0]: snapshot} if snapshot is not None else {}
    return checkout_status.read_many(references)


class SnapshotReads:
    """The batching for one event loop (a server process has one; each test its own)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.waiting: dict[str, list[asyncio.Future]] = {}
        self.task: asyncio.Task | None = None

    async def read(self, reference: str) -> dict[str, Any] | None:
        """The payment's snapshot, read after this call began; None if there is no such payment."""
        future = self.loop.create_future()
        self.waiting.setdefault(reference, []).append(future)
        if self.task is None or self.task.done():
            self.task = self.loop.create_task(self._run())
        return await future

    async def _run(self) -> None:
        while self.waiting:
            batch = {}
            for reference in list(self.waiting)[:BATCH_MAX]:
                batch[reference] = self.waiting.pop(reference)
            try:
                # The shared thread pool, not the one database thread: pages never queue
                # behind the other sockets' reads for it.
                found = await database_sync_to_async(_read, thread_sensitive=False)(list(batch))
            except Exception as exc:  # each page's connect fails as its own read would have
                for futures in batch.values():
                    _settle(futures, exception=exc)
                continue
            for reference, futures in batch.items():
                _settle(futures, result=found.get(reference))


def _settle(futures: list[asyncio.Future], *, result: Any = None, exception: Exception | None = None) -> None:
    for future in futures:
        if future.done():  # its page went away meanwhile
            continue
        if exception is not None:
            future.set_exception(exception)
        else:
            future.set_result(result)


_reads: SnapshotReads | None = None


async def read(reference: str) -> dict[str, Any] | None:
    """The checkout page's snapshot of `reference`, batched with the other pages' reads."""
    global _reads
    loop = asyncio.get_running_loop()
    if _reads is None or _reads.loop is not loop:
        _reads = SnapshotReads(loop)
    return await _reads.read(reference)
