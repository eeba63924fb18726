"""What a dashboard socket keeps between messages, as plain classes without I/O.

The consumer (consumers/dashboard.py) asks these what a message changes on its page and
sends what they answer; the stats hub (consumers/stats.py) asks `StatsBook` when to read
the counters. Tests drive them directly (tests/domain/test_dashboard_state.py).

Versions only move forward: a payment's version and a callback's `updated_at` are
compared before anything is shown, so a late message never replaces a newer state.
"""

from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

JSON_VERSIONS_KEPT = 10_000  # bounds memory per JSON client; far more than are in flight at once
STATS_MIN_GAP = 1.0
STATS_MAX_SHARE = 0.1  # at most this share of wall time spent reading the counters
STATS_IDLE_REFRESH = 5.0
ROW_FRAME_GAP = 0.1  # seconds between HTML frames of row changes under load


Render = Callable[[dict[str, Any]], str]


class View(Protocol):
    def matches(self, snapshot: dict[str, Any]) -> bool: ...


def created(snapshot: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(snapshot["created_at"])


@dataclass
class RowChange:
    """A shown row changed in place (`inserted` False), or a new row went on top,
    pushing `evicted` (references) off the bottom."""

    inserted: bool
    evicted: list[str] = field(default_factory=list)


class PaymentRows:
    """The rows on an HTML page: the latest `size` payments matching its filter.

    Below the page's last row lies the cut-off: a payment created at or before it is not
    on the page, so its changes are skipped, and an evicted row never comes back."""

    def __init__(self, view: View, size: int) -> None:
        self.view = view
        self.size = size
        # reference -> (version shown, created), newest last
        self.rows: OrderedDict[str, tuple[int, datetime]] = OrderedDict()
        self.cutoff: datetime | None = None

    def load(self, payments: list[dict[str, Any]]) -> None:
        """The page read from the database (newest first) replaces what was shown."""
        self.rows.clear()
        self.cutoff = None
        for payment in reversed(payments):
            self.rows[payment["reference"]] = (payment["version"], created(payment))
        if len(payments) >= self.size:
            self.cutoff = created(payments[-1])  # a full page: anything older is not on it

    def change(self, snapshot: dict[str, Any]) -> RowChange | None:
        """What `snapshot` does to the page; None: nothing (old, filtered out, or off it)."""
        reference = snapshot["reference"]
        shown = self.rows.get(reference)
        if shown is not None:
            if snapshot["version"] <= shown[0]:
                return None  # never an older (or the same) version after a newer one
            self.rows[reference] = (snapshot["version"], shown[1])
            return RowChange(inserted=False)
        when = created(snapshot)
        if not self.view.matches(snapshot) or (self.cutoff is not None and when <= self.cutoff):
            return None
        self.rows[reference] = (snapshot["version"], when)
        return RowChange(inserted=True, evicted=self._trim())

    def _trim(self) -> list[str]:
        evicted = []
        while len(self.rows) > self.size:
            reference, (_, when) = self.rows.popitem(last=False)
            evicted.append(reference)
            self.cutoff = when if self.cutoff is None else max(self.cutoff, when)
        return evicted


class JsonVersions:
    """A JSON client gets every change of a payment matching its filter, on the page or
    not, in version order; the last version sent per payment, least recently changed first."""

    def __init__(self, view: View, kept: int = JSON_VERSIONS_KEPT) -> None:
        self.view = view
        self.kept = kept
        self.versions: OrderedDict[str, int] = OrderedDict()

    def load(self, payments: list[dict[str, Any]]) -> None:
        for payment in reversed(payments):
            self.versions[payment["reference"]] = payment["version"]

    def accept(self, snapshot: dict[str, Any]) -> bool:
        """True: send it (and it is now the version sent)."""
        reference = snapshot["reference"]
        known = self.versions.get(reference)
        if known is None and not self.view.matches(snapshot):
            return False
        if known is not None and snapshot["version"] <= known:
            return False  # never an older (or the same) version after a newer one
        self.versions[reference] = snapshot["version"]
        self.versions.move_to_end(reference)
        if len(self.versions) > self.kept:
            self.versions.popitem(last=False)
        return True


@dataclass
class CallbackChanges:
    """Rows changed in place, rows inserted on top (both in message order), ids removed."""

    changed: list[tuple[bool, dict[str, Any]]] = field(default_factory=list)  # (inserted, snapshot)
    removed: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.changed or self.removed)


class CallbackRows:
    """The callbacks panel: the latest `size` deliveries by id, each at its newest state."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.shown: OrderedDict[int, str] = OrderedDict()  # id -> updated_at shown

    def load(self, snapshots: list[dict[str, Any]]) -> None:
        self.shown = OrderedDict((c["id"], c["updated_at"]) for c in reversed(snapshots))

    def change(self, snapshots: list[dict[str, Any]]) -> CallbackChanges:
        changes = CallbackChanges()
        for snapshot in snapshots:
            shown = self.shown.get(snapshot["id"])
            if shown is not None and snapshot["updated_at"] <= shown:
                continue  # never an older state after a newer one
            if shown is None and self.shown and snapshot["id"] < min(self.shown):
                continue  # older than every row shown: not on the panel
            changes.changed.append((shown is None, snapshot))
            self.shown[snapshot["id"]] = snapshot["updated_at"]
        while len(self.shown) > self.size:
            oldest = min(self.shown)
            del self.shown[oldest]
            changes.removed.append(oldest)
        return changes


class RowFrames:
    """HTML row changes go out at once when the socket is quiet, else gathered into one
    frame per `gap` seconds: at hundreds of settlements a second a browser applies a few
    frames a second, not hundreds. Fragments keep their order, so a row's last change is
    the one that stays. The caller owns the clock and the timer."""

    def __init__(self, gap: float = ROW_FRAME_GAP) -> None:
        self.gap = gap
        self.pending: list[str] = []
        self.last_sent = float("-inf")

    def offer(self, fragments: str, now: float) -> str | None:
        """The text to send now, or None: it waits for `take` (a timer is due when this
        made `pending` non-empty)."""
        if not self.pending and now - self.last_sent >= self.gap:
            self.last_sent = now
            return fragments
        self.pending.append(fragments)
        return None

    def wait(self, now: float) -> float:
        """Seconds until the gathered fragments may go."""
        return max(0.0, self.last_sent + self.gap - now)

    def take(self, now: float) -> str:
        text, self.pending = "".join(self.pending), []
        self.last_sent = now
        return text

    def drop(self) -> None:
        """A snapshot follows (or the socket closes): what waits is older than it."""
        self.pending = []


class StatsBook:
    """The counters shared by every dashboard of one server process: who gets them,
    whether a payment changed since the last read, and that read. One read serves them all."""

    def __init__(self) -> None:
        self.members: set[Hashable] = set()
        self.dirty = False
        self.latest: tuple[float, dict[str, Any]] | None = None  # (when read, stats)

    def join(self, member: Hashable) -> None:
        self.members.add(member)

    def leave(self, member: Hashable) -> bool:
        """True when nobody is left (the reading can stop)."""
        self.members.discard(member)
        return not self.members

    def touch(self) -> None:
        self.dirty = True

    def reading(self) -> None:
        # Cleared before the read, so a change committed during it triggers another.
        self.dirty = False

    def record(self, read_at: float, stats: dict[str, Any]) -> None:
        self.latest = (read_at, stats)

    def fresh(self, now: float) -> dict[str, Any] | None:
        """The last counters read, if no change arrived since: a connect burst reuses them."""
        if self.latest is None or self.dirty:
            return None
        read_at, stats = self.latest
        return stats if now - read_at < STATS_IDLE_REFRESH else None

    @staticmethod
    def pause_after(spent: float) -> float:
        """On a huge table the read gets slow: keep it under STATS_MAX_SHARE of the time."""
        return max(STATS_MIN_GAP, spent / STATS_MAX_SHARE - spent)


class StatsFrame:
    """One counters read, rendered at most once per format however many dashboards get it."""

    def __init__(self, stats: dict[str, Any], *, html: Render, json: Render) -> None:
        self.stats = stats
        self.render = {False: html, True: json}
        self.texts: dict[bool, str] = {}

    def text(self, as_json: bool) -> str:
        if as_json not in self.texts:
            self.texts[as_json] = self.render[as_json](self.stats)
        return self.texts[as_json]
