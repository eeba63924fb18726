"""Open dashboards follow every change live: new rows, rows changing in place, settings, counters.

These drive the real ASGI stack (origin check, session auth, routing, consumer) with the
in-memory channel layer; changes go through the services and the worker, so what a socket
receives is what the broadcast really sends after commit.
"""

import json
import re

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.db.backends import utils as db_utils
from django.test import Client

from consumers import rendering
from payments import services
from payments.events import DASHBOARD_GROUP
from payments.models import Payment
from payments.selectors import payment_snapshot
from payments.worker import SettlementWorker
from regions import counters, payment_row
from tests.support.clients import is_json_type, open_dashboard, receive_until
from tests.support.factories import created_apart, make_payment

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("empty_layer")]

# A row in a final state, as the benchmark's HTML dashboard counts them (bench/clients.py).
FINAL_ROW = re.compile(r'id="row-([0-9a-f-]{36})"[^>]*data-status="(successful|failed)"')


@pytest.fixture
async def staff_client(operator) -> Client:
    client = Client()
    await sync_to_async(client.force_login)(operator)
    return client


@pytest.fixture
async def second_operator_client(db) -> Client:
    def make() -> Client:
        user = get_user_model().objects.create_user("alice", password="al-pass-123", is_staff=True)
        client = Client()
        client.force_login(user)
        return client

    return await sync_to_async(make)()


def inserted(reference) -> callable:
    return lambda m: 'id="payment-rows" hx-swap-oob="afterbegin"' in m and f'id="row-{reference}"' in m


def row_update(reference, status: str) -> callable:
    """A row changing in place (row changes may share a frame, so look inside it)."""
    return lambda m: re.search(rf'<div id="row-{reference}" class="prow status-{status}"', m) is not None


def counter(message: str, name: str) -> str:
    found = re.search(rf'data-counter="{name}"><span class="value">([^<]*)<', message)
    return found.group(1) if found else ""


async def connected(client: Client, query: str = ""):
    socket, ok, _ = await open_dashboard(client, query)
    assert ok
    return socket


async def test_it_shows_two_dashboards_a_new_payment_a_settlement_and_a_settings_change(
    staff_client, second_operator_client
):
    dashboards = [await connected(staff_client), await connected(second_operator_client)]
    for socket in dashboards:
        snapshot = await socket.receive_from(timeout=5)
        assert 'hx-swap-oob="innerHTML"' in snapshot and counter(snapshot, "processing") == "0"

    payment = await database_sync_to_async(make_payment)("46733123451")  # settles failed, APPROVAL_REJECTED
    for socket in dashboards:
        row, _ = await receive_until(socket, inserted(payment.reference), what="the new row")
        assert "status-processing" in row and "46733123451" in row

    await database_sync_to_async(Payment.objects.filter(pk=payment.pk).update)(settle_at=payment.created_at)
    assert await database_sync_to_async(SettlementWorker(seed=1).handle_one)() == 1
    for socket in dashboards:
        row, _ = await receive_until(socket, row_update(payment.reference, "failed"), what="the settled row")
        assert "APPROVAL_REJECTED" in row and 'data-version="2"' in row
        stats, _ = await receive_until(
            socket, lambda m: 'id="stats"' in m and counter(m, "failed") == "1", what="the counters"
        )
        assert counter(stats, "processing") == "0" and counter(stats, "ratio") == "0%"

    await database_sync_to_async(services.settings_update)(actor="operator:alice", timeout_seconds=12.5, paused=True)
    for socket in dashboards:
        panel, _ = await receive_until(socket, lambda m: 'id="settings-panel"' in m, what="the settings panel")
        assert 'value="12.5"' in panel and 'data-paused="true"' in panel

    for socket in dashboards:
        await socket.disconnect()


async def test_it_speaks_json_with_format_json(staff_client):
    socket = await connected(staff_client, "?format=json")
    first = json.loads(await socket.receive_from(timeout=5))
    assert first["type"] == "snapshot" and set(first) == {"type", "payments", "stats", "settings", "callbacks", "balances"}
    payment = await database_sync_to_async(make_payment)()
    message, _ = await receive_until(socket, is_json_type("payment"), what="the payment")
    assert json.loads(message)["payment"]["reference"] == str(payment.reference)
    stats, _ = await receive_until(socket, is_json_type("stats"), what="the counters")
    assert json.loads(stats)["stats"]["processing"] == 1
    await database_sync_to_async(services.settings_update)(actor="operator:operator", success_rate=0.25)
    settings, _ = await receive_until(socket, is_json_type("settings"), what="the settings")
    assert json.loads(settings)["settings"]["success_rate"] == 0.25
    await socket.disconnect()


async def test_it_inserts_only_rows_that_match_the_filter(staff_client):
    socket = await connected(staff_client, "?q=46733123451")
    await socket.receive_from(timeout=5)
    other = await database_sync_to_async(make_payment)("46733123499")
    wanted = await database_sync_to_async(make_payment)("46733123451")
    _, before = await receive_until(socket, inserted(wanted.reference), what="the matching row")
    assert not any(str(other.reference) in message for message in before)
    await socket.disconnect()


async def test_it_never_sends_an_older_version_after_a_newer_one(staff_client):
    payment = await database_sync_to_async(make_payment)()
    old = await database_sync_to_async(lambda: payment_snapshot(Payment.objects.get(pk=payment.pk)))()
    await database_sync_to_async(services.payment_force)(payment=payment, outcome="successful", actor="operator:operator")
    socket = await connected(staff_client)
    assert 'status-successful' in await socket.receive_from(timeout=5)  # the snapshot holds version 2
    await get_channel_layer().group_send(DASHBOARD_GROUP, {"type": "payment.updated", "payment": old})
    sentinel = await database_sync_to_async(make_payment)()
    _, before = await receive_until(socket, inserted(sentinel.reference), what="the next payment")
    assert not any(str(payment.reference) in message for message in before)
    await socket.disconnect()


async def test_it_keeps_the_page_to_its_row_limit(staff_client, monkeypatch):
    monkeypatch.setattr(payment_row, "ROWS", 3)
    first = [await database_sync_to_async(make_payment)() for _ in range(3)]
    socket = await connected(staff_client)
    await socket.receive_from(timeout=5)
    newest = await database_sync_to_async(make_payment)()
    message, _ = await receive_until(socket, inserted(newest.reference), what="the fourth row")
    assert f'<div id="row-{first[0].reference}" hx-swap-oob="delete">' in message
    # The dropped row's later change is not re-inserted; the others still change in place.
    for payment in (first[0], first[1]):
        await database_sync_to_async(services.payment_force)(payment=payment, outcome="successful", actor="test")
    _, before = await receive_until(socket, row_update(first[1].reference, "successful"), what="an update")
    assert not any(str(first[0].reference) in message for message in before)
    await socket.disconnect()


async def test_it_renders_once_and_queries_nothing_per_dashboard_per_update(staff_client, monkeypatch):
    dashboards = [await connected(staff_client) for _ in range(3)]
    for socket in dashboards:
        await socket.receive_from(timeout=5)
    snapshots = []
    for _ in range(20):
        payment = await database_sync_to_async(make_payment)()
        snapshots.append(await database_sync_to_async(lambda p=payment: payment_snapshot(p))())
    for socket in dashboards:  # the creations and their counters, so only our pushes follow
        await receive_until(socket, inserted(snapshots[-1]["reference"]), what="the last new row")
        await receive_until(socket, lambda m: counter(m, "processing") == "20", what="the counters")

    fixed = await database_sync_to_async(counters.read)()
    queries: list[str] = []
    execute = db_utils.CursorWrapper.execute
    monkeypatch.setattr(
        db_utils.CursorWrapper, "execute", lambda self, sql, params=None: queries.append(sql) or execute(self, sql, params)
    )
    renders: list[str] = []
    render = rendering.render_to_string
    monkeypatch.setattr(rendering, "render_to_string", lambda t, c: renders.append(t) or render(t, c))
    stats_reads: list[int] = []
    monkeypatch.setattr(counters, "read", lambda: stats_reads.append(1) or fixed)

    for snapshot in snapshots:  # pushed straight onto the layer: any query is the consumers' own
        settled = {**snapshot, "status": "failed", "reason": "NOT_ENOUGH_FUNDS", "version": 2}
        await get_channel_layer().group_send(DASHBOARD_GROUP, {"type": "payment.updated", "payment": settled})
    for socket in dashboards:
        await receive_until(socket, row_update(snapshots[-1]["reference"], "failed"), what="the last update")
        await receive_until(socket, lambda m: 'id="stats"' in m, what="the counters")
    assert queries == []
    assert len(renders) == len(snapshots)  # each version once, for all three dashboards
    # Coalesced: one read per hub tick (a tick may still be due from the creations), not
    # one per update (20) nor one per dashboard per update (60).
    assert 1 <= len(stats_reads) <= 3
    for socket in dashboards:
        await socket.disconnect()


async def test_it_sends_a_json_client_every_change_even_off_the_page(staff_client, monkeypatch):
    monkeypatch.setattr(payment_row, "ROWS", 2)
    oldest = await database_sync_to_async(make_payment)()
    for _ in range(2):
        await database_sync_to_async(make_payment)()
    socket = await connected(staff_client, "?format=json")
    first = json.loads(await socket.receive_from(timeout=5))
    assert str(oldest.reference) not in [p["reference"] for p in first["payments"]]
    await database_sync_to_async(services.payment_force)(payment=oldest, outcome="successful", actor="test")
    message, _ = await receive_until(socket, is_json_type("payment"), what="the change off the page")
    assert json.loads(message)["payment"]["reference"] == str(oldest.reference)
    await socket.disconnect()


async def test_it_gathers_a_burst_of_row_changes_into_few_frames(staff_client):
    payments = [await database_sync_to_async(make_payment)() for _ in range(30)]
    snapshots = [await database_sync_to_async(lambda p=p: payment_snapshot(p))() for p in payments]
    socket = await connected(staff_client)
    await socket.receive_from(timeout=5)
    for snapshot in snapshots:
        settled = {**snapshot, "status": "successful", "financial_transaction_id": "1", "version": 2}
        await get_channel_layer().group_send(DASHBOARD_GROUP, {"type": "payment.updated", "payment": settled})
    last, before = await receive_until(socket, row_update(snapshots[-1]["reference"], "successful"), what="the last change")
    frames = [m for m in [*before, last] if 'id="row-' in m]
    changed = re.findall(r'<div id="row-([0-9a-f-]+)" class="prow status-successful"', "".join(frames))
    assert changed == [s["reference"] for s in snapshots]  # every change, in order, once
    assert len(frames) <= 5  # the first at once, the rest gathered (one frame per 0.1 s)
    await socket.disconnect()


async def test_the_payment_page_reuses_the_row_widget_and_follows_its_payment_live(staff_client):
    """The detail page shows the dashboard's own row (its Succeed/Fail buttons), on the
    dashboard socket filtered to this payment: a change elsewhere shows without a reload."""
    other = await database_sync_to_async(make_payment)()
    payment = await database_sync_to_async(make_payment)()
    page = (await sync_to_async(staff_client.get)(f"/dashboard/payments/{payment.reference}/")).content.decode()
    assert f'id="row-{payment.reference}"' in page and 'name="outcome" value="failed"' in page
    assert "location.reload" not in page
    ws_url = re.search(r'ws-connect="([^"]+)"', page).group(1)
    socket, connected, _ = await open_dashboard(staff_client, ws_url.removeprefix("/ws/dashboard/"))
    assert connected
    snapshot = await socket.receive_from(timeout=5)
    assert f'id="row-{payment.reference}"' in snapshot and str(other.reference) not in snapshot
    await database_sync_to_async(services.payment_force)(payment=payment, outcome="successful", actor="test")
    await receive_until(socket, row_update(payment.reference, "successful"), what="the payment's change")
    await socket.disconnect()



async def test_a_page_open_before_a_burst_four_pages_long_sees_every_settlement_and_counts_them_all(staff_client):
    """200 payments settle in the worker's batches while the page holds 50 rows: each
    settlement is a row on the page in turn (none lost to the page limit or to the frames
    being gathered), and the counters count all 200."""
    socket = await connected(staff_client)
    await socket.receive_from(timeout=5)
    refs = set(await database_sync_to_async(created_apart)(200))
    worker = SettlementWorker(seed=3, batch_size=20)
    for _ in range(10):
        assert await database_sync_to_async(worker.handle_one)() == 20
    seen: set[str] = set()

    def all_shown_and_counted(message: str) -> bool:
        seen.update(ref for ref, _ in FINAL_ROW.findall(message))
        counted = counter(message, "successful"), counter(message, "failed")
        if all(counted):
            all_shown_and_counted.total = sum(int(n) for n in counted)
        return seen >= refs and getattr(all_shown_and_counted, "total", 0) == 200

    try:
        await receive_until(socket, all_shown_and_counted, timeout=10, what="every settlement")
    except AssertionError:
        raise AssertionError(f"{len(seen & refs)} of 200 shown, counted {getattr(all_shown_and_counted, 'total', 0)}") from None
    await socket.disconnect()


async def test_it_renders_a_callback_row_once_per_state_for_every_dashboard(staff_client, monkeypatch):
    from regions import callbacks as callbacks_panel

    dashboards = [await connected(staff_client) for _ in range(3)]
    for socket in dashboards:
        await socket.receive_from(timeout=5)
    renders: list[bool] = []
    render = callbacks_panel.render
    monkeypatch.setattr(callbacks_panel, "render", lambda s, oob=False: renders.append(oob) or render(s, oob=oob))
    pending = {
        "id": 987654, "reference": "00000000-0000-4000-8000-000000000001", "url": "http://127.0.0.1:9/cb",
        "method": "POST", "copy": 1, "status": "pending", "attempts": 0, "last_status_code": None,
        "last_error": "", "last_latency_ms": None, "next_attempt_at": None,
        "updated_at": "2026-12-02T06:00:00.000001+00:00",
    }
    failing = {**pending, "attempts": 1, "last_status_code": 500, "updated_at": "2026-12-02T06:00:01.000001+00:00"}
    for state in (pending, failing):
        await get_channel_layer().group_send(DASHBOARD_GROUP, {"type": "callbacks.updated", "callbacks": [state]})
        for socket in dashboards:
            await receive_until(socket, lambda m: 'id="callback-987654"' in m, what="the callback row")
    assert renders == [False, True]  # inserted once, then changed in place once: not once per dashboard
    for socket in dashboards:
        await socket.disconnect()


async def test_a_room_view_never_sends_a_full_phone_number(staff_client):
    """Issue 21, finding 3: the projector (`?view=room`) and a dashboard shown to a room
    (`?phones=masked`) get masked numbers in the snapshot and every push; the operator's
    own dashboard keeps them in full."""
    await database_sync_to_async(make_payment)("46733123451")
    sockets = {query: await connected(staff_client, query) for query in ("?view=room", "?phones=masked", "")}
    frames = {query: [await socket.receive_from(timeout=5)] for query, socket in sockets.items()}
    payment = await database_sync_to_async(make_payment)("46733123452")
    await database_sync_to_async(Payment.objects.filter(pk=payment.pk).update)(settle_at=payment.created_at)
    assert await database_sync_to_async(SettlementWorker(seed=1).handle_one)() == 1
    for query, socket in sockets.items():
        row, seen = await receive_until(socket, row_update(payment.reference, "failed"), what="the settled row")
        frames[query] += [*seen, row]
    for query in ("?view=room", "?phones=masked"):
        text = "".join(frames[query])
        assert "46733123451" not in text and "46733123452" not in text
        assert "467•••••451" in text and "467•••••452" in text
    assert "46733123451" in frames[""][0] and "46733123452" in "".join(frames[""])
    assert 'id="callback-rows"' not in frames["?view=room"][0]  # the projector has no such panel
    for socket in sockets.values():
        await socket.disconnect()
