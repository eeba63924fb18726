"""This process's copies of the rows every MoMo call reads, and the generation that retires them.

Each MoMo call needs its API user's row (the token names it; a new key must retire the old
tokens at once, in every process), the fault settings for that user and, to create a
payment, the live settings: a query each per call, for rows that change a few times a day. A server process keeps what it read here,
tagged with the *generation*: a random token in the shared cache (Redis) that every write
to those tables replaces, at once and again on commit (the model signals below). A MoMo
call reads the generation in the same round trip as its rate-limit count
(`ratelimit.count_at`), so trusting the copies costs no extra round trip; another
generation drops every copy and the call reads its rows again (momo/auth.py).

A copy is tagged with the generation seen before it was read, so a write that commits after
the read bumps the shared generation past its tag; a call uses a copy only while the shared
generation it read in its own round trip is the copy's tag. Rows read inside a transaction are not kept (it may roll
back). Without Redis (the embedded default, whose CLI commands write from other processes)
there is no shared generation: nothing is kept and every call reads its rows, as before.

Facts are kept the same way (`known` / `remember_on_commit`): "this wallet is open", so a
request to pay does not look its payer's wallet up again; a demo reset, which removes them,
replaces the generation. `bump` also drops this process's copies at once.

A write while Redis cannot be reached still commits (pausing settlement during a Redis outage
must work): the lost replacement is logged, and no copy is older than `MAX_AGE` seconds, so a
write whose replacement was lost (or a Redis restored from a snapshot with the old
generation) reaches every process within that bound.
"""

import copy
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models.signals import post_delete, post_migrate, post_save

from payments import ratelimit
from payments.models import CallbackSettings, MomoApiUser, SimulatorSettings

KEY = "momo-rows-generation"
MAX_AGE = 5.0  # seconds a copy is trusted at most, whatever the generation says
logger = logging.getLogger("payments.generation")
_lock = threading.Lock()
_seen: str | None = None  # the generation the copies are tagged with; None: keep nothing
_copies: dict[Any, tuple[Any, float]] = {}  # key: (the row(s), when they were read)
FACTS_MAX = 10_000
_facts: dict[Any, float] = {}  # key: when it was found true (remember_on_commit)


def shared() -> bool:
    """Whether the cache holds a generation every process sees (Redis: dashboard/cache.py)."""
    return hasattr(cache, "count_at")


def observe(generation: str | None) -> None:
    """The shared generation as just read: another one than the copies' drops them all."""
    global _seen, _copies, _facts
    with _lock:
        if generation != _seen:
            _seen, _copies, _facts = generation, {}, {}


def kept(key: Any, read: Callable[[], Any], *, at: str | None = None) -> tuple[Any, str | None]:
    """The copy kept under `key` (only one of generation `at`, when given), else `read()`;
    and the generation it is good for while the shared one is the same (None: unknown).
    What `read()` returns is kept, outside a transaction, unless another generation was
    seen meanwhile. A copy is copied again for each caller (a model instance is mutable)."""
    if connection.in_atomic_block:
        return read(), None
    now = time.monotonic()
    with _lock:
        generation = _seen
        found = _copies.get(key) if at is None or at == generation else None
    if found is not None and now - found[1] < MAX_AGE:
        return copy.copy(found[0]), generation
    value = read()
    if generation is not None:
        with _lock:
            if _seen == generation:
                _copies[key] = (copy.copy(value), now)
    return value, generation


def current() -> str | None:
    """The generation the copies are tagged with now: take it before reading a fact."""
    return _seen


def known(key: Any) -> bool:
    """Whether a fact was remembered under `key` (`remember_on_commit`) for the copies'
    generation, less than MAX_AGE ago."""
    with _lock:
        found = _facts.get(key)
    return found is not None and time.monotonic() - found < MAX_AGE


def remember_on_commit(key: Any, *, at: str | None) -> None:
    """Remember a fact just read (a row exists) under `key` once the transaction commits, if
    the generation `at`, taken before the read (`current()`), is still the copies' then.
    At most FACTS_MAX are kept (what a client's payer ids can grow): past it, the expired go,
    and if none has, all of them."""
    if at is None:
        return

    def remember() -> None:
        now = time.monotonic()
        with _lock:
            if _seen != at:
                return
            if len(_facts) >= FACTS_MAX:
                for stale in [k for k, when in _facts.items() if now - when >= MAX_AGE]:
                    del _facts[stale]
                if len(_facts) >= FACTS_MAX:
                    _facts.clear()
            _facts[key] = now

    transaction.on_commit(remember)


def count_at(key: str | None, *, timeout: int, expected: str | None) -> tuple[int | None, str | None]:
    """Count one hit on a window's counter (`key`; None: count nothing) unless the shared
    generation is not `expected` (None: any): (the count, or None when not counted, and the
    generation), in one round trip. Without Redis: the count (ratelimit), and None."""
    if not shared():
        return (ratelimit.window_count(key, timeout=timeout) if key else 0), None
    return cache.count_at(key, timeout, KEY, expected)


def bump() -> None:
    """A write to a kept table: a new generation now (a process that reads the row again
    before the commit reads the old one) and again on commit (it then reads the new one)."""
    observe(None)  # this process's copies go at once
    if not shared():
        return
    _replace()
    if connection.in_atomic_block:
        transaction.on_commit(_replace)


def _replace() -> None:
    try:
        cache.replace_generation(KEY)
    except Exception as exc:  # noqa: BLE001 - the write stands; copies age out (MAX_AGE)
        logger.warning(
            "MoMo row copies not retired (%s: %s); other processes use this write within %.0f s",
            type(exc).__name__, exc, MAX_AGE,
        )


def _written(sender: Any, **kwargs: Any) -> None:
    bump()


for _model in (MomoApiUser, CallbackSettings, SimulatorSettings):
    post_save.connect(_written, sender=_model, dispatch_uid=f"generation.saved.{_model.__name__}")
    post_delete.connect(_written, sender=_model, dispatch_uid=f"generation.deleted.{_model.__name__}")
# `flush` (a test database emptied between tests) writes no rows one by one; it ends here.
post_migrate.connect(_written, dispatch_uid="generation.migrated")
