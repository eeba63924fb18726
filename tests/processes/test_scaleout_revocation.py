"""An operator's dashboard socket on one Daphne process closes (4401) within seconds when
the operator logs out through another process, or is demoted by another process, and gets
no payment after that (Redis layer, PostgreSQL)."""

import asyncio
import json
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.support import async_wait_for
from tests.support.scaleout import post_as_operator

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]

CLOSE_REVOKED = 4401
REVOKED_WITHIN = 5.0  # seconds: the event path takes milliseconds, the re-check backstop 3 s


class Dashboard:
    """A JSON dashboard socket that records what it received and how it closed."""

    def __init__(self, server, session: str) -> None:
        self.url = f"{server.ws_url}/ws/dashboard/?format=json"
        self.headers = {"Origin": server.base_url, "Cookie": f"sessionid={session}"}
        self.references: list[str] = []
        self.closed_at: float | None = None
        self.close_code: int | None = None
        self.task: asyncio.Task | None = None

    async def open(self) -> None:
        self.socket = await connect(self.url, additional_headers=self.headers, open_timeout=10)
        assert json.loads(await asyncio.wait_for(self.socket.recv(), 10))["type"] == "snapshot"
        self.task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.socket:
                message = json.loads(raw)
                if message["type"] == "payment":
                    self.references.append(message["payment"]["reference"])
        except ConnectionClosed:
            pass
        self.closed_at = time.monotonic()
        self.close_code = self.socket.close_code



def logout(server, session: str) -> int:
    """POST /accounts/logout/ as the browser does it: with the session and the CSRF token."""
    return post_as_operator(server, session, "/accounts/logout/")[0]


async def revoked_and_silent(stack, server_a, server_b, revoke) -> None:
    mine, other = stack.operator_session(), stack.operator_session()
    revoked, bystander = Dashboard(server_b, mine), Dashboard(server_b, other)
    await revoked.open()
    await bystander.open()
    before = (await asyncio.to_thread(server_a.create_payment))["reference"]
    await async_wait_for(lambda: before in revoked.references, timeout=10, what="a payment while signed in")

    started = time.monotonic()
    await asyncio.to_thread(revoke, mine)
    await async_wait_for(lambda: revoked.closed_at is not None, timeout=REVOKED_WITHIN + 5, what="the socket to close")
    assert revoked.close_code == CLOSE_REVOKED
    assert revoked.closed_at - started < REVOKED_WITHIN

    after = (await asyncio.to_thread(server_a.create_payment))["reference"]
    return after, revoked, bystander


def test_it_closes_a_dashboard_on_another_process_when_its_operator_logs_out(
    pg_database, private_redis, stack_factory
):
    stack = stack_factory(pg_database, private_redis.url)
    server_a, server_b = stack.server("daphne-a"), stack.server("daphne-b")

    async def scenario() -> None:
        after, revoked, other_session = await revoked_and_silent(
            stack, server_a, server_b, lambda session: assert_status(logout(server_a, session), 302)
        )
        # The operator's other session (another browser) is still signed in and still live:
        # once it has the new payment, the closed socket has had every chance to get it too.
        await async_wait_for(lambda: after in other_session.references, timeout=10, what="the other session's push")
        assert after not in revoked.references
        await other_session.socket.close()

    asyncio.run(scenario())


def test_it_closes_a_dashboard_on_another_process_when_its_operator_is_demoted(
    pg_database, private_redis, stack_factory
):
    stack = stack_factory(pg_database, private_redis.url)
    server_a, server_b = stack.server("daphne-a"), stack.server("daphne-b")
    stack.script(
        "from django.contrib.auth import get_user_model\n"
        "get_user_model().objects.create_user('watcher', password='wa-pass-123', is_staff=True)\n"
    )
    watcher = stack.session_of("watcher")

    def demote(_session: str) -> None:
        # Another process (as the admin or a shell would): a User save with is_staff off.
        stack.script(
            "from django.contrib.auth import get_user_model\n"
            "user = get_user_model().objects.get(username='operator')\n"
            "user.is_staff = False\n"
            "user.save()\n"
        )

    async def scenario() -> None:
        third = Dashboard(server_a, watcher)  # another operator, still staff
        await third.open()
        after, revoked, same_user_other_session = await revoked_and_silent(stack, server_a, server_b, demote)
        await async_wait_for(lambda: after in third.references, timeout=10, what="the other operator's push")
        assert after not in revoked.references
        # Demotion ends every session of that user, not just one.
        await async_wait_for(
            lambda: same_user_other_session.closed_at is not None,
            timeout=REVOKED_WITHIN, what="the user's other socket to close",
        )
        assert same_user_other_session.close_code == CLOSE_REVOKED
        await third.socket.close()

    asyncio.run(scenario())


def assert_status(status: int, expected: int) -> None:
    assert status == expected, status
