"""Each command and flag, run as a person would (a child process), against the test database."""

import signal

import pytest

from payments.models import Payment, PaymentLog, SimulatorSettings
from payments.selectors import simulator_settings
from tests.support import sqlite_url_of_test_db
from tests.support.factories import make_payment
from tests.support import Process, child_env, manage, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def env():
    return child_env(DATABASE_URL=sqlite_url_of_test_db())


def assert_one_line_error(result, *words: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_it_creates_test_payments_and_prints_references_and_urls(env):
    result = manage("create_test_payment", "--amount", "12.5", "--currency", "UGX", "--phone", "+46733123450", "--count", "3", env=env)
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3
    payments = Payment.objects.order_by("id")
    assert payments.count() == 3
    for line, payment in zip(lines, payments):
        assert line == f"{payment.reference} http://127.0.0.1:8000/pay/{payment.reference}/"
        assert (str(payment.amount), payment.currency, payment.phone_number) == ("12.50", "UGX", "46733123450")
    assert PaymentLog.objects.filter(event="created", actor="command").count() == 3


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--amount", "-1"], ["more than 0"]),
        (["--amount", "abc"], ["not a number"]),
        (["--currency", "ABC"], ["not supported"]),
        (["--phone", "123"], ["8 to 15 digits"]),
        (["--count", "0"], ["--count", "1 or more"]),
    ],
)
def test_it_refuses_bad_create_flags_in_one_line(env, flags, words):
    assert_one_line_error(manage("create_test_payment", *flags, env=env, check=False), *words)
    assert Payment.objects.count() == 0


def test_it_settles_everything_processing_with_timeout_zero_and_prints_counts(env):
    for phone in ["46733123450", "46733123451", "46733123499", "46733123499", "46733123454"]:
        make_payment(phone)
    done = make_payment()
    Payment.objects.filter(pk=done.pk).update(status="successful")
    result = manage("auto_complete_demo_payments", "--timeout", "0", "--success-rate", "1", env=env)
    assert result.stdout.strip() == "settled 5: 3 successful, 2 failed"
    assert not Payment.objects.filter(status="processing").exists()


def test_it_settles_only_payments_older_than_the_timeout(env):
    old = make_payment(age=120)
    new = make_payment()
    result = manage("auto_complete_demo_payments", "--timeout", "60", "--success-rate", "0", env=env)
    assert result.stdout.strip() == "settled 1: 0 successful, 1 failed"
    old.refresh_from_db()
    new.refresh_from_db()
    assert old.status == "failed" and new.status == "processing"


@pytest.mark.parametrize(
    ("command", "flags", "words"),
    [
        ("auto_complete_demo_payments", ["--timeout", "-1"], ["--timeout", "zero or more"]),
        ("auto_complete_demo_payments", ["--success-rate", "1.5"], ["--success-rate", "outside 0-1"]),
        ("auto_complete_daemon", ["--success-rate", "-0.1"], ["outside 0-1"]),
        ("auto_complete_daemon", ["--interval", "0"], ["--interval", "more than 0"]),
        ("auto_complete_daemon", ["--timeout", "soon"], ["not a number"]),
        ("demo", ["--port", "70000"], ["not a TCP port"]),
        ("demo", ["--success-rate", "2"], ["outside 0-1"]),
        ("demo", ["--seed", "x"], ["--seed"]),
    ],
)
def test_it_refuses_bad_flags_in_one_line_and_changes_nothing(env, command, flags, words):
    payment = make_payment(age=120)
    before = simulator_settings().version
    assert_one_line_error(manage(command, *flags, env=env, check=False), *words)
    payment.refresh_from_db()
    assert payment.status == "processing"
    assert SimulatorSettings.objects.get(pk=1).version == before


def test_it_completes_one_payment_as_told(env):
    payment = make_payment()
    result = manage("complete_payment", str(payment.reference), "--outcome", "failed", "--reason", "PAYER_NOT_FOUND", env=env)
    assert result.stdout.strip() == f"{payment.reference} failed (PAYER_NOT_FOUND)"
    payment.refresh_from_db()
    assert (payment.status, payment.reason) == ("failed", "PAYER_NOT_FOUND")
    assert payment.logs.get(event="forced").actor == "command"


def test_it_completes_with_the_success_rate_and_delay(env):
    payment = make_payment()
    result = manage("complete_payment", str(payment.reference), "--delay", "0.2", "--success-rate", "1", env=env)
    assert result.stdout.strip() == f"{payment.reference} successful"
    payment.refresh_from_db()
    assert payment.status == "successful" and payment.financial_transaction_id
    loser = make_payment()
    manage("complete_payment", str(loser.reference), "--success-rate", "0", env=env)
    loser.refresh_from_db()
    assert loser.status == "failed" and loser.reason


@pytest.mark.parametrize(
    ("make_args", "words"),
    [
        (lambda p: ["00000000-0000-4000-8000-000000000000"], ["no payment with reference"]),
        (lambda p: ["not-a-uuid"], ["not a payment reference"]),
        (lambda p: [str(p.reference), "--outcome", "successful", "--reason", "EXPIRED"], ["--reason only goes with --outcome failed"]),
        (lambda p: [str(p.reference), "--reason", "BECAUSE"], ["--reason", "invalid choice"]),
        (lambda p: [str(p.reference), "--delay", "-3"], ["--delay", "zero or more"]),
        (lambda p: [str(p.reference), "--success-rate", "7"], ["outside 0-1"]),
    ],
)
def test_it_refuses_bad_complete_flags_in_one_line(env, make_args, words):
    payment = make_payment()
    assert_one_line_error(manage("complete_payment", *make_args(payment), env=env, check=False), *words)
    payment.refresh_from_db()
    assert payment.status == "processing" and payment.version == 1


def test_it_refuses_to_complete_a_final_payment(env):
    payment = make_payment()
    manage("complete_payment", str(payment.reference), env=env)
    result = manage("complete_payment", str(payment.reference), "--outcome", "failed", env=env, check=False)
    assert_one_line_error(result, "already settled (successful)")
    payment.refresh_from_db()
    assert payment.status == "successful" and payment.version == 2


def test_it_runs_the_daemon_with_flags_that_write_the_live_settings(env, tmp_path):
    daemon = Process(
        "manage.py", "auto_complete_daemon", "--interval", "1", "--timeout", "0.5", "--success-rate", "0", "--seed", "3",
        env=env, log=tmp_path / "daemon.log",
    )
    try:
        wait_for(lambda: SimulatorSettings.objects.filter(timeout_seconds=0.5, success_rate=0).exists(), timeout=20, what="the flags to be written")
        # The flags write the live settings in one logged change (`--seed` also seeds the
        # callback faults, a second config row that may land before or after it).
        config_log = PaymentLog.objects.get(event="config", details__has_key="timeout_seconds")
        assert config_log.actor == "command"
        assert config_log.details["timeout_seconds"] == [30.0, 0.5]
        # --seed seeds the injected callback and API faults too (docs/callbacks.md).
        seeded = wait_for(lambda: PaymentLog.objects.filter(event="config", details__has_key="callbacks").first(),
                          timeout=10, what="the seed to be written")
        assert seeded.details["seed"] == [None, 3] and seeded.actor == "command"
        payment = make_payment()
        wait_for(lambda: Payment.objects.get(pk=payment.pk).is_final, timeout=10, what="the daemon to settle")
        assert Payment.objects.get(pk=payment.pk).status == "failed"
    finally:
        code = daemon.stop(signal.SIGINT)
    assert code == 0, daemon.output()
    assert "stopped cleanly" in daemon.output()


def test_it_waits_for_the_database_instead_of_dying(tmp_path):
    """A worker started before its database is up keeps retrying, and stops cleanly on SIGTERM."""
    db_file = tmp_path / "later.sqlite3"
    env = child_env(DATABASE_URL=f"sqlite:///{db_file}")  # not migrated yet: every query fails
    daemon = Process("manage.py", "auto_complete_daemon", "--interval", "1", "--timeout", "3", env=env, log=tmp_path / "d.log")
    try:
        wait_for(lambda: "retrying" in daemon.output(), timeout=20, what="the worker to wait for its database")
        manage("migrate", "--verbosity", "0", env=env)
        wait_for(lambda: "settlement worker" in daemon.output() and "timeout_seconds" in _config_rows(db_file), timeout=20, what="the flags to land once the database is there")
        assert daemon.alive()
    finally:
        code = daemon.stop()
    assert code == 0, daemon.output()


def _config_rows(db_file) -> str:
    import sqlite3

    with sqlite3.connect(db_file) as db:
        try:
            return " ".join(row[0] for row in db.execute("SELECT details FROM payments_paymentlog WHERE event = 'config'"))
        except sqlite3.OperationalError:
            return ""
