"""The orchestrator's hands: client processes it drives, and the rows it sets up.

Setup writes go straight to the ORM (`bulk_create`, `bulk_update`), not through
`services.payment_create`: creating 10,000 payments is not what is measured, and the
service path's per-payment broadcast would load the server before the window opens.
Everything that IS measured (settling, logging, pushing) runs in the real worker.
"""

import json
import queue
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.stack import ROOT

FAR_FUTURE = timedelta(days=1)
MOMO_KEY = "bench-momo-subscription-key"  # what Services.env gives the servers


class ClientProc:
    """A `bench.clients` (or `bench.listen`) process and its READY/DONE lines."""

    def __init__(self, module: str, spec: dict[str, Any], *, workdir: Path, env: dict[str, str], name: str) -> None:
        self.spec_path = workdir / f"{name}.spec.json"
        self.out_path = workdir / f"{name}.out.json"
        spec = {**spec, "out": str(self.out_path)}
        self.spec_path.write_text(json.dumps(spec))
        self.log = open(workdir / f"{name}.stderr.log", "ab")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", module, str(self.spec_path)],
            cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
            text=True, start_new_session=True,
        )
        self.lines: queue.Queue[tuple[str, dict]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.popen.stdout:
            kind, _, body = line.strip().partition(" ")
            if kind in ("READY", "DONE"):
                self.lines.put((kind, json.loads(body or "{}")))
        self.lines.put(("EXIT", {}))

    def expect(self, kind: str, timeout: float) -> dict[str, Any] | None:
        """The next `kind` line, or None if the process exits or the deadline passes first."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                got, body = self.lines.get(timeout=left)
            except queue.Empty:
                return None
            if got == kind:
                return body
            if got == "EXIT":
                self.lines.put((got, body))
                return None
        return None

    def send(self, command: str) -> None:
        try:
            self.popen.stdin.write(command + "\n")
            self.popen.stdin.flush()
        except (BrokenPipeError, OSError):
            pass

    def finish(self, timeout: float = 60) -> dict[str, Any]:
        self.send("stop")
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=10)
        self.log.close()
        if not self.out_path.exists():
            raise RuntimeError(f"{self.spec_path.stem} wrote no results; see {self.log.name}")
        return json.loads(self.out_path.read_text())


def http_get(port: int, path: str) -> int:
    """One GET on loopback (a warm-up); its status code."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def expect_all(procs: list[ClientProc], kind: str, timeout: float) -> list[dict[str, Any] | None]:
    """Each process's next `kind` line (None for one that missed the shared deadline)."""
    deadline = time.monotonic() + timeout
    return [proc.expect(kind, max(0.0, deadline - time.monotonic())) for proc in procs]


def all_ready(procs: list[ClientProc], timeout: float) -> list[dict[str, Any]]:
    """READY from every process, or an error naming the one that never got there."""
    readies = expect_all(procs, "READY", timeout)
    for proc, ready in zip(procs, readies):
        if ready is None:
            raise RuntimeError(f"{proc.spec_path.stem} was not ready within {timeout:g} s; see {proc.log.name}")
    return readies


# --- rows -------------------------------------------------------------------------------


def setup_database() -> None:
    """Live settings for a bench: no expiry inside the run, every payment settles by draw."""
    from payments.services import operator_ensure, settings_update

    operator_ensure()
    settings_update(actor="command", expiry_seconds=86_400, paused=False, success_rate=0.9)


def create_payments(count: int) -> list[str]:
    """`count` processing payments due in a day; a phase moves the ones it settles forward."""
    from django.utils import timezone

    from payments.models import Payment

    now = timezone.now()
    # Distinct, increasing creation times in list order: the dashboard orders (and trims)
    # its rows by created_at, so ties would hide rows a real stream never ties on.
    rows = [
        Payment(
            amount=Decimal("100.00"), currency="EUR", phone_number="46733123499",
            settle_at=now + FAR_FUTURE, created_at=now - timedelta(microseconds=count - i), updated_at=now,
        )
        for i in range(count)
    ]
    created = []
    for start in range(0, count, 2000):
        created += Payment.objects.bulk_create(rows[start : start + 2000])
    refs = [str(p.reference) for p in created]
    assert len(refs) == count
    return refs


def schedule(refs: list[str], *, rate: float, start_in: float) -> datetime:
    """Make `refs` fall due one after another at `rate` per second, from now + start_in."""
    from django.utils import timezone

    from payments.models import Payment

    start = timezone.now() + timedelta(seconds=start_in)
    order = {ref: i for i, ref in enumerate(refs)}
    payments = list(Payment.objects.filter(reference__in=refs).only("id", "reference"))
    for payment in payments:
        payment.settle_at = start + timedelta(seconds=order[str(payment.reference)] / rate)
    Payment.objects.bulk_update(payments, ["settle_at"], batch_size=1000)
    return start


def settlement_times(refs: list[str]) -> list[tuple[float, float]]:
    """(settle_at, settled_at) epochs of the payments in `refs` that are final."""
    from payments.models import Payment

    rows = Payment.objects.filter(reference__in=refs, settled_at__isnull=False).values_list("settle_at", "settled_at")
    return [(due.timestamp(), done.timestamp()) for due, done in rows]


def settled_at_by_ref(refs: list[str]) -> dict[str, float]:
    from payments.models import Payment

    rows = Payment.objects.filter(reference__in=refs, settled_at__isnull=False).values_list("reference", "settled_at")
    return {str(ref): done.timestamp() for ref, done in rows}


def pk_range(refs: list[str]) -> tuple[int, int]:
    """The id range of one bulk-created batch (bulk_create gives one batch contiguous ids)."""
    from django.db.models import Max, Min

    from payments.models import Payment

    bounds = Payment.objects.filter(reference__in=refs).aggregate(lo=Min("pk"), hi=Max("pk"))
    return bounds["lo"], bounds["hi"]


def processing_between(lo: int, hi: int) -> int:
    """Cheap enough to poll: an id range, not a list of 10,000 references."""
    from payments.models import Payment

    return Payment.objects.filter(pk__gte=lo, pk__lte=hi, status=Payment.Status.PROCESSING).count()


def staff_cookie() -> str:
    """A logged-in operator's session cookie, as a browser on the dashboard would send."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username="operator"))
    return f"sessionid={client.cookies['sessionid'].value}"


def worker_ids(pids: list[int]) -> list[str]:
    return [f"{socket.gethostname()}-{pid}" for pid in pids]


def workers_beating(pids: list[int]) -> bool:
    from payments.models import WorkerHeartbeat

    return WorkerHeartbeat.objects.filter(worker_id__in=worker_ids(pids)).count() == len(pids)


def momo_tokens(count: int) -> list[str]:
    """`count` MoMo API users with a bearer token each (signed with the servers' SECRET_KEY).

    Their payments settle far in the future, so settling does not load the measured window.
    """
    from momo.auth import issue_token
    from payments.services import momo_credentials_create, settings_update

    settings_update(actor="command", timeout_seconds=86_400)
    return [issue_token(momo_credentials_create(provider_callback_host="bench.example", actor="command")[0])[0]
            for _ in range(count)]


def momo_payment_count() -> int:
    from payments.models import Payment

    return Payment.objects.filter(momo_user__isnull=False).count()


def create_momo_payments(count: int, *, url: str, tag: str) -> list[str]:
    """Like `create_payments`, for one MoMo API user with a callback URL; external ids
    `<tag>-<i>` let the receiver match each callback to its payment."""
    import uuid

    from django.utils import timezone

    from payments.models import MomoApiUser, Payment

    user = MomoApiUser.objects.create(id=uuid.uuid4(), provider_callback_host="127.0.0.1")
    now = timezone.now()
    rows = [
        Payment(
            amount=Decimal("100.00"), currency="EUR", phone_number="46733123499", external_id=f"{tag}-{i}",
            settle_at=now + FAR_FUTURE, created_at=now - timedelta(microseconds=count - i), updated_at=now,
            momo_user=user, callback_url=url,
        )
        for i in range(count)
    ]
    created = []
    for start in range(0, count, 2000):
        created += Payment.objects.bulk_create(rows[start : start + 2000])
    return [str(p.reference) for p in created]


def settled_at_by_external_id(refs: list[str]) -> dict[str, float]:
    from payments.models import Payment

    rows = Payment.objects.filter(reference__in=refs, settled_at__isnull=False).values_list("external_id", "settled_at")
    return {external_id: done.timestamp() for external_id, done in rows}


def first_attempt_by_external_id(refs: list[str]) -> dict[str, float]:
    """When each payment's callback was first attempted (the sender's clock)."""
    from payments.models import CallbackDelivery

    rows = CallbackDelivery.objects.filter(payment__reference__in=refs, first_sent_at__isnull=False).values_list(
        "payment__external_id", "first_sent_at"
    )
    return {external_id: sent.timestamp() for external_id, sent in rows}


def callback_counts() -> dict[str, int]:
    from django.db.models import Count

    from payments.models import CallbackDelivery

    return dict(CallbackDelivery.objects.values_list("status").annotate(n=Count("id")).order_by())


def callbacks_clear() -> None:
    """Between runs: the hanging receiver's retries must not load the next measurement."""
    from payments.models import CallbackDelivery

    CallbackDelivery.objects.all().delete()
