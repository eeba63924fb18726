"""Four worker processes and an operator race over the same payments: one final transition each."""

import json

import pytest

from tests.support import Process, child_env, django_script, manage, wait_for

CREATE = """
from payments.services import payment_create, settings_update
from decimal import Decimal
settings_update(actor="test", timeout_seconds=0)
refs = [str(payment_create(amount=Decimal("5"), currency="EUR", phone_number="46733123499").reference) for _ in range(200)]
print(len(refs))
"""

OPERATOR = """
import random
from payments.models import Payment
from payments.services import PaymentError, payment_force
refs = list(Payment.objects.values_list("reference", flat=True))
random.Random(5).shuffle(refs)
won = 0
for ref in refs:
    try:
        payment_force(payment=Payment.objects.get(reference=ref), outcome="failed", reason="APPROVAL_REJECTED", actor="operator:alice")
        won += 1
    except PaymentError:
        pass
print(won)
"""

REPORT = """
import json
from django.db.models import Count
from payments.models import Payment, PaymentLog
final = PaymentLog.objects.filter(event__in=["settled", "forced", "expired"])
per_payment = final.values("payment").annotate(n=Count("id"))
print(json.dumps({
    "processing": Payment.objects.filter(status="processing").count(),
    "payments": Payment.objects.count(),
    "with_final_log": per_payment.count(),
    "log_counts": sorted({row["n"] for row in per_payment}),
    "versions": sorted(set(Payment.objects.values_list("version", flat=True))),
    "forced": final.filter(event="forced").count(),
    "settled": final.filter(event="settled").count(),
}))
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'race.sqlite3'}"
    return request.getfixturevalue("postgres_url")


def test_it_gives_each_payment_exactly_one_final_transition(database_url, tmp_path):
    env = child_env(DATABASE_URL=database_url)
    manage("migrate", "--verbosity", "0", env=env)
    assert django_script(CREATE, env=env).strip() == "200"
    workers = [
        Process("manage.py", "auto_complete_daemon", "--interval", "1", env=env, log=tmp_path / f"w{i}.log")
        for i in range(4)
    ]
    try:
        operator_won = int(django_script(OPERATOR, env=env).strip())
        wait_for(
            lambda: json.loads(django_script(REPORT, env=env))["processing"] == 0,
            timeout=60, interval=0.5, what="every payment to be final",
        )
    finally:
        for worker in workers:
            assert worker.stop() == 0, worker.output()
    report = json.loads(django_script(REPORT, env=env))
    assert report["payments"] == report["with_final_log"] == 200
    assert report["log_counts"] == [1]
    assert report["versions"] == [2]
    assert report["forced"] == operator_won
    assert report["forced"] + report["settled"] == 200
