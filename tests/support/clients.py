"""Helpers shared by the dashboard tests: sockets as a given actor, waiting for a message."""

import json
from collections.abc import Callable
from typing import Any

from channels.testing import WebsocketCommunicator
from django.test import Client

from dashboard.asgi import application
from tests.support import async_wait_for

ORIGIN = [(b"origin", b"http://localhost"), (b"host", b"localhost")]


def logged_in(user: Any, *, csrf: bool = False) -> Client:
    """A browser signed in as `user`; `csrf`: it must send the CSRF token, as a real one does."""
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def headers_for(client: Client | None) -> list[tuple[bytes, bytes]]:
    """The handshake headers of a browser with `client`'s session (None: anonymous)."""
    if client is None or "sessionid" not in client.cookies:
        return ORIGIN
    return [*ORIGIN, (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())]


async def open_dashboard(client: Client | None, query: str = "") -> tuple[WebsocketCommunicator, bool, Any]:
    socket = WebsocketCommunicator(application, f"/ws/dashboard/{query}", headers=headers_for(client))
    connected, code = await socket.connect(timeout=5)
    return socket, connected, code


async def receive_until(
    socket: WebsocketCommunicator, wanted: Callable[[str], bool], *, timeout: float = 5, what: str = "a message"
) -> tuple[str, list[str]]:
    """Receive until a message satisfies `wanted` or the deadline passes; returns it and all before it."""
    seen: list[str] = []

    async def arrived() -> tuple[str] | None:
        message = await socket.receive_from(timeout=timeout)  # async_wait_for's deadline bounds it
        if wanted(message):
            return (message,)
        seen.append(message)
        return None

    try:
        (message,) = await async_wait_for(arrived, timeout=timeout, interval=0, what=what)
    except AssertionError as timed_out:
        raise AssertionError(f"{timed_out}; {len(seen)} other messages, last: {seen[-2:]}") from None
    return message, seen


def is_json_type(kind: str) -> Callable[[str], bool]:
    return lambda message: message.startswith("{") and json.loads(message)["type"] == kind
