"""What a dashboard page keeps between messages (consumers/dashboard_state.py), driven
directly: the rows shown, the cut-off below them, versions that only move forward, the
callbacks panel, the gathering of row frames, and the one counters read per server
process. Plus the frames' text (consumers/dashboard_frames.py): partials, the same bytes
the socket always sent."""

import asyncio
import json
from datetime import datetime, timedelta, timezone

import pytest
from django.utils.safestring import SafeString

from consumers import dashboard_frames as frames
from consumers import stats
from consumers.dashboard_state import (
    STATS_IDLE_REFRESH,
    STATS_MIN_GAP,
    CallbackRows,
    JsonVersions,
    PaymentRows,
    RowFrames,
    StatsBook,
    StatsFrame,
)
from payments.filters import Filter
from regions import counters

START = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)
EVERYTHING = Filter()


def payment(n: int, *, version: int = 1, status: str = "processing", phone: str = "46733123450") -> dict:
    """Payment number `n`, created `n` seconds after START (a higher n is newer)."""
    return {
        "reference": f"00000000-0000-4000-8000-{n:012d}",
        "version": version,
        "status": status,
        "created_at": (START + timedelta(seconds=n)).isoformat(),
        "phone_number": phone,
        "amount": "100.00",
        "currency": "EUR",
        "reason": "",
        "settle_at": None,
    }


def newest_first(*numbers: int) -> list[dict]:
    """A page as the database reads it."""
    return [payment(n) for n in sorted(numbers, reverse=True)]


def callback(callback_id: int, second: int, *, status: str = "pending", attempts: int = 0) -> dict:
    return {
        "id": callback_id, "reference": payment(1)["reference"], "url": "http://127.0.0.1:9/cb",
        "method": "POST", "copy": 1, "status": status, "attempts": attempts, "last_status_code": None,
        "last_error": "", "last_latency_ms": None, "next_attempt_at": None,
        "updated_at": (START + timedelta(seconds=second)).isoformat(),
    }


# --- the rows on an HTML page ----------------------------------------------------------


def test_it_shows_a_full_page_and_cuts_off_below_its_last_row():
    rows = PaymentRows(EVERYTHING, size=3)
    rows.load(newest_first(5, 6, 7))
    assert list(rows.rows) == [payment(n)["reference"] for n in (5, 6, 7)]  # oldest first
    assert rows.cutoff == START + timedelta(seconds=5)
    assert rows.change(payment(4)) is None  # created below the page: not on it
    assert rows.change(payment(5, version=2)).inserted is False  # the last row still changes


def test_it_takes_an_older_payment_while_the_page_is_not_full():
    rows = PaymentRows(EVERYTHING, size=3)
    rows.load(newest_first(5))
    assert rows.cutoff is None
    change = rows.change(payment(2))
    assert change.inserted and change.evicted == []


def test_it_changes_a_row_only_to_a_newer_version():
    rows = PaymentRows(EVERYTHING, size=3)
    rows.load(newest_first(1))
    assert rows.change(payment(1, version=3)).inserted is False
    assert rows.change(payment(1, version=2)) is None  # late: older than shown
    assert rows.change(payment(1, version=3)) is None  # the same again
    assert rows.rows[payment(1)["reference"]][0] == 3


def test_it_inserts_a_new_payment_on_top_and_evicts_the_oldest_for_good():
    rows = PaymentRows(EVERYTHING, size=2)
    rows.load(newest_first(1, 2))
    change = rows.change(payment(3))
    assert change.inserted and change.evicted == [payment(1)["reference"]]
    assert list(rows.rows) == [payment(2)["reference"], payment(3)["reference"]]
    assert rows.change(payment(1, version=2)) is None  # evicted: its later change is not re-inserted
    assert rows.cutoff == START + timedelta(seconds=1)


def test_it_inserts_only_payments_matching_its_filter():
    rows = PaymentRows(Filter.from_params({"q": "46700999"}), size=5)
    rows.load([])
    assert rows.change(payment(1)) is None
    assert rows.change(payment(2, phone="46700999000")).inserted


def test_a_reload_replaces_the_rows_and_the_cutoff():
    rows = PaymentRows(EVERYTHING, size=2)
    rows.load(newest_first(1, 2))
    rows.change(payment(3))
    rows.load([])  # after a demo reset: an empty page
    assert rows.rows == {} and rows.cutoff is None
    assert rows.change(payment(1, version=2)).inserted


# --- a JSON client ----------------------------------------------------------------------


def test_a_json_client_gets_every_change_in_version_order_on_the_page_or_not():
    versions = JsonVersions(Filter.from_params({"status": "processing"}))
    versions.load(newest_first(1))
    assert versions.accept(payment(1, version=2, status="successful"))  # known: sent though it no longer matches
    assert not versions.accept(payment(1, version=2, status="successful"))
    assert not versions.accept(payment(1, version=1))
    assert not versions.accept(payment(9, status="failed"))  # unknown and not matching
    assert versions.accept(payment(8))  # never on a page, but it matches


def test_a_json_client_remembers_a_bounded_number_of_payments():
    versions = JsonVersions(EVERYTHING, kept=2)
    for n in (1, 2, 3):
        assert versions.accept(payment(n))
    assert list(versions.versions) == [payment(2)["reference"], payment(3)["reference"]]
    assert versions.accept(payment(2, version=2))
    assert list(versions.versions)[-1] == payment(2)["reference"]  # the least recently changed go first


# --- the callbacks panel ----------------------------------------------------------------


def test_the_callbacks_panel_changes_in_place_inserts_on_top_and_drops_the_oldest():
    panel = CallbackRows(size=2)
    panel.load([callback(11, 1), callback(10, 0)])
    changes = panel.change([callback(10, 5, attempts=1), callback(12, 6), callback(9, 7)])
    assert [(inserted, c["id"]) for inserted, c in changes.changed] == [(False, 10), (True, 12)]
    assert changes.removed == [10]  # 9 is older than every row shown: never on the panel
    assert list(panel.shown) == [11, 12]


def test_the_callbacks_panel_never_shows_an_older_state():
    panel = CallbackRows(size=5)
    panel.load([callback(10, 5, status="delivered", attempts=1)])
    assert not panel.change([callback(10, 4, attempts=1), callback(10, 5, status="delivered", attempts=1)])
    assert not panel.change([callback(7, 6)])  # older than every row shown
    assert panel.change([callback(12, 6)]).changed == [(True, callback(12, 6))]
    assert CallbackRows(size=5).change([callback(1, 1)]).changed == [(True, callback(1, 1))]  # an empty panel


# --- row frames -------------------------------------------------------------------------


def test_it_sends_a_quiet_change_at_once_and_gathers_a_burst_into_one_frame():
    gate = RowFrames(gap=0.1)
    assert gate.offer("a", now=10.0) == "a"
    assert gate.offer("b", now=10.01) is None
    assert gate.offer("c", now=10.5) is None  # after the gap, yet a frame is waiting: it goes with it
    assert gate.wait(now=10.01) == pytest.approx(0.09)
    assert gate.take(now=10.5) == "bc"
    assert gate.offer("d", now=10.55) is None  # within the gap of that frame
    assert gate.take(now=10.6) == "d"
    assert gate.offer("e", now=10.8) == "e"


def test_a_snapshot_drops_the_row_changes_still_waiting():
    gate = RowFrames(gap=0.1)
    gate.offer("a", now=1.0)
    gate.offer("b", now=1.01)
    gate.drop()
    assert gate.take(now=1.2) == ""


# --- the counters, once per server process ----------------------------------------------


def test_the_counters_read_is_reused_until_a_payment_changes_or_it_grows_old():
    book = StatsBook()
    assert book.fresh(now=0.0) is None
    book.reading()
    book.record(100.0, {"processing": 1})
    assert book.fresh(now=100.5) == {"processing": 1}
    assert book.fresh(now=100.0 + STATS_IDLE_REFRESH) is None
    book.touch()
    assert book.fresh(now=100.5) is None


def test_a_change_during_the_read_asks_for_another():
    book = StatsBook()
    book.touch()
    book.reading()
    book.touch()  # committed while the counters were read
    book.record(1.0, {})
    assert book.dirty and book.fresh(now=1.1) is None


def test_the_counters_are_read_at_most_once_a_second_and_a_slow_read_takes_a_tenth_of_the_time():
    assert StatsBook.pause_after(0.01) == STATS_MIN_GAP
    assert StatsBook.pause_after(0.5) == pytest.approx(4.5)


def test_the_hub_stops_reading_when_the_last_dashboard_leaves():
    book = StatsBook()
    book.join("a")
    book.join("b")
    assert book.leave("a") is False
    assert book.leave("b") is True


def test_one_read_is_rendered_once_per_format_for_every_dashboard():
    rendered: list[str] = []
    frame = StatsFrame(
        {"processing": 2},
        html=lambda s: rendered.append("html") or f"<p>{s['processing']}</p>",
        json=lambda s: rendered.append("json") or json.dumps(s),
    )
    texts = [frame.text(as_json) for as_json in (False, True, False, True, False)]
    assert texts == ["<p>2</p>", '{"processing": 2}', "<p>2</p>", '{"processing": 2}', "<p>2</p>"]
    assert rendered == ["html", "json"]


class Member:
    def __init__(self, as_json: bool, everyone: asyncio.Event, received: list) -> None:
        self.as_json, self.everyone, self.received = as_json, everyone, received

    async def send(self, text_data: str) -> None:
        self.received.append((self.as_json, text_data))
        if len(self.received) == 5:
            self.everyone.set()


# The read runs through database_sync_to_async, whose close_old_connections touches the
# connection an earlier test left on asgiref's one sync thread: allowed only with a database.
@pytest.mark.django_db
async def test_the_hub_reads_once_and_sends_every_dashboard_the_same_text(monkeypatch):
    reads: list[int] = []
    monkeypatch.setattr(counters, "read", lambda: reads.append(1) or {"processing": 7})
    monkeypatch.setattr(frames, "stats", lambda s: f"<section id=\"stats\">{s['processing']}</section>")
    everyone, received = asyncio.Event(), []
    members = [Member(n % 2 == 1, everyone, received) for n in range(5)]
    hub = stats.hub()
    for member in members:
        hub.join(member)
    for _ in range(10):
        hub.touch()  # a burst of payment changes
    await asyncio.wait_for(everyone.wait(), timeout=5)
    for member in members:
        hub.leave(member)
    assert reads == [1]
    html, as_json = '<section id="stats">7</section>', '{"type": "stats", "stats": {"processing": 7}}'
    assert sorted(received) == [(False, html)] * 3 + [(True, as_json)] * 2
    assert hub.task is None


# --- the frames' text -------------------------------------------------------------------


def test_a_new_row_frame_puts_it_on_top_and_the_evicted_rows_off_the_page():
    new = payment(3)
    text = frames.row_inserted(new, [payment(1)["reference"]])
    row = frames.row(new)
    assert row.startswith(f'\n<div id="row-{new["reference"]}" class="prow status-processing"')
    assert text == (
        f'<div id="payment-rows" hx-swap-oob="afterbegin">{row}</div>'
        f'<div id="row-{payment(1)["reference"]}" hx-swap-oob="delete"></div>'
    )


def test_a_callbacks_frame_changes_inserts_then_removes():
    panel = CallbackRows(size=1)
    panel.load([callback(10, 0)])
    text = frames.callbacks_changed(panel.change([callback(10, 1, attempts=1), callback(11, 2)]))
    changed = frames.callbacks_panel.render(callback(10, 1, attempts=1), oob=True)
    inserted = frames.callbacks_panel.render(callback(11, 2))
    assert 'id="callback-10"' in changed and 'hx-swap-oob="true"' in changed
    assert text == (
        changed + f'<div id="callback-rows" hx-swap-oob="afterbegin">{inserted}</div>'
        '<div id="callback-10" hx-swap-oob="delete"></div>'
    )


def test_the_snapshot_frame_replaces_rows_and_callbacks_then_counters_and_settings(monkeypatch):
    # Rendered partials are safe strings; the frame inserts them as they are.
    monkeypatch.setattr(frames, "stats", lambda s: SafeString('<section id="stats"></section>'))
    monkeypatch.setattr(frames, "settings", lambda s: SafeString('<section id="settings-panel"></section>'))
    page = {"payments": newest_first(1, 2), "callbacks": [callback(10, 0)], "stats": {}, "settings": {}}
    rows = "".join(frames.row(p) for p in page["payments"])
    callback_row = frames.callbacks_panel.render(callback(10, 0))
    assert frames.snapshot(page) == (
        f'<div id="payment-rows" hx-swap-oob="innerHTML">{rows}</div>'
        f'<div id="callback-rows" hx-swap-oob="innerHTML">{callback_row}</div>'
        '<section id="stats"></section><section id="settings-panel"></section>'
    )
