"""The events services publish: group names, message formats, and the one on-commit helper.

The domain publishes; the pages (consumers) subscribe. Services call `send_event_on_commit`
inside their transaction, so nothing is pushed that did not commit (Zulip's helper of the
same name). This module is the only place that calls `group_send`.

Messages on the channel layer (all carry snapshots, so consumers never query per message):
- to `payment-<reference>` and `dashboard`: {"type": "payment.updated", "payment": {...}}
- to `dashboard`: {"type": "settings.updated", "settings": {...}}
- to `dashboard` and `pages` (every checkout and phone page): {"type": "demo.reset"} after
  a reset removed every payment
- to `dashboard`: {"type": "callbacks.updated", "callbacks": [...]} when callback
  deliveries are created or attempted (payments/callbacks.py)
- to `balances` (dashboards): {"type": "balances.updated", "accounts": [...]} when merchant
  accounts (collection, disbursement, remittance) move; to `wallet-<hash>` (the phone pages
  of that party): {"type": "wallet.updated", "wallet": {...}, "payment": {...} | None}
  when a wallet moves (`payment`: the payment that moved it, if one did).
- to `inspector` (every open inspector page): {"type": "calls.recorded", "calls": [...]}
  when the integration inspector wrote a batch of MoMo calls (inspector/recorder.py)
- to `dashboard`: {"type": "presenter.changed", "presenter": {"scenarios": [...], "playing": {...}}}
  when a scenario or the background traffic starts or ends (presenter/runner.py)
- to `settlement-workers`: {"type": "worker.wake"} when a payment is created, the
  settings change or callbacks fall due, so a sleeping worker recomputes its next due time.
- to `user-<id>`: {"type": "user.revoked", "session": tag} when that user logs out or
  loses staff or active: its staff sockets close (consumers/access.py).
- to `healthz` (a group nobody joins): {"type": "healthz.probe"}, sent at once by
  `/healthz` (payments/health.py) to see the layer answer.
- to a server process's own `resync-probe-<hex>` group: {"type": "resync.probe", "token": ...},
  sent at once by its layer watch (consumers/resync.py) to see a push get through.

The channel layer delivers at most once; every page resyncs from the database on
(re)connect, so a lost message delays a page, it never leaves it wrong.
"""

import asyncio
import hashlib
import logging
import os
import threading
from concurrent.futures import Future
from functools import partial
from typing import Any, Callable

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger("payments.events")

DASHBOARD_GROUP = "dashboard"
HEALTHZ_GROUP = "healthz"  # nobody joins it: a send to it is a round trip to the layer
WORKER_GROUP = "settlement-workers"
INSPECTOR_GROUP = "inspector"  # every open inspector page
PAGES_GROUP = "pages"  # every checkout and phone page: told when the demo is reset
WAKE = {"type": "worker.wake"}
# Wakes only the workers' callback senders: a settlement loop re-run per batch of new
# callbacks cost the settlements their punctuality (make bench, callbacks phase).
CALLBACKS_WAKE = {"type": "worker.wake", "what": "callbacks"}

Event = tuple[str, dict[str, Any]]  # (group, message)


def payment_group(reference: str) -> str:
    """Group names are built from the server-side reference only (a UUID)."""
    return f"payment-{reference}"


def payment_created(snapshot: dict[str, Any]) -> list[Event]:
    return [(WORKER_GROUP, WAKE), *payments_changed([snapshot])]


def payments_changed(snapshots: list[dict[str, Any]]) -> list[Event]:
    events = []
    for snapshot in snapshots:
        message = {"type": "payment.updated", "payment": snapshot}
        events += [(payment_group(snapshot["reference"]), message), (DASHBOARD_GROUP, message)]
    return events


BALANCES_GROUP = "balances"


def wallet_group(party_id: str) -> str:
    """A party's wallet pages: named by a hash, since a party id is the caller's text."""
    return "wallet-" + hashlib.sha256(party_id.encode()).hexdigest()[:40]


def balances_changed(accounts: list[dict[str, Any]], *, payments: dict[str, dict[str, Any]] | None = None) -> list[Event]:
    """Accounts that moved (`account_snapshot`s); `payments`: by wallet owner, the payment that moved it."""
    merchants = [a for a in accounts if a["kind"] != "wallet" and a["kind"] != "issuer"]
    events = [(BALANCES_GROUP, {"type": "balances.updated", "accounts": merchants})] if merchants else []
    for wallet in (a for a in accounts if a["kind"] == "wallet"):
        payment = (payments or {}).get(wallet["owner"])
        party_id = wallet["owner"].removeprefix("party:")
        events.append((wallet_group(party_id), {"type": "wallet.updated", "wallet": wallet, "payment": payment}))
    return events


def settings_changed(snapshot: dict[str, Any]) -> list[Event]:
    return [(WORKER_GROUP, WAKE), (DASHBOARD_GROUP, {"type": "settings.updated", "settings": snapshot})]


def callbacks_changed(snapshots: list[dict[str, Any]], *, wake: bool = False) -> list[Event]:
    """Callback deliveries attempted (or, `wake`, newly due: a worker should send them now)."""
    message = (DASHBOARD_GROUP, {"type": "callbacks.updated", "callbacks": snapshots})
    return [(WORKER_GROUP, CALLBACKS_WAKE), message] if wake else [message]


def calls_recorded(snapshots: list[dict[str, Any]]) -> list[Event]:
    """MoMo calls the inspector recorded (already redacted), oldest first."""
    return [(INSPECTOR_GROUP, {"type": "calls.recorded", "calls": snapshots})]


def presenter_changed(state: dict[str, Any]) -> list[Event]:
    """A presenter task (scenario, traffic) started or ended: every dashboard's Scenarios panel."""
    return [(DASHBOARD_GROUP, {"type": "presenter.changed", "presenter": state})]


def workers_wake() -> list[Event]:
    """Something is due now (an upstream callback asked for a status check)."""
    return [(WORKER_GROUP, WAKE)]


def user_group(user_pk: Any) -> str:
    """Every staff socket of one user, on any server process; from the server-side id only."""
    return f"user-{int(user_pk)}"


def user_revoked(user_pk: Any, *, session: str = "") -> list[Event]:
    """`session`: the tag of the one session that ended (a logout); empty: re-check them all."""
    return [(user_group(user_pk), {"type": "user.revoked", "session": session})]


def demo_reset() -> list[Event]:
    message = {"type": "demo.reset"}
    return [(DASHBOARD_GROUP, message), (PAGES_GROUP, message), (WORKER_GROUP, WAKE)]


def healthz_probe() -> list[Event]:
    return [(HEALTHZ_GROUP, {"type": "healthz.probe"})]


def resync_probe(group: str, token: str) -> list[Event]:
    """The layer watch's probe to its own group: `token` tells this probe from a late one."""
    return [(group, {"type": "resync.probe", "token": token})]


def send_event_on_commit(events: list[Event]) -> None:
    """Push `events` once the current transaction commits (never, if it rolls back).

    Events registered by one transaction go out in one hop to the event loop.
    """
    transaction.on_commit(partial(send_events, events))


async def send_now(events: list[Event], *, layer: Any = None) -> None:
    """Send `events` at once, from async code, and raise if the layer fails: for probes,
    which want to know, and for the on-commit path below. `layer`: the caller's own."""
    layer = get_channel_layer() if layer is None else layer
    for group, message in events:
        await layer.group_send(group, message)


# The callback senders running in this process (payments/callback_sender.py), each a
# thread-safe "send what is due now". A commit that made callbacks due calls them before
# the layer's round trip: a sender beside the settling worker need not wait for its wake
# message, nor for its next pass.
local_callback_senders: set[Callable[[], None]] = set()


def send_events(events: list[Event]) -> None:
    if (WORKER_GROUP, CALLBACKS_WAKE) in events:
        for due_now in list(local_callback_senders):
            due_now()
    loop = _event_loop_of_this_thread()
    if loop is not None and _hand_over(loop, events):
        return
    try:
        async_to_sync(send_now)(events)
    except Exception as exc:  # the commit stands; pages converge when they resync
        _push_failed(exc)


def _push_failed(exc: Exception) -> None:
    logger.warning("push failed (%s): %s", type(exc).__name__, exc)


# On a thread an event loop runs sync code on (a server's request thread, a MoMo call's
# or a view's; a worker's settlement pass) the push is handed to that loop, and the thread
# goes on without waiting for the layer. Waiting (a cross-thread round trip and the
# PUBLISHes) cost a MoMo request to pay ~0.5 ms of CPU (in-process A/B, 16 in flight:
# 4.19 -> 3.66 ms). The pushes one thread hands over still go out in its commit order: each
# waits for the one before it on that loop (`_pushes.last`); a worker waits for what it
# handed over before it exits (`pushes_sent`).
_pushes = threading.local()


def _event_loop_of_this_thread() -> asyncio.AbstractEventLoop | None:
    """The event loop that runs this thread's sync_to_async call, if any (asgiref sets it)."""
    if getattr(SyncToAsync.threadlocal, "main_event_loop_pid", None) != os.getpid():
        return None
    return getattr(SyncToAsync.threadlocal, "main_event_loop", None)


def _hand_over(loop: asyncio.AbstractEventLoop, events: list[Event]) -> bool:
    """Have `loop` send `events` after this thread's previous push; False if it cannot."""
    last_loop, previous = getattr(_pushes, "last", (None, None))
    done: Future[None] = Future()
    try:
        loop.call_soon_threadsafe(_start_push, events, previous if last_loop is loop else None, done)
    except RuntimeError:  # the loop is closed: send from here, as with no loop
        return False
    _pushes.last = (loop, done)
    return True


def _start_push(events: list[Event], previous: "Future[None] | None", done: "Future[None]") -> None:
    _running_pushes.add(task := asyncio.ensure_future(_push_after(events, previous, done)))
    task.add_done_callback(_running_pushes.discard)


_running_pushes: set[asyncio.Task] = set()  # the loop keeps only weak references to tasks


async def pushes_sent(timeout: float) -> None:
    """Wait, at most `timeout` seconds, for the pushes handed to the running loop (a worker
    before it exits: asyncio.run would cancel them)."""
    loop = asyncio.get_running_loop()
    pending = [task for task in _running_pushes if task.get_loop() is loop]
    if pending:
        await asyncio.wait(pending, timeout=timeout)


async def _push_after(events: list[Event], previous: "Future[None] | None", done: "Future[None]") -> None:
    try:
        if previous is not None and not previous.done():
            await asyncio.wrap_future(previous)
        await send_now(events)
    except Exception as exc:  # the commit stands; pages converge when they resync
        _push_failed(exc)
    finally:
        done.set_result(None)
