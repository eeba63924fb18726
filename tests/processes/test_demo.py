"""`make demo` on the embedded default: one process, SQLite, in-memory layer, no Redis or PostgreSQL."""

import json
import re
import signal
import urllib.request
from datetime import datetime

import pytest

from payments.services import operator_ensure
from tests.support import Process, child_env, free_port, port_open, wait_for


def _http(url: str, body: dict | None = None) -> tuple[int, dict | str]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        text = response.read().decode()
        is_json = response.headers.get_content_type() == "application/json"
        return response.status, json.loads(text) if is_json else text


def test_it_runs_the_whole_demo_from_make_and_settles_within_a_second(tmp_path):
    port = free_port()
    env = child_env(DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}", DEMO_OPERATOR_PASSWORD="s3cret-demo", REDIS_URL=None)
    demo = Process(
        argv=["make", "--no-print-directory", "demo", f"ARGS=--port {port} --timeout 1.5"],
        env=env, log=tmp_path / "demo.log",
    )
    try:
        wait_for(lambda: port_open(port) or not demo.alive(), timeout=60, what="make demo to serve")
        output = demo.output()
        assert f"http://127.0.0.1:{port}/" in output
        assert f"http://127.0.0.1:{port}/dashboard/" in output
        assert "operator / s3cret-demo" in output

        status, page = _http(f"http://127.0.0.1:{port}/")
        assert status == 200 and "Pay with mobile money" in page
        status, created = _http(f"http://127.0.0.1:{port}/api/payments/", {"amount": "25.00", "currency": "EUR", "phone_number": "46733123499"})
        assert status == 201 and created["status"] == "processing"

        url = f"http://127.0.0.1:{port}/api/payments/{created['reference']}/"
        settled = wait_for(lambda: (p := _http(url)[1])["status"] != "processing" and p, timeout=10, what="the settlement")
        lateness = (datetime.fromisoformat(settled["settled_at"]) - datetime.fromisoformat(settled["settle_at"])).total_seconds()
        assert 0 <= lateness < 1.0, lateness
        assert settled["version"] == 2
    finally:
        demo.stop(signal.SIGINT)


@pytest.mark.django_db(transaction=True)
def test_it_stops_server_and_worker_on_ctrl_c(tmp_path):
    port = free_port()
    env = child_env(DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}", DEMO_OPERATOR_PASSWORD="x-demo-pass")
    demo = Process("manage.py", "demo", "--port", str(port), env=env, log=tmp_path / "demo.log")
    wait_for(lambda: port_open(port) or not demo.alive(), timeout=30, what="the demo to serve")
    wait_for(lambda: "settlement worker" in demo.output(), timeout=10, what="the worker to start")
    assert demo.stop(signal.SIGINT) == 0, demo.output()
    assert not port_open(port)
    assert re.search(r"settlement worker \S+ stopped", demo.output())


@pytest.mark.django_db
def test_it_generates_the_operator_password_once(settings, tmp_path):
    settings.BASE_DIR = tmp_path
    settings.DEMO_OPERATOR_PASSWORD = ""
    first, generated = operator_ensure()
    again, _ = operator_ensure()
    assert generated and first == again and len(first) >= 12
    from django.contrib.auth import authenticate
    from django.test import RequestFactory

    user = authenticate(RequestFactory().post("/accounts/login/"), username="operator", password=first)
    assert user is not None and user.is_staff
