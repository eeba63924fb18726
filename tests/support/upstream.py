"""Pointing the `momo` provider at a fake upstream (pytest-httpserver) in unit tests."""


API_USER = "3f2b6a1c-8d4e-4f5a-9b7c-2e1d0a9f8b7c"
API_KEY = "0123456789abcdef0123456789abcdef"
SUBSCRIPTION_KEY = "f" * 32


def use_upstream(settings, httpserver, *, callback_base: str = "http://127.0.0.1:9") -> None:
    """This test's process becomes a MoMo client of `httpserver`."""
    settings.PAYMENT_PROVIDER = "momo"
    settings.MOMO_UPSTREAM_URL = httpserver.url_for("").rstrip("/")
    settings.MOMO_UPSTREAM_SUBSCRIPTION_KEY = SUBSCRIPTION_KEY
    settings.MOMO_UPSTREAM_API_USER = API_USER
    settings.MOMO_UPSTREAM_API_KEY = API_KEY
    settings.MOMO_UPSTREAM_ENVIRONMENT = "sandbox"
    settings.MOMO_CALLBACK_BASE = callback_base


# --- two real processes: B (a LiveSettle simulator serving the MoMo API), A (its client) --

import sqlite3  # noqa: E402
import uuid  # noqa: E402
from datetime import datetime  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from tests.support import ServerProcess, child_env, free_port, http_json, manage  # noqa: E402

B_SUBSCRIPTION_KEY = "b" * 32


class Upstream(ServerProcess):
    """B: `manage.py demo` in simulator mode on a SQLite file of its own, serving the MoMo
    API; `provision()` makes the API user A logs in with, as any MoMo client would."""

    def __init__(self, tmp_path: Path, *, timeout: float, success_rate: float = 1.0, **env: str) -> None:
        port = free_port()
        self.db_path = tmp_path / f"upstream-{port}.sqlite3"
        super().__init__(
            "manage.py", "demo", "--port", str(port), "--timeout", str(timeout), "--success-rate", str(success_rate),
            "--interval", "1",
            env=child_env(
                DATABASE_URL=f"sqlite:///{self.db_path}", DEMO_OPERATOR_PASSWORD="op-pass-123",
                MOMO_SUBSCRIPTION_KEY=B_SUBSCRIPTION_KEY, PAYMENT_PROVIDER="simulator", **env,
            ),
            log=tmp_path / f"upstream-{port}.log",
            port=port,
        )
        self.start()

    def provision(self, callback_host: str = "127.0.0.1") -> tuple[str, str]:
        user = str(uuid.uuid4())
        key_header = {"Ocp-Apim-Subscription-Key": B_SUBSCRIPTION_KEY}
        status, body = http_json(
            "POST", f"{self.base_url}/v1_0/apiuser", {"providerCallbackHost": callback_host},
            {**key_header, "X-Reference-Id": user},
        )
        assert status == 201, (status, body)
        status, body = http_json("POST", f"{self.base_url}/v1_0/apiuser/{user}/apikey", None, key_header)
        assert status == 201, (status, body)
        return user, body["apiKey"]

    def faults(self, **changes: Any) -> None:
        """B's live callback and fault settings (issue 12), as its operator would change them."""
        manage("callback_settings", *(f"{name}={value}" for name, value in changes.items()), env=self.env)

    def rows(self, sql: str, *args: Any) -> list[tuple]:
        with sqlite3.connect(self.db_path, timeout=30) as db:
            return db.execute(sql, args).fetchall()

    def payments_with(self, reference: Any) -> int:
        """Payments B holds under this reference (its column is the UUID without dashes)."""
        return self.rows("SELECT count(*) FROM payments_payment WHERE reference = ?", uuid.UUID(str(reference)).hex)[0][0]

    def payment(self, reference: Any) -> dict[str, Any]:
        status, body = http_json("GET", f"{self.base_url}/api/payments/{reference}/")
        assert status == 200, (status, body)
        return body

    def settled_at(self, reference: Any) -> float | None:
        settled = self.payment(reference)["settled_at"]
        return datetime.fromisoformat(settled).timestamp() if settled else None


class Client(ServerProcess):
    """A: `manage.py demo` with PAYMENT_PROVIDER=momo pointed at B, on the pytest database."""

    def __init__(self, tmp_path: Path, upstream: Upstream, *, database_url: str, callback_base: str | None = None,
                 credentials: tuple[str, str] | None = None, **env: str) -> None:
        port = free_port()
        user, key = credentials or upstream.provision()
        super().__init__(
            "manage.py", "demo", "--port", str(port), "--interval", "1",
            env=child_env(
                DATABASE_URL=database_url, DEMO_OPERATOR_PASSWORD="op-pass-123",
                PAYMENT_PROVIDER="momo", MOMO_UPSTREAM_URL=upstream.base_url,
                MOMO_UPSTREAM_SUBSCRIPTION_KEY=B_SUBSCRIPTION_KEY, MOMO_UPSTREAM_API_USER=user,
                MOMO_UPSTREAM_API_KEY=key, MOMO_UPSTREAM_ENVIRONMENT="sandbox",
                MOMO_CALLBACK_BASE=callback_base or f"http://127.0.0.1:{port}", **env,
            ),
            log=tmp_path / f"client-{port}.log",
            port=port,
        )
        self.start()
