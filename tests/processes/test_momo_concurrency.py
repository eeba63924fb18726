"""50 concurrent requests to pay reusing one X-Reference-Id: one payment, 49 × 409.

The database's unique constraint decides, not a check-then-insert: on SQLite (the demo
default) and on PostgreSQL.
"""

import json
import threading
import uuid

import pytest

from tests.support import sqlite_url_of_test_db
from tests.support.momo_client import RTP_BODY, SUBSCRIPTION_KEY, HttpMomoClient
from tests.support import ServerProcess, child_env, django_script, free_port

pytestmark = pytest.mark.slow

CONCURRENT = 50
COUNT = """
import json
from payments.models import Payment, PaymentLog
print(json.dumps({{"payments": Payment.objects.filter(reference="{ref}").count(),
                  "created_logs": PaymentLog.objects.filter(payment__reference="{ref}", event="created").count()}}))
"""


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def momo_server(request, tmp_path, transactional_db):
    # transactional_db in the signature: requested later, pytest-django would hold a test
    # transaction (SQLite's write lock) that the server's startup would wait on.
    if request.param == "sqlite":
        database_url = sqlite_url_of_test_db()
    else:
        database_url = request.getfixturevalue("postgres_url")
    port = free_port()
    # Only the reference is under test here, not the per-second request budget.
    env = child_env(DATABASE_URL=database_url, MOMO_SUBSCRIPTION_KEY=SUBSCRIPTION_KEY, MOMO_REQUEST_RATE="0",
                    API_CREATE_RATE="1000/min",
                    DEMO_OPERATOR_PASSWORD="op-pass-123")
    server = ServerProcess("manage.py", "demo", "--port", str(port), "--timeout", "60", env=env,
                           log=tmp_path / "demo.log", port=port)
    server.start()
    yield server, env
    server.stop()


def test_it_creates_one_payment_for_fifty_concurrent_reuses_of_a_reference(momo_server):
    server, env = momo_server
    momo = HttpMomoClient(server.base_url).provision()
    momo.get_token()
    reference = str(uuid.uuid4())
    start = threading.Barrier(CONCURRENT)
    statuses: list[int] = []
    bodies: list[bytes] = []

    def send() -> None:
        start.wait()
        _, answer = momo.request_to_pay(RTP_BODY, reference=reference)
        statuses.append(answer.status)
        bodies.append(answer.body)

    threads = [threading.Thread(target=send) for _ in range(CONCURRENT)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(statuses) == [202] + [409] * (CONCURRENT - 1), sorted(statuses)
    conflicts = [json.loads(b) for b in bodies if b]
    assert all(c["code"] == "RESOURCE_ALREADY_EXIST" for c in conflicts) and len(conflicts) == CONCURRENT - 1
    counts = json.loads(django_script(COUNT.format(ref=reference), env=env))
    assert counts == {"payments": 1, "created_logs": 1}
    assert momo.status(reference).json()["status"] == "PENDING"
