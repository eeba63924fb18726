"""The ledger on PostgreSQL with several worker processes: racing refunds never add up to
more than the payment, and a worker SIGKILLed mid-run leaves a ledger that adds up."""

import random
import signal

import pytest

from tests.support.scaleout import FINAL_EVENTS, processing_count, settled_by
from tests.support import manage, wait_for

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]

SPEC = {"WALLET_START_BALANCE": "10000", "MOMO_DEFAULT_FLOAT": "100000"}
SETUP = (
    "from decimal import Decimal\n"
    "from datetime import timedelta\n"
    "from django.utils import timezone\n"
    "from payments import services\n"
    "from payments.models import Payment\n"
    "from payments.outcomes import Outcome\n"
    "OK = Outcome('successful')\n"
    "user, _ = services.momo_credentials_create(provider_callback_host='localhost', actor='test')\n"
    "def paid(amount, phone):\n"
    "    p = services.payment_create(amount=Decimal(amount), currency='EUR', phone_number=phone, momo_user=user, actor='test')\n"
    "    return services.payment_force_many(decisions=[(p.pk, OK)], actor='test')[0]\n"
)


def _ledger_check(stack) -> None:
    result = manage("ledger_check", env=stack.env, check=False)
    assert result.returncode == 0, result.stderr + result.stdout


def test_twenty_concurrent_refunds_of_one_payment_refund_it_exactly_once(pg_database, private_redis, stack_factory):
    stack = stack_factory(pg_database, private_redis.url, **SPEC)
    stack.script("from payments.services import settings_update; settings_update(actor='t', success_rate=1.0)")
    reference = stack.script(SETUP + (
        "original = paid('100', '46733100031')\n"
        "due = timezone.now() + timedelta(seconds=3)\n"
        "for _ in range(20):\n"
        "    r = services.payment_refund(payment=original, amount=Decimal('10.00'), momo_user=user, actor='test')\n"
        "    Payment.objects.filter(pk=r.pk).update(settle_at=due)\n"
        "print(original.reference)\n"
    )).strip()
    # One payment per transaction, three processes: the refunds race on separate connections.
    workers = [stack.worker(f"worker-{i}", "--batch-size", "1") for i in range(3)]
    wait_for(lambda: processing_count(stack) == 0, timeout=30, interval=0.2, what="every refund to settle")

    outcomes = dict(stack.sql(
        "SELECT status || ' ' || reason, count(*) FROM payments_payment WHERE kind = 'refund' GROUP BY 1"
    ))
    assert outcomes == {"successful ": 10, "failed NOT_ALLOWED": 10}
    [(refunded,)] = stack.sql("SELECT refunded_amount FROM payments_payment WHERE reference = %s", reference)
    [(float_left,)] = stack.sql("SELECT balance FROM payments_ledgeraccount WHERE kind = 'disbursement' AND owner LIKE 'user:%%'")
    [(wallet,)] = stack.sql("SELECT balance FROM payments_ledgeraccount WHERE owner = 'party:46733100031'")
    assert (str(refunded), str(float_left), str(wallet)) == ("100.00", "99900.00", "10000.00")
    assert len(settled_by(stack)) >= 2, f"the workers should share the refunds: {settled_by(stack)}"
    _ledger_check(stack)
    for worker in workers:
        assert worker.alive(), worker.output()


def test_a_worker_sigkilled_mid_mixed_run_leaves_every_payment_final_once_and_the_ledger_adding_up(
    pg_database, private_redis, stack_factory
):
    stack = stack_factory(pg_database, private_redis.url, **SPEC)
    stack.settle_after(0)
    rng = random.Random(19)
    plan = [rng.choice(["pay", "pay", "transfer", "refund"]) + f" {rng.randint(1, 60)} {rng.randint(0, 19)}" for _ in range(900)]
    stack.script(SETUP + (
        f"plan = {plan!r}\n"
        "originals = [paid('100', f'467331010{i:02d}') for i in range(20)]\n"
        "for line in plan:\n"
        "    what, amount, i = line.split()\n"
        "    amount, i = Decimal(amount), int(i)\n"
        "    if what == 'pay':\n"
        "        services.payment_create(amount=amount * 10, currency='EUR', phone_number=f'467331010{i:02d}', momo_user=user, actor='t')\n"
        "    elif what == 'transfer':\n"
        "        services.payment_create(amount=amount * 100, currency='EUR', phone_number=f'467331020{i:02d}', kind='transfer', momo_user=user, actor='t')\n"
        "    else:\n"
        "        services.payment_refund(payment=originals[i], amount=amount, momo_user=user, actor='t')\n"
    ))
    victim = stack.worker("victim", "--batch-size", "20")
    survivor = stack.worker("survivor", "--batch-size", "20")

    def victim_working() -> bool:
        return any(str(victim.popen.pid) in actor and n >= 100 for actor, n in settled_by(stack).items())

    wait_for(victim_working, timeout=60, interval=0.02, what="the victim to be settling")
    victim.popen.send_signal(signal.SIGKILL)
    victim.popen.wait(timeout=10)
    left = processing_count(stack)
    assert 0 < left < len(plan), f"the kill should land mid-run ({left} left)"

    restarted = stack.worker("victim-restarted", "--batch-size", "20")
    wait_for(lambda: processing_count(stack) == 0, timeout=120, interval=0.25, what="the run to finish")
    finals = stack.sql(
        "SELECT count(DISTINCT l.id) FILTER (WHERE l.event = ANY(%s)), count(DISTINCT e.id), p.status"
        " FROM payments_payment p LEFT JOIN payments_paymentlog l ON l.payment_id = p.id"
        " LEFT JOIN payments_ledgerentry e ON e.payment_id = p.id GROUP BY p.id",
        list(FINAL_EVENTS),
    )
    assert len(finals) == len(plan) + 20
    assert {n for n, _, _ in finals} == {1}, "some payment was ended twice, or not logged"
    assert {(status, entries) for _, entries, status in finals} <= {("successful", 2), ("failed", 0)}
    reasons = dict(stack.sql("SELECT reason, count(*) FROM payments_payment WHERE status = 'failed' GROUP BY 1"))
    assert reasons.get("NOT_ENOUGH_FUNDS") and reasons.get("NOT_ALLOWED"), reasons  # the rules were exercised
    _ledger_check(stack)
    assert survivor.alive() and restarted.alive()
    print(f"killed with {left} of {len(plan)} left; failures: {reasons}")
