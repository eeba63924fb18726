"""Recording calls: cheap on the request's path, bounded in storage, never in the way.

`record(row)` only appends to this process's buffer (a list append under a lock); a
daemon thread flushes it every INSPECTOR_FLUSH_SECONDS (sooner when FLUSH_AT rows wait):
one bulk INSERT for the batch, the caps applied to the API users in it, one push to the
inspector pages. INSPECTOR_FLUSH_SECONDS=0 writes each row at once instead (the tests).
Nothing here raises into a caller: a full buffer or a failed write is logged and skipped.
"""

import asyncio
import atexit
import logging
import os
import threading
import time
from typing import Any

from django.conf import settings
from django.db import connections, transaction

from inspector import rows
from inspector.models import ApiCall
from payments import events

logger = logging.getLogger("payments.inspector")

FLUSH_AT = 500  # rows waiting: flush now rather than at the next tick
PUSH_MAX = 100  # calls per push (an inspector page shows the latest 100)
WARN_EVERY = 10.0  # seconds between two "dropped" warnings
PRUNE_EVERY = 1.0  # seconds between two applications of the caps by a flushing thread

_lock = threading.Lock()
_flushing = threading.Lock()  # one flush at a time, start (taking the rows) to end (written)
_buffer: list[dict[str, Any]] = []
_wake = threading.Event()
_thread: threading.Thread | None = None
_owner_pid = 0
_dropped = 0
_last_warning = 0.0
_last_prune = 0.0
_unpruned: set[Any] = set()  # API users written since the caps were last applied
_server_loop: asyncio.AbstractEventLoop | None = None  # the ASGI server's, seen from a request thread


def record(row: dict[str, Any], *, inline: bool = True) -> None:
    """Queue one call (the fields of ApiCall). Never raises. With INSPECTOR_FLUSH_SECONDS=0
    an `inline` call is written at once, with whatever waits; the others (outbound calls,
    made on event loops and pool threads) wait for the next inline write or `flush()`."""
    try:
        at_once = settings.INSPECTOR_FLUSH_SECONDS <= 0
        if at_once and inline:
            with _lock:
                rows, _buffer[:] = [*_buffer, row], []
            write(rows)
            return
        with _lock:
            if len(_buffer) >= settings.INSPECTOR_BUFFER_MAX:
                _drop(1)
                return
            _buffer.append(row)
            waiting = len(_buffer)
        if at_once:
            return
        _note_server_loop()
        _ensure_thread()
        if waiting >= FLUSH_AT:
            _wake.set()
    except Exception as exc:
        logger.warning("a call was not recorded (%s): %s", type(exc).__name__, exc)


def _drop(count: int) -> None:
    global _dropped, _last_warning
    _dropped += count
    now = time.monotonic()
    if now - _last_warning >= WARN_EVERY:
        logger.warning("inspector buffer full: %d calls not recorded so far", _dropped)
        _last_warning = now


def flush(push: "Pusher | None" = None) -> int:
    """Write what waits in this process's buffer now; the number of rows written. Returns
    once every call recorded before it is written: a flush the flushing thread is in the
    middle of (it took the rows) is waited for, not passed by with an empty buffer."""
    with _flushing:
        with _lock:
            rows = _buffer[:]
            _buffer.clear()
        return write(rows, push) if rows else 0


def _note_server_loop() -> None:
    """The ASGI server's event loop, as asgiref records it for a request's thread: pushes
    go through it (the in-memory layer is not thread-safe; Redis keeps its connection)."""
    global _server_loop
    if _server_loop is None:
        from asgiref.sync import SyncToAsync

        try:  # called on the loop itself (the demo's callback sender)
            _server_loop = asyncio.get_running_loop()
        except RuntimeError:  # a request's thread
            _server_loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)


class Pusher:
    """Pushes from the flushing thread: on the server's event loop when there is one, else
    on one loop of its own kept open, so the channel layer keeps one connection (a new
    loop per push would connect to Redis every time)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def __call__(self, batch: list[events.Event]) -> None:
        try:
            if _server_loop is not None and _server_loop.is_running():
                asyncio.run_coroutine_threadsafe(events.send_now(batch), _server_loop).result(timeout=5)
            else:
                self.loop.run_until_complete(events.send_now(batch))
        except Exception as exc:  # the rows stand; open pages see them on their next load
            logger.warning("inspector push failed (%s): %s", type(exc).__name__, exc)


def write(rows: list[dict[str, Any]], push: "Pusher | None" = None) -> int:
    """One INSERT for `rows`, the caps, then one push. A failure drops the rows, logged.

    The caps are applied with every write when writes are synchronous, else at most once
    per PRUNE_EVERY (a table may hold a second's calls more than the caps meanwhile)."""
    global _last_prune
    _unpruned.update(row.get("api_user") for row in rows)
    due = settings.INSPECTOR_FLUSH_SECONDS <= 0 or time.monotonic() - _last_prune >= PRUNE_EVERY
    try:
        with transaction.atomic():
            made = ApiCall.objects.bulk_create([ApiCall(**row) for row in rows])
            if due:
                prune(set(_unpruned))
                _unpruned.clear()
                _last_prune = time.monotonic()
    except Exception as exc:
        logger.warning("%d calls not recorded (%s): %s", len(rows), type(exc).__name__, exc)
        return 0
    if all(call.pk for call in made):
        (push or events.send_events)(events.calls_recorded([snapshot(call) for call in made[-PUSH_MAX:]]))
    return len(made)


def prune(api_users: set[Any]) -> None:
    """Oldest first: keep INSPECTOR_MAX_PER_USER rows per API user (calls of no known user
    count as one more) and INSPECTOR_MAX_TOTAL in all."""
    per_user = settings.INSPECTOR_MAX_PER_USER
    for api_user in api_users:
        _keep_newest(ApiCall.objects.filter(api_user=api_user), per_user)
    _keep_newest(ApiCall.objects.all(), settings.INSPECTOR_MAX_TOTAL)


def _keep_newest(rows, count: int) -> None:
    edge = list(rows.order_by("-id").values_list("id", flat=True)[count:count + 1])
    if edge:
        rows.filter(id__lte=edge[0]).delete()


def snapshot(call: ApiCall) -> dict[str, Any]:
    """What a page shows of a call before it is expanded (already redacted at recording)."""
    return {
        "id": call.pk,
        "at": call.at.isoformat(),
        "direction": call.direction,
        "api_user": str(call.api_user) if call.api_user else "",
        "product": call.product,
        "operation": call.operation,
        "method": call.method,
        "path": call.path,
        "status": call.status,
        "outcome": call.outcome,
        "code": call.code,
        "reason": call.reason,
        "fix": call.fix,
        "latency_ms": round(call.latency_ms, 1),
        "reference": call.reference,
    }


# --- the flushing thread ------------------------------------------------------------------


def _ensure_thread() -> None:
    global _thread, _owner_pid
    if _thread is not None and _thread.is_alive() and _owner_pid == os.getpid():
        return
    with _lock:
        if _thread is not None and _thread.is_alive() and _owner_pid == os.getpid():
            return
        _owner_pid = os.getpid()
        _thread = threading.Thread(target=_run, name="inspector-flush", daemon=True)
        _thread.start()


def _run() -> None:
    """Until writes turn synchronous (INSPECTOR_FLUSH_SECONDS=0: a test's settings)."""
    push = Pusher()
    while settings.INSPECTOR_FLUSH_SECONDS > 0:
        _wake.wait(settings.INSPECTOR_FLUSH_SECONDS)
        _wake.clear()
        try:
            flush(push)
        finally:
            connections.close_all()  # this thread's connection goes back (to the pool)


atexit.register(flush)


def record_outbound(call: dict[str, Any]) -> None:
    """The domain's hook (payments/calls.py): a callback attempt or an upstream call."""
    if settings.INSPECTOR_ENABLED:
        record(rows.outbound(call), inline=False)
