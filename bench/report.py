"""The summary table (markdown), the targets it checks, and the plot."""

import asyncio
from pathlib import Path
from typing import Any

TARGET_PUSH_N = 1000  # the targets are stated at 1,000 waiting checkouts


def dashboard_missing(port: int, cookie: str) -> str | None:
    """Why /ws/dashboard/ cannot be measured (not built yet, refused), or None if it answers."""
    from websockets.asyncio.client import connect

    async def probe() -> str | None:
        try:
            ws = await connect(
                f"ws://127.0.0.1:{port}/ws/dashboard/?format=json", origin=f"http://127.0.0.1:{port}",
                additional_headers={"Cookie": cookie}, proxy=None, open_timeout=10,
            )
        except Exception as exc:
            return f"/ws/dashboard/ refused the staff socket ({type(exc).__name__}: {exc})"
        try:
            await asyncio.wait_for(ws.recv(), timeout=10)
        except Exception as exc:
            return f"/ws/dashboard/ sent no snapshot ({type(exc).__name__})"
        finally:
            await ws.close()
        return None

    return asyncio.run(probe())


def _by(rows: list[dict[str, Any]] | None, key: str, value: Any) -> dict[str, Any] | None:
    return next((r for r in rows or [] if r.get(key) == value), None)


def _ms(d: dict[str, Any] | None) -> str:
    if not d or not d.get("count"):
        return "—"
    return f"{d['p50']:g} / {d['p99']:g} (min {d['min']:g}, max {d['max']:g})"


def _machine_busy(value: Any) -> list[float]:
    """Every `machine_busy_cores` figure in the results."""
    if isinstance(value, dict):
        long_enough = value.get("wall_s", 1) >= 1  # a window too short to say anything
        found = [value["machine_busy_cores"]] if "machine_busy_cores" in value and long_enough else []
        return found + [b for k, v in value.items() if k != "machine_busy_cores" for b in _machine_busy(v)]
    if isinstance(value, list):
        return [b for v in value for b in _machine_busy(v)]
    return []


def _lost(push: dict[str, Any] | None) -> str:
    if not push:
        return "—"
    failed = push.get("connect_failed", 0)
    return f"{push['lost']}" + (f" ({failed:,} sockets failed to connect)" if failed else "")


def _pct(cpu: dict[str, Any] | None) -> str:
    return f"{cpu['cpu_per_s'] * 100:.1f} %" if cpu else "—"


def _pct_of(run: dict[str, Any]) -> str:
    cpu = run.get("cpu_while_settling") or {}
    return f"{cpu['workers'] * 100:.0f} % of a core" if "workers" in cpu else "—"


def targets(results: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """(target, measured, what limits it, met?) for each of the issue's targets."""
    rows: list[tuple[str, str, str, bool | None]] = []
    push = _by(results.get("push"), "n", TARGET_PUSH_N)
    poll = _by(results.get("poll"), "n", TARGET_PUSH_N)
    if push:
        lat = push["latency_ms"]
        rows.append((
            "push p50 ≤ 10 ms, p99 ≤ 50 ms (1,000 waiting, 50/s)",
            f"p50 {lat.get('p50')} ms, p99 {lat.get('p99')} ms, lost {push['lost']}",
            "the path commit → on_commit → Redis PUBLISH → Daphne → socket; at 5,000 sockets the tail is Daphne's full garbage collections (0.1–0.8 s pauses seen)",
            bool(lat.get("count")) and lat["p50"] <= 10 and lat["p99"] <= 50 and push["lost"] == 0,
        ))
    if push and poll:
        push_cpu = push["server_cpu_idle"]["cpu_per_s"]
        poll_cpu = poll["server_cpu_idle"]["cpu_per_s"]
        ratio = poll_cpu / push_cpu if push_cpu > 0 else float("inf")
        rows.append((
            "≥ 20× less server CPU than 2 s polling (1,000 waiting)",
            f"{ratio:.0f}× (polling {poll_cpu * 100:.1f} % vs push {push_cpu * 100:.2f} % of a core)",
            "polling: a full Django request per poll (a thread, a pooled DB connection, DRF): ~6–7 ms of CPU each; push: keep-alive pings only",
            ratio >= 20,
        ))
    sockets = results.get("sockets") or []
    if sockets:
        top = sockets[-1]
        rows.append((
            "10,000 sockets in one Daphne at ≤ 40 KB each",
            f"{top['sockets']:,} held, {top['kb_per_socket']:g} KB each, {top['failed']} failed",
            "per socket: Twisted + autobahn protocol, a consumer instance and its tasks, a pub/sub subscription",
            top["sockets"] >= 10_000 and top["kb_per_socket"] <= 40,
        ))
    two = _by(results.get("throughput"), "workers", 2)
    if two:
        pushed = two["pushed"]
        rows.append((
            "≥ 1,000 settlements/s with 2 workers on PostgreSQL, each pushed",
            f"{two['settlements_per_s']:g}/s, pushed {pushed if pushed is not None else '—'} of {two['settled']}",
            "worker Python per payment and PostgreSQL; on 2 cores a 3rd and 4th worker add little",
            two["settlements_per_s"] >= 1000 and pushed == two["settled"],
        ))
    dash = [d for d in results.get("dashboards") or [] if d.get("format", "json") == "html"]
    steady = _by(dash, "dashboards", 20) or (dash[0] if dash else None)
    if steady:
        rows.append((
            "p99 settled_at − settle_at ≤ 250 ms at 100 settlements/s",
            f"p99 {steady['punctuality_ms'].get('p99')} ms",
            "the worker sleeps until the next due time, at least 20 ms between passes (MIN_PASS_GAP, to batch a steady flow); a pass is ~5 queries",
            bool(steady["punctuality_ms"].get("count")) and steady["punctuality_ms"]["p99"] <= 250,
        ))
    twenty = _by(dash, "dashboards", 20)
    if twenty:
        rows.append((
            "20 dashboards (HTML, as a browser) at 100/s: p99 ≤ 250 ms, nothing lost",
            f"p99 {twenty['latency_ms'].get('p99')} ms, lost {twenty['lost']}, late {twenty['late']}",
            "fan-out: Daphne frames and writes every update to every socket (HTML rows are gathered per 0.1 s under load)",
            bool(twenty["latency_ms"].get("count")) and twenty["latency_ms"]["p99"] <= 250 and twenty["lost"] == 0,
        ))
    return rows


def _ratio_row(target: str, limit: float, value: float | None, floor: float | None, *, at_least: bool = False,
               unit: str = "", what: str = "") -> tuple[str, str, str, bool | None]:
    """(target, measured, ratio, met?) of `value` / `floor`, met when ≤ limit (≥ with at_least)."""
    if not value or not floor:
        return target, "—", "—", None
    ratio = value / floor
    met = ratio >= limit if at_least else ratio <= limit
    return target, f"{value:g}{unit} vs {floor:g}{unit}{what}", f"{ratio:.2f}×", met


def targets_json(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target (the older absolute ones and issue 22's ratios) for the results file."""
    rows = [{"target": t, "measured": m, "met": met} for t, m, _, met in targets(results) + inspector_targets(results)]
    return rows + [{"target": t, "measured": m, "ratio": r, "met": met} for t, m, r, met in floor_targets(results)]


INSPECTOR_MAX_COST_PCT = 10.0


def inspector_targets(results: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """Issue 20: recording every MoMo call costs request to pay under 10 %: judged on what
    recording one call costs (measured in process: the row's build plus its share of a bulk
    write) against the server's CPU per request with recording off; throughput on a
    saturated server is the inverse of that CPU. The off/on windows are shown beside it:
    on a shared machine they move with the neighbours by more than the cost itself."""
    x = results.get("inspector")
    if not x or x.get("recording_cost_pct") is None:
        return []
    rec = x["recording"]
    measured = (f"{rec['ms_per_call']:g} ms per call (build {rec['build_ms']:g} + write {rec['write_ms']:g}, "
                f"{rec.get('batch', '?')} rows a write) of "
                f"{x['off']['cpu_ms_per_request']:g} ms: {x['recording_cost_pct']:g} %; windows on vs off: CPU per request "
                f"{x['cpu_cost_pct']:+g} %, throughput {x['on']['requests_per_s']:g}/s vs {x['off']['requests_per_s']:g}/s")
    return [(f"the inspector costs request to pay < {INSPECTOR_MAX_COST_PCT:g} %", measured,
             "one row built and queued per call; one bulk INSERT and one push per batch (docs/inspector.md)",
             x["recording_cost_pct"] < INSPECTOR_MAX_COST_PCT)]


def _inspector_table(x: dict[str, Any]) -> list[str]:
    out = ["| MoMo request to pay, one Daphne | requests/s | latency | server CPU | CPU per request |", "|---|---|---|---|---|"]
    for label in ("off", "on"):
        run = x[label]
        per = run.get("cpu_ms_per_request")
        out.append(f"| inspector {label} | {run['requests_per_s']:g} | {_ms(run['latency_ms'])} | {_pct(run['server_cpu'])} "
                   f"| {f'{per:g} ms' if per else '—'} |")
    return out + [""]


def _connects_table(x: dict[str, Any]) -> list[str]:
    out = [f"| connects, one Daphne, {x['from']:,} → {x['to']:,} held, {x['rounds']} alternated turns each | connect rate "
           "| server CPU per connect | each turn |", "|---|---|---|---|"]
    for name, key in (("checkout pages (snapshot received)", "pages"), ("bare Channels consumer", "bare")):
        run = x[key]
        out.append(f"| {name}: {run['connected']:,} in {run['seconds']:g} s | {run['connect_per_s']:g}/s "
                   f"| {run['server_ms_per_connect']:g} ms | {', '.join(f'{t:g}' for t in run['turns_per_s'])} /s |")
    return out + [""]


def floor_targets(results: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """Issue 22: each figure as a ratio to the framework's own floor, measured in the same run."""
    rows = []
    for key, where in (("momo", ""), ("momo_two", ", two Daphne processes")):
        momo = results.get(key)
        if not momo or "floor_bare" not in momo:
            continue

        def cpu(run: str, momo: dict[str, Any] = momo) -> float | None:
            return momo[run].get("cpu_ms_per_request")

        rows.append(_ratio_row(f"minimal floor (JSON 404 under /api/, all middleware) ≤ 1.5× bare Django view{where}",
                               1.5, cpu("floor_minimal"), cpu("floor_bare"), unit=" ms", what=" server CPU per request"))
        rows.append(_ratio_row(f"MoMo status ≤ 1.5× the minimal floor{where}", 1.5, cpu("status"), cpu("floor_minimal"),
                               unit=" ms", what=" server CPU per request"))
        rows.append(_ratio_row(f"MoMo request to pay ≤ 3× the minimal floor{where}", 3.0, cpu("request_to_pay"),
                               cpu("floor_minimal"), unit=" ms", what=" server CPU per request"))
    pages, bare = (results.get("sockets") or [None])[-1], (results.get("sockets_bare") or [None])[-1]
    turns = results.get("connects")
    if turns:  # the same Daphne, the same held sockets, alternated turns (phases.connects_alternated)
        rows.append(_ratio_row(f"connects ≥ 0.8× a bare Channels consumer's (one Daphne, {turns['from']:,} → {turns['to']:,} held, "
                               f"alternated turns)", 0.8, turns["pages"]["connect_per_s"], turns["bare"]["connect_per_s"],
                               at_least=True, unit="/s"))
    elif pages and bare:  # a results file from before the alternated turns
        rows.append(_ratio_row(f"connects ≥ 0.8× a bare Channels consumer's ({pages['sockets']:,} sockets)", 0.8,
                               pages["connect_per_s"], bare["connect_per_s"], at_least=True, unit="/s"))
    if pages and bare:
        rows.append(_ratio_row("memory per held socket ≤ 1.1× a bare consumer's", 1.1,
                               pages["kb_per_socket"], bare["kb_per_socket"], unit=" KB"))
    resync = results.get("resync") or {}
    if resync.get("pages") and resync.get("bare"):
        rows.append(_ratio_row(f"{resync['pages']['sockets']:,} pages resync after a Daphne restart ≤ 1.5× bare sockets' reconnect",
                               1.5, resync["pages"]["seconds"], resync["bare"]["seconds"], unit=" s"))
    lat = (results.get("callbacks") or {}).get("latency") or {}
    if lat.get("settled_to_pushed_ms", {}).get("count") and lat.get("settled_to_received_ms", {}).get("count"):
        rows.append(_ratio_row(f"settlement → callback received p99 ≤ 2× settlement → push p99 ({lat['rate_per_s']:g}/s)", 2.0,
                               lat["settled_to_received_ms"]["p99"], lat["settled_to_pushed_ms"]["p99"], unit=" ms"))
    big, base = _by(results.get("push"), "n", 5000), _by(results.get("push"), "n", TARGET_PUSH_N)
    if big and base and big["latency_ms"].get("count") and base["latency_ms"].get("count"):
        rows.append(_ratio_row("push p99 at 5,000 waiting ≤ 2× the p99 at 1,000", 2.0,
                               big["latency_ms"]["p99"], base["latency_ms"]["p99"], unit=" ms"))
    return rows


def _momo_table(label: str, x: dict[str, Any]) -> list[str]:
    head = f"| MoMo API, {label} ({x['users']} API users, {x['request_to_pay']['concurrency']} in flight) "
    out = [head + "| requests/s | latency | other answers | server CPU | CPU per request |", "|---|---|---|---|---|---|"]
    for name, key, ok in (("floor: bare Django JSON view, no middleware (200)", "floor_bare", "200"),
                          ("floor: JSON 404 under /api/, all middleware (404)", "floor_minimal", "404"),
                          ("request to pay (202)", "request_to_pay", "202"), ("status (200)", "status", "200")):
        run = x.get(key)
        if not run:
            continue
        other = {code: n for code, n in run["codes"].items() if code != ok}
        per = run.get("cpu_ms_per_request")
        out.append(f"| {name} | {run['requests_per_s']:g} | {_ms(run['latency_ms'])} | {other or 'none'} "
                   f"| {_pct(run['server_cpu'])} | {f'{per:g} ms' if per else '—'} |")
    return out + [""]


def _money_table(x: dict[str, Any]) -> list[str]:
    """Transfers and refunds created -> final, and the settlement rate with the ledger moving money."""
    head = (f"| money ({x['users']} API users, {x['concurrency']} in flight, 1 worker) | settled/s (created → final) "
            "| accepted/s (202) | POST latency | created → final | statuses |")
    out = [head, "|---|---|---|---|---|---|"]
    for name, key in (("Disbursement transfers", "transfer"), ("refunds (parts of successful requests to pay)", "refund")):
        run = x[key]
        statuses = ", ".join(f"{n:,} {status}" for status, n in sorted(run["statuses"].items()))
        out.append(f"| {name}: {run['settled']:,} | {run['settled_per_s']:g} | {run['accepted_per_s']:g} "
                   f"| {_ms(run['latency_ms'])} | {_ms(run['created_to_final_ms'])} | {statuses} |")
    s = x["settlement"]
    out += ["", "| settlement rate, 1 worker | settlements/s | ledger entries booked |", "|---|---|---|"]
    for label, run in (("no money moving (success rate 0.0)", s["no_money"]), ("money moving (success rate 1.0)", s["money"])):
        out.append(f"| {label}, {run['payments']:,} due within {run['due_within_s']:g} s "
                   f"| {run['settlements_per_s']:g} | {run['ledger_entries']:,} |")
    return [*out, f"| ratio, money moving / none | {s['ratio']} | |", ""]


def markdown(doc: dict[str, Any]) -> str:
    r = doc["results"]
    m = doc["machine"]
    out = [
        f"### LiveSettle benchmark, {doc['date']} ({'quick' if doc['quick'] else 'full'} run, {doc['duration_s'] if 'duration_s' in doc else '?'} s)",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB RAM; {m['os']}; Python {m['python']}; "
        f"{m['database']}, {m['channel_layer']}; "
        + ", ".join(f"{k} {v}" for k, v in m["packages"].items()) + ".",
        "Everything on 127.0.0.1: server, workers, services and the client processes share the same 2 cores."
        + (f" Load average (1/5/15 min) {'/'.join(f'{x:g}' for x in doc['load_average']['before'])} before the run, "
           f"{'/'.join(f'{x:g}' for x in doc['load_average']['after'])} after." if doc.get("load_average") else ""),
        "Latencies in ms as p50 / p99 (min, max); CPU in % of one core for the Daphne process"
        + (" (the embedded demo runs its worker inside it)." if doc["mode"] == "embedded" else "."),
    ]
    busy = sorted(_machine_busy(r))
    if busy:
        out.append(
            f"The whole machine was {busy[0]:.1f}–{busy[-1]:.1f} cores busy during the measurement windows"
            " (the bench's own processes plus anything else running)."
        )
    if r.get("phase_seconds"):
        out.append("Seconds per phase (server starts and setup included): "
                   + ", ".join(f"{phase} {seconds:g}" for phase, seconds in r["phase_seconds"].items()) + ".")
    out.append("")
    if r.get("push") or r.get("poll"):
        out += ["| waiting checkouts | push latency | polling (2 s) latency | server CPU waiting: push / polling | server CPU while settling 50/s: push / polling | lost (push) | poll errors |",
                "|---|---|---|---|---|---|---|"]
        for n in sorted({x["n"] for x in (r.get("push") or []) + (r.get("poll") or [])}):
            p, q = _by(r.get("push"), "n", n), _by(r.get("poll"), "n", n)
            out.append(
                f"| {n:,} | {_ms(p and p['latency_ms'])} | {_ms(q and q['latency_ms'])} "
                f"| {_pct(p and p['server_cpu_idle'])} / {_pct(q and q['server_cpu_idle'])} "
                f"| {_pct(p and p['server_cpu_settling'])} / {_pct(q and q['server_cpu_settling'])} "
                f"| {_lost(p)} | {q['errors'] if q else '—'} |"
            )
        out.append("")
    if r.get("sockets"):
        out += ["| sockets held (one Daphne) | connect rate | RSS | per socket | idle CPU |", "|---|---|---|---|---|"]
        for s in r["sockets"]:
            out.append(f"| {s['sockets']:,} ({s['failed']} failed) | {s['connect_per_s']}/s | {s['rss_mb']} MB | {s['kb_per_socket']} KB | {_pct(s['idle_cpu'])} |")
        out.append("")
    if r.get("dashboards"):
        out += ["| staff dashboards at 100/s | delivery latency | lost | late (> 250 ms) | messages | server CPU |", "|---|---|---|---|---|---|"]
        for d in r["dashboards"]:
            out.append(
                f"| {d['dashboards']} ({d.get('format', 'json').upper()}) | {_ms(d['latency_ms'])} | {d['lost']} of {d['expected_deliveries']:,} "
                f"| {d['late']} | {d['messages']:,} | {_pct(d['server_cpu_settling'])} |"
            )
        out.append("")
    if r.get("throughput"):
        out += ["| settlement workers | payments | settlements/s | pushed | settled_at − settle_at | push lag |", "|---|---|---|---|---|---|"]
        for t in r["throughput"]:
            pushed = "—" if t["pushed"] is None else f"{t['pushed']:,}"
            out.append(f"| {t['workers']} | {t['payments']:,} due within {t['due_within_s']:g} s | {t['settlements_per_s']:g} | {pushed} | {_ms(t['punctuality_ms'])} | {_ms(t['push_lag_ms'])} |")
        out.append("")
    if r.get("callbacks"):
        c = r["callbacks"]
        lat, hang, tp, base = c.get("latency"), c.get("hanging"), c.get("throughput"), c.get("baseline")
        out += ["| MoMo callbacks | measured |", "|---|---|"]
        if base:
            out.append(f"| baseline: settlement punctuality at {base['rate_per_s']:g}/s, no callbacks | {_ms(base['punctuality_ms'])}; worker CPU {_pct_of(base)} |")
        if lat:
            out.append(f"| settlement → callback received, {lat['payments']:,} at {lat['rate_per_s']:g}/s | {_ms(lat['settled_to_received_ms'])} |")
            if lat.get("settled_to_pushed_ms"):
                out.append(f"| the same settlements → pushed to their open checkout pages (the push path's floor) | {_ms(lat['settled_to_pushed_ms'])} |")
            if lat.get("settled_to_attempt_ms"):
                out.append(f"| … of which settlement → attempt started (the sender) / attempt → received (HTTP) | {_ms(lat['settled_to_attempt_ms'])} / {_ms(lat['attempt_to_received_ms'])} |")
            out.append(f"| settlement punctuality meanwhile (settled_at − settle_at) | {_ms(lat['punctuality_ms'])}; worker CPU {_pct_of(lat)} |")
        if hang:
            out.append(f"| settlement punctuality at {hang['rate_per_s']:g}/s while every receiver times out (2 s) | {_ms(hang['punctuality_ms'])}; {hang['requests_while_hanging']:,} attempts timed out or in flight; worker CPU {_pct_of(hang)} |")
        one = c.get("one_hangs")
        if one:
            out.append(f"| settlement → callback received, {one['payments']:,} at {one['rate_per_s']:g}/s, while another API user's receiver hangs with {one['hung']:,} due | {_ms(one['settled_to_received_ms'])} |")
        if tp:
            out.append(f"| callbacks/s, {tp['callbacks']:,} due at once, {tp['workers']} worker(s) | {tp['callbacks_per_s']:g}/s (all sent in {tp['drain_s']:g} s) |")
        out.append("")
    if r.get("layers"):
        out += ["| channel layer | push latency | lost | server CPU while settling |", "|---|---|---|---|"]
        for name, x in r["layers"].items():
            out.append(f"| {name} ({x['n']:,} waiting, 50/s) | {_ms(x['latency_ms'])} | {x['lost']} | {_pct(x['server_cpu_settling'])} |")
        out.append("")
    if r.get("momo"):
        out += _momo_table("one Daphne", r["momo"])
    if r.get("momo_two"):
        out += _momo_table("two Daphne processes (requests alternate)", r["momo_two"])
    if r.get("sockets_bare") or r.get("resync"):
        out += ["| the socket floor | connect rate | server CPU per connect | per socket | restart: every socket back in |",
                "|---|---|---|---|---|"]
        pages, bare = (r.get("sockets") or [{}])[-1], (r.get("sockets_bare") or [{}])[-1]
        resync = r.get("resync") or {}
        for name, level, back in (("checkout pages (snapshot received)", pages, resync.get("pages")),
                                  ("bare Channels consumer", bare, resync.get("bare"))):
            again = f"{back['back']:,} of {back['sockets']:,} in {back['seconds']:g} s ({back['per_s']:g}/s)" if back else "—"
            spent = level.get("server_ms_per_connect")
            out.append(f"| {name}, {level.get('sockets', 0):,} held | {level.get('connect_per_s')}/s | "
                       f"{f'{spent:g} ms' if spent is not None else '—'} | {level.get('kb_per_socket')} KB | {again} |")
        out.append("")
    if r.get("connects"):
        out += _connects_table(r["connects"])
    if r.get("inspector"):
        out += _inspector_table(r["inspector"])
    if r.get("money"):
        out += _money_table(r["money"])
    rows = targets(r) + inspector_targets(r)
    if rows:
        out += ["| target | measured | met | what limits it |", "|---|---|---|---|"]
        for target, measured, limit, met in rows:
            out.append(f"| {target} | {measured} | {'yes' if met else 'NO'} | {limit} |")
        out.append("")
    ratios = floor_targets(r)
    if ratios:
        out += ["| target (issue 22: a ratio to the framework's floor, same run) | measured | ratio | met |", "|---|---|---|---|"]
        for target, measured, ratio, met in ratios:
            out.append(f"| {target} | {measured} | {ratio} | {'—' if met is None else 'met' if met else 'NO'} |")
        out.append("")
    for what, why in r.get("skipped", {}).items():
        out.append(f"- not measured: {what}: {why}")
    return "\n".join(out).rstrip() + "\n"


def plot(doc: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = doc["results"]
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    fig.suptitle(f"LiveSettle benchmark {doc['date']} — {doc['machine']['cores']} cores, {doc['mode']}")

    ax = axes[0][0]
    for name, rows, style in (("push", r.get("push"), "o-"), ("polling 2 s", r.get("poll"), "s--")):
        rows = [x for x in rows or [] if x["latency_ms"].get("count")]
        if rows:
            ns = [x["n"] for x in rows]
            ax.plot(ns, [x["latency_ms"]["p50"] for x in rows], style, label=f"{name} p50")
            ax.plot(ns, [x["latency_ms"]["p99"] for x in rows], style, alpha=0.5, label=f"{name} p99")
    ax.set(xscale="log", yscale="log", xlabel="waiting checkouts", ylabel="commit → client (ms)", title="Settlement → page")
    ax.legend(fontsize=8)

    ax = axes[0][1]
    for name, rows, style in (("push", r.get("push"), "o-"), ("polling 2 s", r.get("poll"), "s--")):
        if rows:
            ax.plot([x["n"] for x in rows], [x["server_cpu_idle"]["cpu_per_s"] * 100 for x in rows], style, label=f"{name}, waiting")
    ax.set(xscale="log", yscale="log", xlabel="waiting checkouts", ylabel="Daphne CPU (% of a core)", title="Server CPU while waiting")
    ax.legend(fontsize=8)

    ax = axes[0][2]
    sockets = r.get("sockets") or []
    if sockets:
        xs = [s["sockets"] for s in sockets]
        ax.plot(xs, [s["rss_mb"] for s in sockets], "o-", label="RSS (MB)")
        ax.plot(xs, [s["kb_per_socket"] for s in sockets], "s--", label="KB per socket")
        ax2 = ax.twinx()
        ax2.plot(xs, [s["idle_cpu"]["cpu_per_s"] * 100 for s in sockets], "^:", color="tab:red", label="idle CPU %")
        ax2.set_ylabel("idle CPU (% of a core)")
        ax2.legend(loc="lower right", fontsize=8)
    ax.set(xlabel="sockets held by one Daphne", title="Sockets held")
    ax.legend(loc="upper left", fontsize=8)

    ax = axes[1][0]
    dash = r.get("dashboards") or []
    for fmt, style in (("html", "-"), ("json", ":")):
        rows = [d for d in dash if d.get("format", "json") == fmt]
        if rows:
            ds = [d["dashboards"] for d in rows]
            ax.plot(ds, [d["latency_ms"].get("p50", 0) for d in rows], "o" + style, label=f"{fmt.upper()} p50")
            ax.plot(ds, [d["latency_ms"].get("p99", 0) for d in rows], "s" + style, label=f"{fmt.upper()} p99")
    if dash:
        ax.axhline(250, color="grey", lw=0.8, ls=":", label="target p99")
        ax.legend(fontsize=8)
    ax.set(xlabel="staff dashboards", ylabel="ms", title="Dashboard fan-out at 100 settlements/s")

    ax = axes[1][1]
    tp = r.get("throughput") or []
    if tp:
        ax.bar([str(t["workers"]) for t in tp], [t["settlements_per_s"] for t in tp])
        ax.axhline(1000, color="grey", lw=0.8, ls=":", label="target (2 workers)")
        ax.legend(fontsize=8)
    ax.set(xlabel="settlement workers", ylabel="settlements/s", title="Throughput (backlog drain)")

    ax = axes[1][2]
    layers = r.get("layers") or {}
    if layers:
        names = list(layers)
        ax.bar([f"{n} p50" for n in names], [layers[n]["latency_ms"].get("p50", 0) for n in names])
        ax.bar([f"{n} p99" for n in names], [layers[n]["latency_ms"].get("p99", 0) for n in names])
    ax.set(ylabel="ms", title="Push latency by Redis layer (1,000 waiting)")

    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main() -> None:
    """`python -m bench.report RESULTS.json`: rewrite its .md and .png (after editing this file)."""
    import json
    import sys

    path = Path(sys.argv[1])
    doc = json.loads(path.read_text())
    path.with_suffix(".md").write_text(markdown(doc))
    plot(doc, path.with_suffix(".png"))


if __name__ == "__main__":
    main()
