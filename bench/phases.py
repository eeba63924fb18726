"""The measurements. Each is bounded in count and in time, and returns plain figures."""

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from bench import control
from bench.control import ClientProc, all_ready, expect_all
from bench.stack import BARE_HTTP, MINIMAL_HTTP, CpuMeter, RolesMeter, Stack, wait_until

LATE_MS = 250.0  # a dashboard update later than this counts as late


@dataclass
class Plan:
    """Sizes and windows; --quick shrinks every one of them."""

    waiting: tuple[int, ...] = (100, 1000, 5000)
    # 5,000 pollers are left out of the full run: 1,000 already saturate this machine, and
    # a collapsed server takes minutes to measure (the prototype's figure is in the README).
    poll_waiting: tuple[int, ...] = (100, 1000)
    push_rate: float = 50.0
    settle_window: float = 8.0  # seconds of settling measured per run
    idle_window: float = 5.0
    poll_period: float = 2.0
    poll_grace: float = 15.0  # after the last settlement, how long a poll may take to see it
    sockets: tuple[int, ...] = (1000, 5000, 10000)
    # Daphne pings each socket every 20 s, spread over time: about a third of a round per window.
    sockets_idle_window: float = 6.0
    connect_rounds: int = 4  # turns per kind in connects_alternated
    dashboards: tuple[int, ...] = (1, 20, 50)
    dashboard_rate: float = 100.0
    throughput_payments: int = 10_000
    throughput_spread: float = 2.0
    throughput_workers: tuple[int, ...] = (1, 2, 4)
    layer_compare_n: int = 1000
    momo_window: float = 12.0  # seconds each MoMo call is driven for in all (momo_run)
    momo_rounds: int = 3  # ... in this many turns, the floors and the calls alternating
    momo_concurrency: int = 16  # requests in flight
    momo_users: int = 4  # API users the load is spread over
    momo_two_servers: bool = True  # the MoMo phase again on two Daphne processes
    momo_two_window: float = 6.0  # ... with shorter windows (the full run stays under 10 min)
    # Request-to-pay windows, recording off/on (its target is judged on the in-process figure;
    # two more windows, on then off, cost the full run ~30 s for a comparison the noise hides).
    inspector_order: tuple[str, ...] = ("off", "on")
    callback_rate: float = 100.0
    callback_window: float = 10.0  # seconds of settling at callback_rate per run
    callback_burst: int = 4000  # due at once, drained by two workers
    callback_hung: int = 200  # due at once to a receiver that hangs, beside another receiver


# One level per phase (the largest): the smoke test checks that every client saw every
# settlement, which the largest level checks for the smaller ones too.
QUICK = Plan(
    waiting=(200,),
    poll_waiting=(200,),
    settle_window=2.0,
    idle_window=2.0,
    sockets=(500,),
    sockets_idle_window=1.0,
    connect_rounds=2,
    dashboards=(5,),
    throughput_payments=300,
    throughput_spread=0.5,
    throughput_workers=(1, 2),
    layer_compare_n=200,
    momo_window=1.0,
    momo_rounds=1,
    momo_concurrency=8,
    momo_two_servers=False,
    inspector_order=("off", "on"),
    poll_grace=30.0,  # the smoke test asserts every poll saw its settlement: be patient
    callback_window=2.0,
    callback_burst=200,
    callback_hung=100,
)


def dist(values: list[float]) -> dict[str, Any]:
    """min / p50 / p99 / max of a distribution (nearest-rank percentiles)."""
    if not values:
        return {"count": 0}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 2)

    return {"count": len(ordered), "min": round(ordered[0], 2), "p50": rank(0.5), "p99": rank(0.99), "max": round(ordered[-1], 2)}


def punctuality(refs: list[str]) -> dict[str, Any]:
    """settled_at - settle_at, in ms, for the payments of `refs` that settled."""
    return dist([(done - due) * 1000 for due, done in control.settlement_times(refs)])


def _roles(stack: Stack, procs: list[ClientProc]) -> RolesMeter:
    """Who spends the CPU in a window: the server, the workers, the clients, the services."""
    return RolesMeter({
        "daphne": [stack.server.ps],
        "workers": [w.ps for w in stack.workers],
        "clients": [psutil.Process(p.popen.pid) for p in procs],
    })


def _split(items: list[Any], parts: int) -> list[list[Any]]:
    return [items[i::parts] for i in range(parts)]


def _merge_latency(results: list[dict[str, Any]]) -> dict[str, float]:
    merged: dict[str, float] = {}
    for result in results:
        merged.update(result["latency_ms"])
    return merged


# --- 1 + 2: push and polling, N waiting checkouts ---------------------------------------


def push_run(stack: Stack, workdir: Path, plan: Plan, n: int, label: str) -> dict[str, Any]:
    """N checkout sockets wait; K of their payments settle at `push_rate` per second."""
    refs = control.create_payments(n)
    settling = refs[: min(n, int(plan.push_rate * plan.settle_window))]
    expect = set(settling)
    parts = 1 if n < 1000 else 2
    procs = [
        ClientProc(
            "bench.clients",
            {"mode": "waiters", "port": stack.port, "refs": part, "expect": [r for r in part if r in expect], "deadline": 240},
            workdir=workdir, env=stack.env(), name=f"{label}-waiters-{n}-{i}",
        )
        for i, part in enumerate(_split(refs, parts))
    ]
    readies = all_ready(procs, timeout=180)
    connect_s = max((r or {}).get("seconds", 0) for r in readies)
    cpu = CpuMeter(stack.server.ps)
    time.sleep(plan.idle_window)  # a measurement window: N sockets held, nothing settling
    idle = cpu.read()
    start = control.schedule(settling, rate=plan.push_rate, start_in=1.0)
    wait_until(lambda: time.time() >= start.timestamp(), timeout=5, what="the first settlement")
    cpu.start()
    roles = _roles(stack, procs)
    expect_all(procs, "DONE", timeout=len(settling) / plan.push_rate + 30)
    busy = cpu.read()
    by_role = roles.read()
    results = [proc.finish() for proc in procs]
    seen = _merge_latency(results)
    opened = {ref for r in results for ref in r["open_refs"]}
    connected = sum(r["connected"] for r in results)
    return {
        "n": n,
        "settled": len(settling),
        "rate_per_s": plan.push_rate,
        "connected": connected,
        "connect_failed": sum(r["failed"] for r in results),
        "connect_failed_kinds": sorted({k for r in results for k in r["failed_kinds"]}),
        "connect_per_s": round(connected / connect_s, 1) if connect_s else None,
        "closed_early": sum(r["closed_early"] for r in results),
        "latency_ms": dist(list(seen.values())),
        # Of the settled payments whose page was connected: updates that never arrived.
        "lost": len((expect & opened) - set(seen)),
        "settled_unconnected": len(expect - opened),
        "server_cpu_idle": idle,
        "server_cpu_settling": busy,
        "cpu_by_role": by_role,
        "punctuality_ms": punctuality(settling),
    }


def poll_run(stack: Stack, workdir: Path, plan: Plan, n: int) -> dict[str, Any]:
    """The same N checkouts polling GET /api/payments/<ref>/ every `poll_period` s."""
    refs = control.create_payments(n)
    settling = refs[: min(n, int(plan.push_rate * plan.settle_window))]
    expect = set(settling)
    parts = 1 if n < 1000 else 2
    procs = [
        ClientProc(
            "bench.clients",
            {"mode": "pollers", "port": stack.port, "refs": part, "expect": [r for r in part if r in expect],
             "period": plan.poll_period, "deadline": 240},
            workdir=workdir, env=stack.env(), name=f"pollers-{n}-{i}",
        )
        for i, part in enumerate(_split(refs, parts))
    ]
    all_ready(procs, timeout=60)
    time.sleep(plan.poll_period)  # let the staggered first polls spread over one period
    cpu = CpuMeter(stack.server.ps)
    time.sleep(plan.idle_window)
    idle = cpu.read()
    start = control.schedule(settling, rate=plan.push_rate, start_in=1.0)
    wait_until(lambda: time.time() >= start.timestamp(), timeout=5, what="the first settlement")
    cpu.start()
    # Bounded: past this a poll that has not seen its settlement counts as not seen in time.
    expect_all(procs, "DONE", timeout=len(settling) / plan.push_rate + plan.poll_grace)
    busy = cpu.read()
    results = [proc.finish() for proc in procs]
    seen = _merge_latency(results)
    requests = sum(r["requests"] for r in results)
    return {
        "n": n,
        "settled": len(settling),
        "period_s": plan.poll_period,
        "latency_ms": dist(list(seen.values())),
        "not_seen_in_time": len(expect - set(seen)),
        "requests": requests,
        "errors": sum(r["errors"] for r in results),
        "error_kinds": {k: v for r in results for k, v in r["error_kinds"].items()},
        "request_ms_p99": max((r["request_ms_p99"] or 0) for r in results),
        "server_cpu_idle": idle,
        "server_cpu_settling": busy,
    }


# --- 3: sockets held by one Daphne process ----------------------------------------------


def sockets_run(stack: Stack, workdir: Path, plan: Plan, *, bare: bool = False) -> dict[str, Any]:
    """Connect in steps to each level; RSS and idle CPU of the server at each; then restart
    the server in front of the sockets held and time how long they all take to come back.

    `bare`: the bare Channels consumer of bench/floors.py (the floor the checkout page's
    figures are compared with), through the same levels, so the connect rates compared are
    the same step (5,000 → 10,000 in the full run) with as many sockets already held."""
    refs = [] if bare else control.create_payments(max(plan.sockets))
    name = "bare" if bare else "holders"
    procs = [
        ClientProc("bench.clients", {"mode": "holders", "port": stack.port, "refs": part, "bare": bare, "deadline": 600},
                   workdir=workdir, env=stack.env(), name=f"{name}-{i}")
        for i, part in enumerate(_split(refs, 2) if refs else [[], []])
    ]
    for proc in procs:  # warm up the server's imports and caches before the baseline
        proc.send("add 5")
    all_ready(procs, timeout=60)
    baseline = stack.server.ps.memory_info().rss
    held, levels = 10, []
    for level in plan.sockets:
        add = level - held
        connecting = CpuMeter(stack.server.ps)
        for proc, part in zip(procs, (add // 2, add - add // 2)):
            proc.send(f"add {part}")
        steps = all_ready(procs, timeout=300)
        spent = connecting.read()
        seconds = max((s or {}).get("seconds", 0) for s in steps)
        connected = sum((s or {}).get("connected", 0) for s in steps)
        held = sum((s or {}).get("total", 0) for s in steps)
        cpu = CpuMeter(stack.server.ps)
        # A measurement window: sockets held, idle (the floor's only figures are its connect
        # rate and memory: a short settle is enough).
        time.sleep(min(2.0, plan.sockets_idle_window) if bare else plan.sockets_idle_window)
        idle = cpu.read()
        rss = stack.server.ps.memory_info().rss
        levels.append({
            "sockets": held,
            "target": level,
            "failed": sum((s or {}).get("failed", 0) for s in steps),
            "connect_per_s": round(connected / seconds, 1) if seconds else None,
            # The server's CPU over the step, per socket opened: what a connect costs it.
            "server_ms_per_connect": round(spent["cpu_s"] / connected * 1000, 3) if connected else None,
            "rss_mb": round(rss / 2**20, 1),
            "kb_per_socket": round((rss - baseline) / 1024 / max(1, held - 10), 1),
            "idle_cpu": idle,
        })
    resync = _restart_and_reconnect(stack, procs, held)
    results = [proc.finish() for proc in procs]
    levels[-1]["closed_early"] = sum(r["closed_early"] for r in results)
    return {"levels": levels, "resync": resync}


def connects_alternated(stack: Stack, workdir: Path, plan: Plan) -> dict[str, Any]:
    """Checkout pages and bare Channels sockets connecting to ONE Daphne, in alternated turns.

    The connect-rate target compares the two. Measured on two servers one after the other
    (sockets_run), the same code gave 0.71x in one run and 1.12x in the next: the two steps
    compared were minutes apart and saw different things (a young-generation collection of
    ~0.1 s lands in one or the other; Daphne's keep-alive pings of the sockets held start
    20 s after their connect, inside the pages' slower step and not the bare one's). Here
    both kinds share the server, its held sockets and the same minutes: it holds a fifth of
    the top level, half of each kind, then goes to the top level in `plan.connect_rounds`
    turns per kind, pages first in even turns and bare sockets first in odd ones, each turn
    timed with the server's CPU. A kind's rate is its sockets over its turns' seconds."""
    end = plan.sockets[-1]
    start, rounds = end // 5, plan.connect_rounds
    per_turn = (end - start) // 2 // rounds
    if per_turn < 2 or start < 10:
        raise ValueError(f"connects_alternated: {end} sockets in {rounds} turns is too few to time")
    refs = control.create_payments(end // 2)
    kinds = {
        kind: [
            ClientProc("bench.clients", {"mode": "holders", "port": stack.port, "refs": part, "bare": kind == "bare", "deadline": 600},
                       workdir=workdir, env=stack.env(), name=f"alternated-{kind}-{i}")
            for i, part in enumerate(_split(refs, 2) if kind == "pages" else [[], []])
        ]
        for kind in ("pages", "bare")
    }
    held = {kind: 0 for kind in kinds}

    def add(kind: str, count: int) -> tuple[int, float, float]:
        procs = kinds[kind]
        meter = CpuMeter(stack.server.ps)
        for proc, part in zip(procs, (count // 2, count - count // 2)):
            proc.send(f"add {part}")
        steps = all_ready(procs, timeout=300)
        spent = meter.read()
        failed = sum((s or {}).get("failed", 0) for s in steps)
        if failed:
            raise RuntimeError(f"{failed} sockets failed to connect; see {procs[0].log.name}")
        held[kind] = sum(s["total"] for s in steps)
        return sum(s["connected"] for s in steps), max(s["seconds"] for s in steps), spent["cpu_s"]

    turns: dict[str, list[tuple[int, float, float]]] = {kind: [] for kind in kinds}
    try:
        for kind in kinds:  # warm up the server's imports and caches, then the held half
            add(kind, 4)
        for kind in kinds:
            add(kind, start // 2 - 4)
        for turn in range(rounds):
            for kind in ("pages", "bare") if turn % 2 == 0 else ("bare", "pages"):
                turns[kind].append(add(kind, per_turn))
    except BaseException:  # no client left behind holding sockets; the first error is the one told
        for procs in kinds.values():
            for proc in procs:
                proc.popen.kill()
        raise
    finished = [proc.finish() for procs in kinds.values() for proc in procs]
    results: dict[str, Any] = {
        "from": start, "to": sum(held.values()), "rounds": rounds,
        "closed_early": sum(r["closed_early"] for r in finished),  # held sockets the server dropped
    }
    for kind, done in turns.items():
        connected, seconds, cpu = (sum(column) for column in zip(*done))
        results[kind] = {
            "connected": connected,
            "held": held[kind],
            "seconds": round(seconds, 3),
            "connect_per_s": round(connected / seconds, 1),
            "server_ms_per_connect": round(cpu / connected * 1000, 3),
            "turns_per_s": [round(n / s, 1) for n, s, _ in done],  # the spread the turns share
        }
    return results


def _restart_and_reconnect(stack: Stack, procs: list[ClientProc], held: int) -> dict[str, Any]:
    """Stop the server with `held` sockets on it, start it again on the same port, and time
    every socket's way back (a checkout page's: until its snapshot arrived)."""
    port = stack.port
    stopping = time.monotonic()
    stack.stop()
    stack.start_server(port=port)
    began = time.monotonic()
    for proc in procs:
        proc.send(f"reconnect {port}")
    steps = all_ready(procs, timeout=300)
    seconds = time.monotonic() - began
    back = sum((s or {}).get("total", 0) for s in steps)
    return {
        "sockets": held,
        "back": back,
        "failed": sum((s or {}).get("failed", 0) for s in steps),
        "seconds": round(seconds, 3),
        "per_s": round(back / seconds, 1) if seconds else None,
        "restart_s": round(began - stopping, 2),  # the server's stop and start, not counted above
    }


# --- 4: dashboards fan-out --------------------------------------------------------------


def dashboard_run(stack: Stack, workdir: Path, plan: Plan, count: int, cookie: str, html: bool) -> dict[str, Any]:
    """`count` staff dashboards; K payments settle at `dashboard_rate`; every one must see each.

    The payments are created after the dashboards connect, so each settlement is a new,
    newest row on every page (a dashboard shows only its newest rows).
    """
    parts = 1 if count < 20 else 2
    sizes = [count // parts + (1 if i < count % parts else 0) for i in range(parts)]
    refs_file = workdir / f"dashboards-{'html' if html else 'json'}-{count}.refs.json"
    procs = [
        ClientProc("bench.clients", {"mode": "dashboards", "port": stack.port, "count": size, "first": sum(sizes[:i]),
                                     "html": html, "cookie": cookie, "expect_file": str(refs_file), "deadline": 240},
                   workdir=workdir, env=stack.env(), name=f"dashboards-{'html' if html else 'json'}-{count}-{i}")
        for i, size in enumerate(sizes)
    ]
    readies = all_ready(procs, timeout=60)
    refs = control.create_payments(int(plan.dashboard_rate * plan.settle_window))
    refs_file.write_text(json.dumps(refs))
    for proc in procs:
        proc.send("expect")
    connected = sum((r or {}).get("connected", 0) for r in readies)
    cpu = CpuMeter(stack.server.ps)
    start = control.schedule(refs, rate=plan.dashboard_rate, start_in=1.0)
    wait_until(lambda: time.time() >= start.timestamp(), timeout=5, what="the first settlement")
    cpu.start()
    roles = _roles(stack, procs)
    expect_all(procs, "DONE", timeout=len(refs) / plan.dashboard_rate + 20)
    busy = cpu.read()
    by_role = roles.read()
    results = [proc.finish() for proc in procs]
    seen = _merge_latency(results)
    settled = control.settled_at_by_ref(refs)
    for result in results:  # HTML frames carry no settled_at: take it from the database
        for key, received in result["arrivals"].items():
            seen[key] = round((received - settled[key.split(":", 1)[1]]) * 1000, 3)
    latencies = list(seen.values())
    return {
        "format": "html" if html else "json",
        "dashboards": count,
        "connected": connected,
        "settled": len(refs),
        "rate_per_s": plan.dashboard_rate,
        "latency_ms": dist(latencies),
        "expected_deliveries": len(refs) * connected,
        "lost": len(refs) * connected - len(seen),
        "late": sum(1 for ms in latencies if ms > LATE_MS),
        "messages": sum(r["messages"] for r in results),
        "server_cpu_settling": busy,
        "cpu_by_role": by_role,
        "punctuality_ms": punctuality(refs),
    }


# --- 5: settlement throughput -----------------------------------------------------------


def throughput_run(stack: Stack, workdir: Path, plan: Plan, workers: int) -> dict[str, Any]:
    """K payments due within `throughput_spread` s; `workers` processes drain them."""
    refs = control.create_payments(plan.throughput_payments)
    listener = None
    if not stack.services.embedded:
        listener = ClientProc("bench.listen", {"expect": refs, "deadline": 300},
                              workdir=workdir, env=stack.env(), name=f"listen-{workers}")
        if listener.expect("READY", timeout=60) is None:
            raise RuntimeError("the dashboard-group listener did not start")
        stack.start_workers(workers)
        pids = [w.popen.pid for w in stack.workers]
        wait_until(lambda: control.workers_beating(pids), timeout=60, what=f"{workers} workers' heartbeats")
    lo, hi = control.pk_range(refs)
    start = control.schedule(refs, rate=len(refs) / plan.throughput_spread, start_in=1.5)
    roles = {"workers": [w.ps for w in stack.workers] or [stack.server.ps]}
    if listener is not None:
        roles["listener"] = [psutil.Process(listener.popen.pid)]
    wait_until(lambda: time.time() >= start.timestamp(), timeout=5, what="the first due time")
    meter = RolesMeter(roles)
    wait_until(lambda: control.processing_between(lo, hi) == 0, timeout=240, interval=0.5, what="the backlog to drain")
    cpu = meter.read()
    pushed: dict[str, float] = {}
    if listener is not None:
        listener.expect("DONE", timeout=20)
        pushed = listener.finish()["latency_ms"]
    stack.stop_workers()
    times = control.settlement_times(refs)
    first_due = start.timestamp()
    last_done = max(done for _, done in times)
    return {
        "workers": workers,
        "payments": len(refs),
        "due_within_s": plan.throughput_spread,
        "settled": len(times),
        "drain_s": round(last_done - first_due, 3),
        "settlements_per_s": round(len(times) / (last_done - first_due), 1),
        "pushed": len(pushed) if listener else None,
        "push_lag_ms": dist(list(pushed.values())) if listener else None,
        "punctuality_ms": dist([(done - due) * 1000 for due, done in times]),
        "cpu_while_draining": cpu,
    }


# --- 6: the MoMo Collections API --------------------------------------------------------


def _momo_window(stack: Stack, workdir: Path, plan: Plan, mode: str, tokens: list[str], refs: list[str],
                 *, path: str = "", ok_code: str = "", ports: list[int] | None = None,
                 window: float | None = None) -> dict[str, Any]:
    """One closed loop of `mode` for `window` seconds (`plan.momo_window`): what the client
    saw and the server CPU it cost, raw (`_summary` makes it a result)."""
    ports = ports or [stack.port]
    window = window or plan.momo_window
    proc = ClientProc(
        "bench.momo_load",
        {"mode": mode, "port": ports[0], "ports": ports, "path": path, "tokens": tokens, "refs": refs,
         "subscription_key": control.MOMO_KEY, "window": window, "concurrency": plan.momo_concurrency},
        workdir=workdir, env=stack.env(), name=f"momo-{mode}-{len(ports)}-{time.time_ns()}",
    )
    all_ready([proc], timeout=60)
    servers = [stack.server.ps] + [extra.ps for extra in stack.extra_servers]
    meters = [CpuMeter(ps) for ps in servers]
    for meter in meters:
        meter.start()
    proc.send("go")
    if proc.expect("DONE", timeout=window + 60) is None:
        raise RuntimeError(f"the MoMo {mode} client did not finish; see {proc.log.name}")
    reads = [meter.read() for meter in meters]
    result = proc.finish()
    wall = reads[0]["wall_s"]
    return {
        "mode": mode, "path": path or None, "servers": len(ports), "concurrency": plan.momo_concurrency,
        "ok_code": ok_code or {"rtp": "202"}.get(mode, "200"), "requests": result["requests"],
        "codes": result["codes"], "elapsed_s": result["elapsed_s"], "latencies_ms": result["latencies_ms"],
        "cpu_s": sum(r["cpu_per_s"] for r in reads) * wall, "busy_core_s": reads[0]["machine_busy_cores"] * wall,
        "wall_s": wall, "accepted": result["accepted"],
    }


def _summary(windows: list[dict[str, Any]]) -> dict[str, Any]:
    """One call's windows (its rounds) as one result: answers, latencies and server CPU summed."""
    first = windows[0]
    codes: dict[str, int] = {}
    for run in windows:
        for code, n in run["codes"].items():
            codes[code] = codes.get(code, 0) + n
    ok = codes.get(first["ok_code"], 0)
    elapsed = sum(run["elapsed_s"] for run in windows)
    wall = sum(run["wall_s"] for run in windows)
    cpu_s = sum(run["cpu_s"] for run in windows)
    rate = ok / elapsed if elapsed else 0.0
    return {
        "mode": first["mode"], "path": first["path"], "servers": first["servers"], "concurrency": first["concurrency"],
        "rounds": len(windows), "requests": sum(run["requests"] for run in windows), "ok": ok, "codes": codes,
        "requests_per_s": round(rate, 1),
        "latency_ms": dist([ms for run in windows for ms in run["latencies_ms"]]),
        "server_cpu": {"cpu_per_s": round(cpu_s / wall, 4),
                       "machine_busy_cores": round(sum(run["busy_core_s"] for run in windows) / wall, 3),
                       "wall_s": round(wall, 2)},
        # Server CPU (all its Daphne processes) per answered request: what the ratios compare.
        "cpu_ms_per_request": round(cpu_s * 1000 / ok, 3) if ok else None,
        "accepted": [pair for run in windows for pair in run["accepted"]],
    }


def momo_run(stack: Stack, workdir: Path, plan: Plan, ports: list[int] | None = None) -> dict[str, Any]:
    """The two framework floors, request to pay and status: each a closed loop of
    `momo_concurrency` requests against the same server(s), in the same run. The four take
    turns, `momo_rounds` times (each turn a share of `momo_window`): a machine whose speed
    drifts (a busy neighbour, a shared host) moves a call and its floors alike, so their
    ratios hold where back-to-back windows of 10 s each had them swing by a fifth."""
    tokens = control.momo_tokens(plan.momo_users)
    for port in ports or [stack.port]:  # the first request imports the URLConf: not measured
        for path in (BARE_HTTP, MINIMAL_HTTP):
            control.http_get(port, path)
    window = plan.momo_window / plan.momo_rounds
    before = control.momo_payment_count()
    runs: dict[str, list[dict[str, Any]]] = {"floor_bare": [], "floor_minimal": [], "request_to_pay": [], "status": []}
    created: list[list[str]] = []
    for _ in range(plan.momo_rounds):
        runs["floor_bare"].append(_momo_window(stack, workdir, plan, "get", [], [], path=BARE_HTTP, ports=ports,
                                               window=window))
        runs["floor_minimal"].append(_momo_window(stack, workdir, plan, "get", [], [], path=MINIMAL_HTTP,
                                                  ok_code="404", ports=ports, window=window))
        rtp = _momo_window(stack, workdir, plan, "rtp", tokens, [], ports=ports, window=window)
        runs["request_to_pay"].append(rtp)
        created += rtp["accepted"]
        if not created:
            raise RuntimeError("no request to pay was accepted")
        runs["status"].append(_momo_window(stack, workdir, plan, "status", tokens, created, ports=ports, window=window))
    results = {name: _summary(windows) for name, windows in runs.items()}
    for run in results.values():
        run.pop("accepted")
    return {"users": plan.momo_users, "servers": len(ports or [stack.port]), **results,
            "payments_created": control.momo_payment_count() - before}


def inspector_run(stack: Stack, workdir: Path, plan: Plan) -> dict[str, Any]:
    """Request to pay with the integration inspector off (INSPECTOR_ENABLED=0) and on
    (every call recorded, as in the rest of the run), in `plan.inspector_order` (off, on,
    on, off; once each in --quick), each window on a fresh server: its cost in server CPU per answered request (what bounds throughput on a
    saturated server, and what a busy neighbour disturbs least) and in throughput; of each
    pair the window with the lower CPU per request counts."""
    from django.conf import settings

    runs: dict[str, list[dict[str, Any]]] = {"off": [], "on": []}
    windows = []  # every window in order, for the record: the spread is the machine's noise
    for label in plan.inspector_order:
        stack.extra_env = {"INSPECTOR_ENABLED": "1" if label == "on" else "0"}
        stack.start_server()
        try:
            control.http_get(stack.port, MINIMAL_HTTP)  # the URLConf's import: not measured
            run = _summary([_momo_window(stack, workdir, plan, "rtp", control.momo_tokens(plan.momo_users), [])])
            run.pop("accepted")
            runs[label].append(run)
            windows.append({"inspector": label, "requests_per_s": run["requests_per_s"],
                            "cpu_ms_per_request": run["cpu_ms_per_request"]})
        finally:
            stack.stop()
            stack.extra_env = {}
    on, off = (min(runs[label], key=lambda r: r["cpu_ms_per_request"] or float("inf")) for label in ("on", "off"))
    # Rows per write as the flushing thread would gather them at the measured rate.
    recording = inspector_recording_cost(batch=max(1, round(on["requests_per_s"] * settings.INSPECTOR_FLUSH_SECONDS)))
    cpu_on, cpu_off = on.get("cpu_ms_per_request"), off.get("cpu_ms_per_request")
    return {
        "on": on, "off": off, "windows": windows,
        "throughput_cost_pct": round(100 * (1 - on["requests_per_s"] / off["requests_per_s"]), 1) if off["requests_per_s"] else None,
        "cpu_cost_pct": round(100 * (cpu_on / cpu_off - 1), 1) if cpu_on and cpu_off else None,
        "recording": recording,
        # The in-process measure against the windows' CPU per request with recording off:
        # what the windows measure too, without the neighbours' noise.
        "recording_cost_pct": round(100 * recording["ms_per_call"] / cpu_off, 1) if cpu_off else None,
    }


def inspector_recording_cost(calls: int = 2000, batch: int = 50) -> dict[str, Any]:
    """What recording costs per call, measured in this process on the bench's database:
    building the row of an accepted request to pay (CPU time) and its share of one bulk
    write of `batch` rows with the caps (wall time, the database's work included; the best
    of three, as the quietest moment of a shared machine)."""
    import uuid as uuid_module

    from django.http import HttpResponse
    from django.test import RequestFactory
    from django.urls import resolve

    from inspector import recorder, rows

    path = "/collection/v1_0/requesttopay"
    headers = {"Ocp-Apim-Subscription-Key": control.MOMO_KEY, "Authorization": "Bearer " + "t" * 120,
               "X-Target-Environment": "sandbox", "User-Agent": "bench"}
    body = json.dumps({"amount": "100", "currency": "EUR", "externalId": "bench",
                       "payer": {"partyIdType": "MSISDN", "partyId": "46733123499"}})
    made = []
    started = time.process_time()
    for _ in range(calls):
        request = RequestFactory().post(path, body, content_type="application/json",
                                        headers={**headers, "X-Reference-Id": str(uuid_module.uuid4())})
        request.resolver_match = resolve(path)
        made.append(rows.inbound(request, HttpResponse(status=202), 0.01))
    build_ms = (time.process_time() - started) * 1000 / calls
    # RequestFactory's own cost is in build_ms too: an upper bound of the middleware's.
    writes = []
    push = recorder.Pusher()  # as the flushing thread pushes
    for start in range(0, min(4 * batch, calls - batch + 1), batch):
        began = time.perf_counter()
        recorder.write(made[start:start + batch], push)
        writes.append((time.perf_counter() - began) * 1000 / batch)
    return {"calls": calls, "batch": batch, "build_ms": round(build_ms, 4), "write_ms": round(min(writes), 4),
            "ms_per_call": round(build_ms + min(writes), 4)}


# --- 7: MoMo callbacks ------------------------------------------------------------------


def callback_latency_run(stack: Stack, plan: Plan, receiver, *, hang: bool | None) -> dict[str, Any]:
    """Payments with a callback URL settle at `callback_rate`/s; settlement -> callback
    received, or (hang) settlement punctuality while every callback attempt times out.
    hang=None: the same payments without a callback URL, the baseline punctuality."""
    receiver.hang = bool(hang)
    tag = f"{'hang' if hang else 'cb'}-{time.time_ns()}"
    count = int(plan.callback_rate * plan.callback_window)
    if hang is None:
        refs = control.create_payments(count)
    else:
        refs = control.create_momo_payments(count, url=receiver.url, tag=tag)
    pages = None
    if hang is False:
        # The push path's floor in the same run: each payment's checkout page is open, and
        # gets the same settlement pushed (settlement -> push received).
        pages = ClientProc("bench.clients", {"mode": "waiters", "port": stack.port, "refs": refs, "expect": refs,
                                             "deadline": 240},
                           workdir=stack.logs, env=stack.env(), name=f"callback-pages-{tag}")
        all_ready([pages], timeout=180)
    start = control.schedule(refs, rate=plan.callback_rate, start_in=1.5)
    lo, hi = control.pk_range(refs)
    wait_until(lambda: time.time() >= start.timestamp(), timeout=5, what="the first due time")
    meter = RolesMeter({"workers": [w.ps for w in stack.workers] or [stack.server.ps]})
    wait_until(lambda: control.processing_between(lo, hi) == 0, timeout=120, interval=0.5, what="the run to settle")
    result: dict[str, Any] = {"payments": count, "rate_per_s": plan.callback_rate,
                              "receiver": {None: "none", True: "hangs", False: "200"}[hang]}
    if pages is not None:
        pages.expect("DONE", timeout=30)
        result["settled_to_pushed_ms"] = dist(list(pages.finish()["latency_ms"].values()))
    if hang is None:
        pass
    elif not hang:
        wait_until(lambda: sum(1 for k in receiver.first if k.startswith(tag)) == count, timeout=60,
                   what="every callback received")
        settled = control.settled_at_by_external_id(refs)
        result["settled_to_received_ms"] = dist([(receiver.first[k] - settled[k]) * 1000 for k in settled])
        # Where the time goes: outbox row -> the attempt's start (the sender's scheduling),
        # then the attempt's start -> the receiver's clock (HTTP on loopback).
        started = control.first_attempt_by_external_id(refs)
        result["settled_to_attempt_ms"] = dist([(started[k] - settled[k]) * 1000 for k in started])
        result["attempt_to_received_ms"] = dist([(receiver.first[k] - started[k]) * 1000 for k in started])
    else:
        result["requests_while_hanging"] = receiver.requests
        result["deliveries"] = control.callback_counts()
    result["punctuality_ms"] = punctuality(refs)
    result["cpu_while_settling"] = meter.read()
    control.callbacks_clear()
    receiver.hang = False
    return result


def callback_one_hangs_run(stack: Stack, plan: Plan, receiver, hanging) -> dict[str, Any]:
    """One API user's receiver hangs with `callback_hung` callbacks due at once; another's
    answers: its settlement -> callback received at `callback_rate`/s (the per-host cap)."""
    tag = f"other-{time.time_ns()}"
    hanging.hang = True
    stuck = control.create_momo_payments(plan.callback_hung, url=hanging.url, tag=f"stuck-{tag}")
    control.schedule(stuck, rate=plan.callback_hung / 0.2, start_in=1.0)
    count = int(plan.callback_rate * plan.callback_window)
    refs = control.create_momo_payments(count, url=receiver.url, tag=tag)
    control.schedule(refs, rate=plan.callback_rate, start_in=2.5)  # once the hanging sends are in flight
    wait_until(lambda: sum(1 for k in receiver.first if k.startswith(tag)) == count, timeout=120,
               what="every other receiver's callback")
    settled = control.settled_at_by_external_id(refs)
    result = {
        "payments": count, "rate_per_s": plan.callback_rate, "hung": plan.callback_hung,
        "settled_to_received_ms": dist([(receiver.first[k] - settled[k]) * 1000 for k in settled]),
        "requests_at_hanging": hanging.requests,
    }
    control.callbacks_clear()
    hanging.hang = False
    return result


def callback_throughput_run(stack: Stack, plan: Plan, receiver) -> dict[str, Any]:
    """`callback_burst` payments due at once; the workers settle them and send every callback."""
    tag = f"burst-{time.time_ns()}"
    refs = control.create_momo_payments(plan.callback_burst, url=receiver.url, tag=tag)
    start = control.schedule(refs, rate=plan.callback_burst / 0.5, start_in=1.5)
    wait_until(lambda: sum(1 for k in receiver.first if k.startswith(tag)) == len(refs), timeout=180,
               interval=0.25, what="every callback received")
    arrivals = sorted(v for k, v in receiver.first.items() if k.startswith(tag))
    span = arrivals[-1] - start.timestamp()
    control.callbacks_clear()
    return {
        "callbacks": len(refs),
        "workers": len(stack.workers) or 1,
        "drain_s": round(span, 3),
        "callbacks_per_s": round(len(refs) / span, 1),
    }
