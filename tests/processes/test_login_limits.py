"""Brute force on every login path: /accounts/login/, /admin/login/ (django-axes, per real
client address, in the shared cache), and no HTTP Basic password path on the API at all.
The demo operator's password passes Django's validators or the demo refuses to start.
"""

import base64
import sqlite3
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from payments.services import OperatorPasswordRejected, operator_ensure, payment_create
from tests.support import child_env, free_port, manage
from tests.support.two_servers import Browser, stop_all, two_daphnes

LOGIN_PATHS = ["/accounts/login/", "/admin/login/"]


def attempt(client: Client, path: str, password: str, **headers):
    return client.post(path, {"username": "operator", "password": password}, **headers)


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.django_db
@pytest.mark.parametrize("path", LOGIN_PATHS)
@pytest.mark.parametrize("proxies, appended", [(0, None), (1, "127.0.0.1")], ids=["direct", "behind-nginx"])
def test_it_locks_out_a_password_guesser_even_with_the_right_password(client, operator, settings, path, proxies, appended):
    settings.TRUSTED_PROXY_COUNT = proxies

    def spoofed(i: int) -> dict[str, str]:
        return {"HTTP_X_FORWARDED_FOR": f"198.51.100.{i + 1}" + (f", {appended}" if appended else "")}

    guesses = [attempt(client, path, f"guess-{i}", **spoofed(i)).status_code for i in range(settings.AXES_FAILURE_LIMIT)]
    assert guesses[:-1] == [200] * (settings.AXES_FAILURE_LIMIT - 1)
    assert guesses[-1] == 429  # the limit-th failure locks
    locked = attempt(client, path, "op-pass-123", **spoofed(99))
    assert locked.status_code == 429
    assert "Too many login attempts" in locked.content.decode()
    assert not signed_in(client)
    operator.refresh_from_db()
    assert operator.last_login is None


@pytest.mark.django_db
def test_it_counts_both_login_pages_together_and_spares_other_devices(operator, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    guesser, presenter = Client(HTTP_X_FORWARDED_FOR="203.0.113.9"), Client(HTTP_X_FORWARDED_FOR="203.0.113.10")
    for i in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt(guesser, LOGIN_PATHS[i % 2], f"guess-{i}")
    assert attempt(guesser, "/admin/login/", "guess-last").status_code == 429
    assert attempt(guesser, "/accounts/login/", "op-pass-123").status_code == 429
    # Locked per address: the presenter on another device still logs in.
    assert attempt(presenter, "/accounts/login/", "op-pass-123").status_code == 302
    assert signed_in(presenter) and not signed_in(guesser)


@pytest.mark.django_db
def test_it_forgets_failures_after_a_good_login(client, operator, settings):
    for i in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt(client, "/accounts/login/", f"typo-{i}")
    assert attempt(client, "/accounts/login/", "op-pass-123").status_code == 302
    client.logout()
    assert attempt(client, "/accounts/login/", "typo-again").status_code == 200  # counting from zero


@pytest.mark.django_db
def test_it_takes_no_basic_auth_password_on_the_api(client, operator):
    payment = payment_create(amount=Decimal("5.00"), currency="EUR", phone_number="46733123499")
    basic = "Basic " + base64.b64encode(b"operator:op-pass-123").decode()
    listed = client.get("/api/payments/", HTTP_AUTHORIZATION=basic)
    forced = client.post(
        f"/api/payments/{payment.reference}/complete/", {"outcome": "failed"},
        content_type="application/json", HTTP_AUTHORIZATION=basic,
    )
    assert listed.status_code == 403 and forced.status_code == 403
    assert "WWW-Authenticate" not in listed.headers  # nothing invites a password here
    payment.refresh_from_db()
    assert payment.status == "processing" and payment.version == 1


@pytest.mark.slow
def test_it_locks_out_across_two_daphnes_sharing_redis(transactional_db, redis_url, tmp_path):
    get_user_model().objects.create_user("operator", password="op-pass-123", is_staff=True)
    servers = two_daphnes(tmp_path, redis_url, TRUSTED_PROXY_COUNT="1", LOGIN_FAILURE_LIMIT="3")
    try:
        browser = Browser()
        codes = []
        for i, password in enumerate(["guess-1", "guess-2", "guess-3", "op-pass-123"]):
            headers = {"X-Forwarded-For": f"198.51.100.{i + 1}, 127.0.0.1"}
            url = servers[i % 2].base_url + LOGIN_PATHS[i % 2]
            codes.append(browser.submit(url, {"username": "operator", "password": password}, headers)[0])
        assert codes == [200, 200, 429, 429]
        assert get_user_model().objects.get(username="operator").last_login is None
    finally:
        stop_all(servers)


# --- the demo operator ---------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("weak", ["password", "operator1", "12345678901", "short1"])
def test_it_refuses_a_weak_demo_operator_password(settings, weak):
    settings.DEMO_OPERATOR_PASSWORD = weak
    with pytest.raises(OperatorPasswordRejected, match="^DEMO_OPERATOR_PASSWORD is refused: "):
        operator_ensure()
    assert not get_user_model().objects.exists()


def test_it_says_so_in_one_line_when_the_demo_gets_a_weak_password(tmp_path):
    database = tmp_path / "demo.sqlite3"
    env = child_env(DATABASE_URL=f"sqlite:///{database}", DEMO_OPERATOR_PASSWORD="password")
    result = manage("demo", "--port", str(free_port()), env=env, check=False)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == ["CommandError: DEMO_OPERATOR_PASSWORD is refused: This password is too common."]
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT count(*) FROM auth_user").fetchone() == (0,)


@pytest.mark.django_db
def test_it_names_the_demo_operator_from_the_environment(settings):
    settings.DEMO_OPERATOR_USERNAME = "presenter"
    settings.DEMO_OPERATOR_PASSWORD = "a-long-enough-pass"
    operator_ensure()
    user = get_user_model().objects.get()
    assert user.username == "presenter" and user.is_staff and user.check_password("a-long-enough-pass")
