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


def markdown(doc: dict[str, Any]) -> str:
    r = doc["results"]
    m = doc["machine"]
    out = [
        f"### LiveSettle benchmark, {doc['date']} ({'quick' if doc['quick'] else 'full'} run, {doc['duration_s'] if 'duration_s' in doc else '?'} s)",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB RAM; {m['os']}; Python {m['python']}; "
        f"{m['database']}, {m['channel_layer']}; "
        + ", ".join(f"{k} {v}" for k, v in m["packages"].items()) + ".",
        "Everything on 127.0.0.1: server, workers, services and the client processes share the same 2 cores.",
        "Latencies in ms as p50 / p99 (min, max); CPU in % of one core for the Daphne process"
        + (" (the embedded demo runs its worker inside it)." if doc["mode"] == "embedded" else "."),
    ]
    busy = sorted(_machine_busy(r))
    if busy:
        out.append(
            f"The whole machine was {busy[0]:.1f}–{busy[-1]:.1f} cores busy during the measurement windows"
            " (the bench's own processes plus anything else running)."
        )
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
            if lat.get("settled_to_attempt_ms"):
                out.append(f"| … of which settlement → attempt started (the sender) / attempt → received (HTTP) | {_ms(lat['settled_to_attempt_ms'])} / {_ms(lat['attempt_to_received_ms'])} |")
            out.append(f"| settlement punctuality meanwhile (settled_at − settle_at) | {_ms(lat['punctuality_ms'])}; worker CPU {_pct_of(lat)} |")
        if hang:
            out.append(f"| settlement punctuality at {hang['rate_per_s']:g}/s while every receiver times out (2 s) | {_ms(hang['punctuality_ms'])}; {hang['requests_while_hanging']:,} attempts timed out or in flight; worker CPU {_pct_of(hang)} |")
        if tp:
            out.append(f"| callbacks/s, {tp['callbacks']:,} due at once, {tp['workers']} worker(s) | {tp['callbacks_per_s']:g}/s (all sent in {tp['drain_s']:g} s) |")
        out.append("")
    if r.get("layers"):
        out += ["| channel layer | push latency | lost | server CPU while settling |", "|---|---|---|---|"]
        for name, x in r["layers"].items():
            out.append(f"| {name} ({x['n']:,} waiting, 50/s) | {_ms(x['latency_ms'])} | {x['lost']} | {_pct(x['server_cpu_settling'])} |")
        out.append("")
    if r.get("momo"):
        x = r["momo"]
        out += [f"| MoMo API ({x['users']} API users, {x['request_to_pay']['concurrency']} in flight) | requests/s | latency | other answers | server CPU |",
                "|---|---|---|---|---|"]
        for name, key, ok in (("request to pay (202)", "request_to_pay", "202"), ("status (200)", "status", "200")):
            run = x[key]
            other = {code: n for code, n in run["codes"].items() if code != ok}
            out.append(f"| {name} | {run['requests_per_s']:g} | {_ms(run['latency_ms'])} | {other or 'none'} | {_pct(run['server_cpu'])} |")
        out.append("")
    rows = targets(r)
    if rows:
        out += ["| target | measured | met | what limits it |", "|---|---|---|---|"]
        for target, measured, limit, met in rows:
            out.append(f"| {target} | {measured} | {'yes' if met else 'NO'} | {limit} |")
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
