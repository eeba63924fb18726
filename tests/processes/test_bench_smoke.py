"""`python -m bench --quick` runs end to end, so the benchmark harness cannot rot.

No timing is asserted here (the machine is shared); what is asserted is what the figures
rest on: every waiting checkout, poller and dashboard saw every settlement it waited for,
every socket connected, every settled payment was pushed, and the run cleaned up after
itself.
"""

import json
import subprocess
import sys

import pytest

from tests.support import POSTGRES_ADMIN_URL, ROOT, child_env

pytestmark = pytest.mark.slow


def bench_databases() -> list[str] | None:
    try:
        import psycopg

        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=2) as conn:
            rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'livesettle_bench_%'").fetchall()
    except Exception:
        return None  # no PostgreSQL: the bench ran on the embedded default
    return [name for (name,) in rows]


def test_it_runs_the_quick_benchmark_and_every_client_sees_every_settlement(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(tmp_path)],
        cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=300,  # ~100 s quiet; a loaded machine
    )
    assert run.returncode == 0, run.stderr[-3000:]
    [result_file] = tmp_path.glob("*.json")
    assert result_file.with_suffix(".png").stat().st_size > 10_000
    table = result_file.with_suffix(".md").read_text()
    assert "| waiting checkouts |" in table and table in run.stdout

    doc = json.loads(result_file.read_text())
    results = doc["results"]
    for push in results["push"] + list(results.get("layers", {}).values()):
        assert push["connected"] == push["n"] and push["lost"] == 0, push
        assert push["latency_ms"]["count"] == push["settled"], push
    for poll in results["poll"]:
        assert poll["not_seen_in_time"] == 0 and poll["latency_ms"]["count"] == poll["settled"], poll
    for level in results["sockets"] + results["sockets_bare"]:
        assert level["sockets"] == level["target"] and level["failed"] == 0, level
        assert level["server_ms_per_connect"] > 0, level  # the server worked for each connect
    assert "| the socket floor | connect rate | server CPU per connect |" in table
    connects = results["connects"]  # pages and bare sockets in alternated turns on one Daphne
    assert connects["to"] == 500 and connects["closed_early"] == 0, connects  # QUICK: sockets=(500,)
    for kind in ("pages", "bare"):
        turns = connects[kind]
        assert turns["held"] == 250 and turns["connected"] == 200, connects  # 100 held first, 2 turns of 100
        assert len(turns["turns_per_s"]) == connects["rounds"] == 2 and turns["server_ms_per_connect"] > 0, connects
    assert "| connects, one Daphne, 100 → 500 held, 2 alternated turns each |" in table
    [connect_target] = [t for t in doc["targets"] if t["target"].startswith("connects ≥ 0.8×")]
    assert "alternated turns" in connect_target["target"] and connect_target["met"] in (True, False), connect_target
    for resync in results["resync"].values():  # a server restart in front of them: all came back
        assert resync["back"] == resync["sockets"] and resync["failed"] == 0, resync
    if "dashboards" not in results["skipped"]:
        for dash in results["dashboards"]:
            assert dash["connected"] == dash["dashboards"] and dash["lost"] == 0, dash
    for run_ in results["throughput"]:
        assert run_["settled"] == run_["payments"], run_
        if doc["mode"] == "redis+postgresql":
            assert run_["pushed"] == run_["settled"], run_
    momo = results["momo"]
    assert set(momo["request_to_pay"]["codes"]) == {"202"} and set(momo["status"]["codes"]) == {"200"}, momo
    assert momo["payments_created"] == momo["request_to_pay"]["ok"] > 0
    # The framework's floors, served by the same Daphne: the bare view and LiveSettle's JSON 404.
    assert set(momo["floor_bare"]["codes"]) == {"200"} and set(momo["floor_minimal"]["codes"]) == {"404"}, momo
    assert "| MoMo API, one Daphne (" in table
    # Every ratio of issue 22 that a quick run measures is reported, met or not.
    ratios = [t for t in doc["targets"] if "ratio" in t]
    assert len(ratios) >= 6 and all(t["met"] in (True, False) for t in ratios), ratios
    assert "| target (issue 22" in table
    callback = results["callbacks"]["latency"]  # its pages saw each settlement pushed
    assert callback["settled_to_pushed_ms"]["count"] == callback["payments"], callback
    money = results["money"]  # every transfer and refund settled successful, booked by the ledger
    for key in ("transfer", "refund"):
        assert set(money[key]["codes"]) == {"202"} and money[key]["statuses"] == {"successful": money[key]["settled"]}, money
    pair = money["settlement"]  # money moving books two entries a settlement; failures book none
    assert pair["no_money"]["ledger_entries"] == 0 and pair["money"]["ledger_entries"] >= 2 * pair["money"]["settled"], pair
    assert "| money (" in table
    if doc["database"] is not None:
        # Its own database only: other runs on this PostgreSQL may be holding theirs right now.
        assert doc["database"] not in (bench_databases() or []), "the bench left its database behind"
