"""Phase `money`: money moving through the real paths, measured until settled.

Disbursement transfers and refunds per second over HTTP (posted by `bench.money_load`,
settled by the real worker, created -> final), then the worker's settlement rate with
money moving (success rate 1.0: every settlement books two ledger entries) against the
same run with none (success rate 0.0: a failed settlement books nothing).
"""

import dataclasses
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench import control, phases
from bench.control import ClientProc, all_ready
from bench.stack import CpuMeter, Stack, wait_until

PAYER = "46733123499"  # every bench payment's party (bench/control.py, bench/money_load.py)
PLENTY = "100000000.00"  # a float and a wallet nothing in the run can empty


@dataclass(frozen=True)
class Sizes:
    window: float = 10.0  # seconds of posting per sub-figure (refunds stop early when they run out)
    refund_payments: int = 1500  # successful requests to pay, each refunded in `refund_parts`
    refund_parts: int = 4
    settle_payments: int = 5000  # per run of the settlement-rate pair
    settle_spread: float = 2.0


QUICK = Sizes(window=1.0, refund_payments=150, settle_payments=300, settle_spread=0.5)


def money_run(stack: Stack, workdir: Path, plan: phases.Plan, sizes: Sizes) -> dict[str, Any]:
    """With the server started and no workers: transfers, refunds, then the settlement pair."""
    from payments.models import SimulatorSettings
    from payments.services import settings_update, wallet_set_balance

    before = SimulatorSettings.objects.get(pk=1)
    users = _users(plan.momo_users)
    # Due as soon as created: created -> final is the pipeline, not a configured wait.
    settings_update(actor="command", success_rate=1.0, timeout_seconds=0)
    wallet_set_balance(party_id=PAYER, currency="EUR", balance=PLENTY, actor="command")
    try:
        _start_workers(stack)
        transfers = _settled_window(stack, workdir, plan, sizes, "transfer", {"tokens": [t for _, t in users], "amount": "1.00"})
        jobs = _refund_jobs(users, sizes)
        refunds = _settled_window(stack, workdir, plan, sizes, "refund", {"jobs": jobs})
        stack.stop_workers()
        settlement = _settlement_pair(stack, workdir, plan, sizes)
    finally:
        stack.stop_workers()
        settings_update(actor="command", success_rate=before.success_rate, timeout_seconds=before.timeout_seconds)
    return {"users": len(users), "concurrency": plan.momo_concurrency, "transfer": transfers,
            "refund": {**refunds, "refunded_payments": len(jobs) // sizes.refund_parts, "parts": sizes.refund_parts},
            "settlement": settlement}


def _users(count: int) -> list[tuple[Any, str]]:
    """`count` API users, each with a Disbursement token and a float nothing here can empty."""
    from momo.auth import issue_token
    from payments.models import Payment
    from payments.services import float_set, momo_credentials_create

    users = []
    for _ in range(count):
        user = momo_credentials_create(provider_callback_host="bench.example", actor="command")[0]
        float_set(momo_user=user, product=Payment.Product.DISBURSEMENT, currency="EUR", balance=PLENTY, actor="command")
        users.append((user, issue_token(user, Payment.Product.DISBURSEMENT)[0]))
    return users


def _start_workers(stack: Stack) -> None:
    if stack.services.embedded:
        return  # the demo settles in its own process
    stack.start_workers(1)
    pids = [w.popen.pid for w in stack.workers]
    wait_until(lambda: control.workers_beating(pids), timeout=60, what="the worker's heartbeat")


def _refund_jobs(users: list[tuple[Any, str]], sizes: Sizes) -> list[list[str]]:
    """Successful requests to pay of 100.00 (settled by the worker, booked by the ledger),
    then their refunds in parts, every payment's first part before any second part."""
    from django.utils import timezone

    from payments.models import Payment

    now = timezone.now()
    rows = [Payment(amount=Decimal("100.00"), currency="EUR", phone_number=PAYER, settle_at=now,
                    created_at=now, updated_at=now, momo_user=users[i % len(users)][0]) for i in range(sizes.refund_payments)]
    created = Payment.objects.bulk_create(rows)
    refs = [str(p.reference) for p in created]
    lo, hi = control.pk_range(refs)
    wait_until(lambda: control.processing_between(lo, hi) == 0, timeout=240, interval=0.5, what="the requests to pay to settle")
    ok = Payment.objects.filter(pk__gte=lo, pk__lte=hi, status=Payment.Status.SUCCESSFUL).count()
    if ok != len(refs):
        raise RuntimeError(f"only {ok} of {len(refs)} requests to pay to refund succeeded")
    token = {user.pk: t for user, t in users}
    part = f"{Decimal('100.00') / sizes.refund_parts:.2f}"
    return [[token[p.momo_user_id], str(p.reference), part] for _ in range(sizes.refund_parts) for p in created]


def _settled_window(stack: Stack, workdir: Path, plan: phases.Plan, sizes: Sizes, mode: str,
                    extra: dict[str, Any]) -> dict[str, Any]:
    """Post for `sizes.window` s, then wait until every accepted one is final."""
    proc = ClientProc("bench.money_load", {"mode": mode, "port": stack.port, "window": sizes.window,
                                           "concurrency": plan.momo_concurrency, "subscription_key": control.MOMO_KEY,
                                           "tokens": [], "jobs": [], **extra},
                      workdir=workdir, env=stack.env(), name=f"money-{mode}-{time.time_ns()}")
    all_ready([proc], timeout=60)
    meter = CpuMeter(stack.server.ps)
    meter.start()
    proc.send("go")
    if proc.expect("DONE", timeout=sizes.window + 60) is None:
        raise RuntimeError(f"the {mode} client did not finish; see {proc.log.name}")
    cpu = meter.read()
    result = proc.finish()
    refs = result["accepted"]
    if not refs:
        raise RuntimeError(f"no {mode} was accepted: {result['codes']}")
    wait_until(lambda: _processing(refs) == 0, timeout=240, interval=0.5, what=f"every {mode} to settle")
    return {"requests": result["requests"], "codes": result["codes"],
            "accepted_per_s": round(len(refs) / result["elapsed_s"], 1),
            "latency_ms": phases.dist(result["latencies_ms"]), "server_cpu": cpu, **_final(refs)}


def _processing(refs: list[str]) -> int:
    from payments.models import Payment

    return Payment.objects.filter(reference__in=refs, status=Payment.Status.PROCESSING).count()


def _final(refs: list[str]) -> dict[str, Any]:
    """Settled per second, from the first one created to the last one final."""
    from payments.models import Payment

    rows = list(Payment.objects.filter(reference__in=refs).values_list("created_at", "settled_at", "status"))
    first = min(created for created, _, _ in rows).timestamp()
    last = max(done for _, done, _ in rows).timestamp()
    statuses: dict[str, int] = {}
    for _, _, status in rows:
        statuses[status] = statuses.get(status, 0) + 1
    return {"settled": len(rows), "statuses": statuses, "created_to_final_s": round(last - first, 3),
            "settled_per_s": round(len(rows) / (last - first), 1),
            "created_to_final_ms": phases.dist([(done - created).total_seconds() * 1000 for created, done, _ in rows])}


def _settlement_pair(stack: Stack, workdir: Path, plan: phases.Plan, sizes: Sizes) -> dict[str, Any]:
    """The throughput phase's run (one worker) with no money moving, then with money moving."""
    from payments.models import LedgerEntry
    from payments.services import settings_update

    sized = dataclasses.replace(plan, throughput_payments=sizes.settle_payments, throughput_spread=sizes.settle_spread)
    runs = {}
    for name, rate in (("no_money", 0.0), ("money", 1.0)):
        settings_update(actor="command", success_rate=rate)
        entries = LedgerEntry.objects.count()
        runs[name] = phases.throughput_run(stack, workdir, sized, 1)
        runs[name]["ledger_entries"] = LedgerEntry.objects.count() - entries
    off, on = runs["no_money"]["settlements_per_s"], runs["money"]["settlements_per_s"]
    return {**runs, "ratio": round(on / off, 3) if off else None}
