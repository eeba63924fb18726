"""`python -m bench [--quick] [--out DIR] [--embedded] [--only PHASE,...]`: run the benchmark.

Starts the real processes (Daphne, settlement workers) on Redis + a fresh PostgreSQL
database when both answer on 127.0.0.1, else on the embedded default (`manage.py demo`:
SQLite, in-memory layer), drives them from separate client processes, and writes
<out>/<date>.json, <date>.md and <date>.png.
"""

import argparse
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench import money, phases, report
from bench.stack import ROOT, Services, Stack, machine, raise_open_files_limit, service_versions

PHASES = ("sockets", "push", "poll", "dashboards", "layers", "throughput", "momo", "callbacks", "money")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])

    def one_line_error(message: str) -> None:  # a bad flag is one line, not a usage dump
        sys.exit(f"python -m bench: error: {message}")

    parser.error = one_line_error  # type: ignore[method-assign]
    parser.add_argument("--quick", action="store_true", help="small sizes, short windows (< 2 min)")
    parser.add_argument("--out", type=Path, default=None, help="results folder (default bench/results, or test-artifacts/bench with --quick)")
    parser.add_argument("--embedded", action="store_true", help="SQLite + in-memory layer even if Redis and PostgreSQL answer")
    parser.add_argument("--waiting", default=None, help="comma-separated numbers of waiting checkouts for the push runs (default 100,1000,5000)")
    parser.add_argument("--keep-logs", action="store_true", help="keep the process logs and client results of a successful run")
    parser.add_argument("--no-inspector", action="store_true",
                        help="every server with the integration inspector off (INSPECTOR_ENABLED=0); no inspector cost run")
    parser.add_argument("--only", default=",".join(PHASES), help=f"comma-separated subset of {','.join(PHASES)}")
    args = parser.parse_args(argv)
    unknown = set(args.only.split(",")) - set(PHASES)
    if unknown:
        parser.error(f"unknown phase(s) {', '.join(sorted(unknown))}; choose from {', '.join(PHASES)}")
    if args.out is None:
        args.out = ROOT / ("test-artifacts/bench" if args.quick else "bench/results")
    return args


def prepare_django(services: Services) -> None:
    """Migrate the fresh database, then set Django up in this process to seed and read rows."""
    env = services.env()
    result = subprocess.run([sys.executable, "manage.py", "migrate", "--verbosity", "0"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"migrate failed:\n{result.stderr}")
    # The very settings the servers run with: a session made here must be valid there.
    os.environ.update(env)
    import django

    django.setup()
    from bench import control

    control.setup_database()


def run(args: argparse.Namespace, services: Services, workdir: Path) -> dict[str, Any]:
    plan = phases.QUICK if args.quick else phases.Plan()
    if args.waiting:
        plan = dataclasses.replace(plan, waiting=tuple(int(n) for n in args.waiting.split(",")))
    only = set(args.only.split(","))
    results: dict[str, Any] = {"skipped": {}}
    stack = Stack(services=services, logs=workdir)

    marks: list[tuple[str, float]] = []  # (phase, when its first step began)

    def step(name: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {name}", flush=True)
        phase = re.match(r"\w+", name).group().lower()
        if not marks or marks[-1][0] != phase:
            marks.append((phase, time.monotonic()))

    try:
        if "sockets" in only:
            step(f"sockets held: {plan.sockets}, then a server restart in front of them")
            stack.start_server()  # a fresh process, so RSS per socket has a clean baseline
            pages = phases.sockets_run(stack, workdir, plan)
            stack.stop()
            step(f"sockets, the floor: {plan.sockets} bare Channels sockets, then a restart")
            stack.start_server()
            bare = phases.sockets_run(stack, workdir, plan, bare=True)
            stack.stop()
            results["sockets"] = pages["levels"]
            results["sockets_bare"] = bare["levels"]
            results["resync"] = {"pages": pages["resync"], "bare": bare["resync"]}
            step("sockets, the connect rates compared: pages and bare sockets in alternated turns on one Daphne")
            stack.start_server()
            results["connects"] = phases.connects_alternated(stack, workdir, plan)
            stack.stop()
        stack.start_server()
        if not services.embedded:
            stack.start_workers(1)
        if "push" in only:
            results["push"] = []
            for n in plan.waiting:
                step(f"push: {n} waiting checkouts")
                results["push"].append(phases.push_run(stack, workdir, plan, n, "push"))
        if "dashboards" in only:
            results["dashboards"] = dashboards(stack, workdir, plan, results, step)
        if "poll" in only:
            # A fresh server: polling saturates it, and nothing after should inherit that.
            stack.stop()
            stack.start_server()
            if not services.embedded:
                stack.start_workers(1)
            results["poll"] = []
            for n in plan.poll_waiting:
                step(f"polling: {n} checkouts every {plan.poll_period:g} s")
                results["poll"].append(phases.poll_run(stack, workdir, plan, n))
            if not args.quick:
                results["skipped"]["polling at 5,000"] = "left out: 1,000 pollers already saturate the server"
        stack.stop()
        if "layers" in only:
            if services.embedded:
                results["skipped"]["layers"] = "needs Redis"
            else:
                step(f"core layer: push with {plan.layer_compare_n} waiting checkouts")
                core = Stack(services=services, logs=workdir, layer="core")
                core.start_server()
                core.start_workers(1)
                try:
                    results["layers"] = {"core": phases.push_run(core, workdir, plan, plan.layer_compare_n, "core")}
                finally:
                    core.stop()
                pubsub = [r for r in results.get("push", []) if r["n"] == plan.layer_compare_n]
                if pubsub:
                    results["layers"]["pubsub"] = pubsub[0]
        if "throughput" in only:
            results["throughput"] = []
            counts = (1,) if services.embedded else plan.throughput_workers
            if services.embedded:
                results["skipped"]["throughput 2/4 workers"] = "needs Redis + PostgreSQL (the demo runs one worker)"
                stack.start_server()
            for workers in counts:
                step(f"throughput: {plan.throughput_payments} payments, {workers} worker(s)")
                results["throughput"].append(phases.throughput_run(stack, workdir, plan, workers))
            stack.stop()
        if "momo" in only:
            step(f"MoMo API: the two floors, request to pay, status; {plan.momo_concurrency} in flight for {plan.momo_window:g} s "
                 f"each, in {plan.momo_rounds} turns")
            stack.start_server()
            results["momo"] = phases.momo_run(stack, workdir, plan)
            stack.stop()
            if services.embedded:
                results["skipped"]["MoMo API on two Daphne processes"] = "needs Redis + PostgreSQL (the demo is one process)"
            elif not plan.momo_two_servers:
                results["skipped"]["MoMo API on two Daphne processes"] = "left out of --quick"
            else:
                step("MoMo API: the same on two Daphne processes")
                stack.start_server()
                second = stack.start_extra_server()
                two = dataclasses.replace(plan, momo_window=plan.momo_two_window, momo_rounds=2)
                results["momo_two"] = phases.momo_run(stack, workdir, two, ports=[stack.port, second])
                stack.stop()
            if args.no_inspector:
                results["skipped"]["the inspector's cost"] = "--no-inspector: recording was off on every server"
            else:
                step(f"MoMo API: request to pay with the inspector off, then on, {plan.momo_window:g} s each")
                results["inspector"] = phases.inspector_run(stack, workdir, plan)
        if "callbacks" in only:
            results["callbacks"] = callbacks(stack, services, plan, step)
        if "money" in only:
            sizes = money.QUICK if args.quick else money.Sizes()
            step(f"money: Disbursement transfers, then refunds, {sizes.window:g} s each until settled; "
                 f"then {sizes.settle_payments} settlements with money moving and without")
            stack.start_server()
            results["money"] = money.money_run(stack, workdir, plan, sizes)
            stack.stop()
    finally:
        stack.stop()
        marks.append(("", time.monotonic()))
        # Where a run's minutes go (server starts and setup included), for keeping it short.
        results["phase_seconds"] = {
            phase: round(results.get("phase_seconds", {}).get(phase, 0) + end - began, 1)
            for (phase, began), (_, end) in zip(marks, marks[1:])
        }
    return results


def callbacks(stack: Stack, services: Services, plan: phases.Plan, step) -> dict[str, Any]:
    from bench.receiver import Receiver

    receiver, hanging = Receiver(), Receiver()
    out: dict[str, Any] = {}
    try:
        stack.start_server()
        if not services.embedded:
            _workers(stack, 1)
        step(f"callbacks: baseline, settlement punctuality at {plan.callback_rate:g}/s without callbacks")
        out["baseline"] = phases.callback_latency_run(stack, plan, receiver, hang=None)
        step(f"callbacks: settlement -> callback received at {plan.callback_rate:g}/s, 1 worker")
        out["latency"] = phases.callback_latency_run(stack, plan, receiver, hang=False)
        step(f"callbacks: settlement punctuality at {plan.callback_rate:g}/s while every receiver times out")
        out["hanging"] = phases.callback_latency_run(stack, plan, receiver, hang=True)
        step(f"callbacks: another receiver's callbacks at {plan.callback_rate:g}/s while one receiver hangs")
        out["one_hangs"] = phases.callback_one_hangs_run(stack, plan, receiver, hanging)
        if not services.embedded:
            stack.stop_workers()
            _workers(stack, 2)
        step(f"callbacks: {plan.callback_burst} due at once, {len(stack.workers) or 1} worker(s)")
        out["throughput"] = phases.callback_throughput_run(stack, plan, receiver)
    finally:
        stack.stop()
        receiver.stop()
        hanging.stop()
    return out


def _workers(stack: Stack, count: int) -> None:
    from bench import control
    from bench.stack import wait_until

    stack.start_workers(count)
    pids = [w.popen.pid for w in stack.workers]
    wait_until(lambda: control.workers_beating(pids), timeout=60, what=f"{count} workers' heartbeats")


def dashboards(stack: Stack, workdir: Path, plan: phases.Plan, results: dict[str, Any], step) -> list[dict[str, Any]]:
    from bench import control

    cookie = control.staff_cookie()
    missing = report.dashboard_missing(stack.port, cookie)
    if missing:
        results["skipped"]["dashboards"] = missing
        return []
    runs = []
    for html in (True, False):  # what a browser gets (HTML frames), then the JSON API
        for count in plan.dashboards:
            what = "HTML" if html else "JSON"
            step(f"dashboards: {count} {what} at {plan.dashboard_rate:g}/s")
            runs.append(phases.dashboard_run(stack, workdir, plan, count, cookie, html))
    return runs


def close_connections() -> None:
    """Before DROP DATABASE; harmless when Django never got set up."""
    try:
        from django.db import connections

        connections.close_all()
    except Exception:
        pass


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.no_inspector:
        os.environ["INSPECTOR_ENABLED"] = "0"  # the servers' environment comes from this one
    began = time.monotonic()
    load_before = [round(x, 2) for x in os.getloadavg()]
    fds = raise_open_files_limit()
    services = Services.start(force_embedded=args.embedded)
    mode = "embedded (SQLite, in-memory layer)" if services.embedded else "Redis + PostgreSQL"
    print(f"bench: {'quick' if args.quick else 'full'} run on {mode}; open files limit {fds}", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="livesettle-bench-run-"))
    try:
        prepare_django(services)
        document = {
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "quick": args.quick,
            "mode": "embedded" if services.embedded else "redis+postgresql",
            "database": services.database_name,  # dropped at the end (None: embedded SQLite)
            "machine": {**machine(), **service_versions(services)},
            "results": run(args, services, workdir),
        }
    except Exception as exc:
        print(f"bench failed: {type(exc).__name__}: {exc}\n(process logs: {workdir})", file=sys.stderr)
        raise
    finally:
        close_connections()
        services.stop()
    document["duration_s"] = round(time.monotonic() - began, 1)
    # The machine's load average (1, 5, 15 min) before and after: a shared machine's figures
    # say little without it; ratios within one run are what compare.
    document["load_average"] = {"before": load_before, "after": [round(x, 2) for x in os.getloadavg()]}
    document["targets"] = report.targets_json(document["results"])
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / datetime.now(timezone.utc).strftime("%Y-%m-%d")
    stem.with_suffix(".json").write_text(json.dumps(document, indent=2) + "\n")
    table = report.markdown(document)
    stem.with_suffix(".md").write_text(table)
    report.plot(document, stem.with_suffix(".png"))
    print(table)
    if args.keep_logs:
        print(f"process logs: {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"wrote {stem}.json, .md, .png in {document['duration_s']:g} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
