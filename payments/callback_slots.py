"""A callback sender's slots: the caps on its sends in flight, and what waits for one.

A sender has at most `concurrency` sends in flight, and at most `per_host` to one
destination (`callbacks.destination_key`), so one hanging receiver holds only its own
slots (issue 18). Deliveries leased to the sender reach it two ways: its claims, which
never take more than it can start at once, and a settlement's hand-over
(payments/handover.py), which may lease a burst beyond the free slots. What cannot start
at once waits here, per destination, while its lease leaves time for a whole attempt.

Reservations are made on the ORM thread (inside a settlement transaction), sends start and
finish on the event loop: every count is read and changed under one lock.
"""

import threading
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

Item = tuple[Any, dict[str, Any]]  # (a leased delivery, its settings)


class Slots:
    def __init__(self, concurrency: int, per_host: int) -> None:
        self.concurrency = concurrency
        self.per_host = per_host
        self.lock = threading.Lock()
        self.busy: Counter[str] = Counter()  # in flight, per destination
        self.flying = 0
        self.reserved: Counter[str] = Counter()  # leased by a transaction not yet committed
        self.waiting: dict[str, deque[Item]] = {}

    def _held(self, key: str) -> int:
        return self.busy[key] + self.reserved[key] + len(self.waiting.get(key, ()))

    def _can_fly(self, key: str) -> bool:
        return self.flying < self.concurrency and not (self.per_host and self.busy[key] >= self.per_host)

    def _fly(self, key: str) -> None:
        self.busy[key] += 1
        self.flying += 1

    # --- the ORM thread: claims and a settlement's hand-over ---------------------------

    def claimable(self) -> tuple[int, dict[str, int]]:
        """How many a claim may take (the slots neither in flight nor reserved), and what
        each destination holds already (in flight, waiting, reserved): the claim's count
        per destination. What waits does so for a full destination, so it takes no slot
        from the others: one hanging receiver's burst never holds up another's retries."""
        with self.lock:
            held = {key: self._held(key) for key in {*self.busy, *self.reserved, *self.waiting}}
            return self.concurrency - self.flying - sum(self.reserved.values()), held

    def saturated(self) -> bool:
        """Whether some destination has every slot it may have in flight."""
        with self.lock:
            return bool(self.per_host) and any(count >= self.per_host for count in self.busy.values())

    def reserve(self, key: str) -> bool:
        """A hand-over's lease for one delivery to `key`: at most `concurrency` held per
        destination (in flight, waiting, reserved) and twice that in all."""
        with self.lock:
            total = self.flying + sum(self.reserved.values()) + sum(len(q) for q in self.waiting.values())
            if self._held(key) >= self.concurrency or total >= 2 * self.concurrency:
                return False
            self.reserved[key] += 1
            return True

    def unreserve(self, key: str) -> None:
        with self.lock:
            self.reserved[key] -= 1
            if self.reserved[key] <= 0:
                del self.reserved[key]

    # --- the event loop ---------------------------------------------------------------

    def admit(self, key: str, item: Item, *, reserved: bool = False) -> bool:
        """A leased delivery arrives: True if it may start now (its slot taken), else it
        waits. `reserved`: it was reserved by a hand-over, which this settles."""
        with self.lock:
            if reserved:
                self.reserved[key] -= 1
                if self.reserved[key] <= 0:
                    del self.reserved[key]
            if self._can_fly(key) and key not in self.waiting:
                self._fly(key)
                return True
            self.waiting.setdefault(key, deque()).append(item)
            return False

    def finished(self, key: str, fresh: Callable[[Item], bool]) -> tuple[list[Item], list[Item]]:
        """A send to `key` ended: its slot back. Returns the waiting deliveries that start
        now (their slots taken) and those dropped because `fresh` says their lease is too
        short for an attempt (left to run out, then claimed again)."""
        with self.lock:
            self.busy[key] -= 1
            self.flying -= 1
            if self.busy[key] <= 0:
                del self.busy[key]
            ready: list[Item] = []
            stale: list[Item] = []
            for waiting_key in list(self.waiting):
                queue = self.waiting[waiting_key]
                while queue and self._can_fly(waiting_key):
                    item = queue.popleft()
                    if fresh(item):
                        self._fly(waiting_key)
                        ready.append(item)
                    else:
                        stale.append(item)
                if not queue:
                    del self.waiting[waiting_key]
            return ready, stale

    def cancelled(self, key: str) -> None:
        """A send that never finished (the sender stopped): its slot back."""
        with self.lock:
            self.busy[key] -= 1
            self.flying -= 1
            if self.busy[key] <= 0:
                del self.busy[key]

    def drop_waiting(self) -> int:
        with self.lock:
            count = sum(len(queue) for queue in self.waiting.values())
            self.waiting.clear()
            return count
