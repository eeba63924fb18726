"""The copies MoMo calls keep of their rows (payments/generation.py): a write commits while
Redis is down, and no copy outlives its bound whatever the shared generation says."""

import logging

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from payments import generation
from payments.accounts import starting_balance, wallet_key
from payments.models import LedgerAccount, SimulatorSettings
from payments.selectors import simulator_settings
from payments.services import demo_reset, payment_create, settings_update
from tests.support import free_port

UNREACHABLE_REDIS = {
    "default": {
        "BACKEND": "dashboard.cache.SharedRedisCache",
        "LOCATION": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
}


@pytest.mark.django_db(transaction=True)
def test_a_settings_write_while_redis_is_down_commits_and_logs_the_lost_replacement(caplog):
    caplog.set_level(logging.WARNING, logger="payments.generation")
    with override_settings(CACHES=UNREACHABLE_REDIS):
        assert generation.shared()
        settings_update(actor="test", paused=True)
    assert SimulatorSettings.objects.get(pk=1).paused is True
    assert "MoMo row copies not retired" in caplog.text


def test_a_copy_is_read_again_once_it_is_older_than_its_bound(monkeypatch):
    reads = []

    def read():
        reads.append(len(reads) + 1)
        return reads[-1]

    generation.observe("a generation no write replaced")
    try:
        assert generation.kept("a row", read)[0] == 1
        assert generation.kept("a row", read)[0] == 1  # the copy
        monkeypatch.setattr(generation, "MAX_AGE", 0.0)
        assert generation.kept("a row", read)[0] == 2  # too old: read again
    finally:
        generation.observe(None)


@pytest.mark.django_db(transaction=True)
def test_a_known_wallet_costs_a_request_to_pay_no_query_and_a_reset_opens_it_again():
    """A new payment opens its party's wallet (its page shows the balance at once); once this
    process has seen that wallet open, the next payment asks nothing of the ledger. A demo
    reset removes every wallet: the next payment opens it again at once."""
    wallet = wallet_key("46733123499", "EUR")

    def pay() -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            payment_create(amount="5", currency="EUR", phone_number="46733123499")
        return [q["sql"] for q in queries.captured_queries if "payments_ledgeraccount" in q["sql"]]

    simulator_settings()  # a fresh database writes its settings row at the first read (a new generation)
    generation.observe("a generation no write replaced")
    try:
        assert pay()  # first sight: looked up and opened
        assert LedgerAccount.objects.filter(**wallet._asdict()).exists()
        assert pay() == []
        demo_reset(actor="test")
        assert not LedgerAccount.objects.filter(**wallet._asdict()).exists()
        assert pay()
        assert LedgerAccount.objects.filter(**wallet._asdict()).get().balance == starting_balance(wallet, None)
    finally:
        generation.observe(None)


@pytest.mark.django_db(transaction=True)
def test_the_facts_a_process_keeps_are_bounded_whatever_payer_ids_a_client_sends(monkeypatch):
    monkeypatch.setattr(generation, "FACTS_MAX", 50)
    generation.observe("a generation no write replaced")
    try:
        for n in range(500):  # a client inventing a payer id per request to pay
            generation.remember_on_commit(("wallet open", f"party:{n}"), at=generation.current())
            assert len(generation._facts) <= 50
        assert generation.known(("wallet open", "party:499"))
        generation.remember_on_commit(("wallet open", "late"), at="a generation replaced since")
        assert not generation.known(("wallet open", "late"))
    finally:
        generation.observe(None)
