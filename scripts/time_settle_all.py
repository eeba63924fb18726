"""Time the dashboard's "Settle all processing now" request over N processing payments.

A fresh database (SQLite file by default, or DATABASE_URL), N payments set up in bulk, no
worker running; one POST /dashboard/settle-all/ as the operator through Django's test
client (the whole view, its queries and its pushes, without a network hop).

    .venv/bin/python scripts/time_settle_all.py [--payments 2000] [--runs 3]
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/<an empty database> .venv/bin/python scripts/time_settle_all.py
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--payments", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    db = Path(tempfile.mkdtemp()) / "settle-all.sqlite3"
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{db}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    os.environ.setdefault("DEMO_OPERATOR_PASSWORD", "time-settle-all-9f3k2")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from payments.models import Payment
    from payments.services import operator_ensure
    from tests.support.factories import bulk_due

    call_command("migrate", interactive=False, verbosity=0)
    operator_ensure()
    client = Client()
    client.force_login(get_user_model().objects.get(is_superuser=True))
    timings = []
    for _ in range(args.runs):
        bulk_due(args.payments)
        started = time.perf_counter()
        response = client.post("/dashboard/settle-all/", HTTP_HX_REQUEST="true")
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
        assert not Payment.objects.filter(status="processing").exists()
    print(f"settle all, {args.payments} processing payments, {Payment.objects.count()} in all after "
          f"{args.runs} runs: median {statistics.median(timings):.2f} s (runs: {', '.join(f'{t:.2f}' for t in timings)})")


if __name__ == "__main__":
    main()
