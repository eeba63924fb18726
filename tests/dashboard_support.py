"""Helpers shared by the dashboard tests: sockets as a given actor, waiting for a message."""

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from channels.testing import WebsocketCommunicator
from django.test import Client

from dashboard.asgi import application

ORIGIN = [(b"origin", b"http://localhost"), (b"host", b"localhost")]


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
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while True:
        try:
            # A receive that times out also stops the application (asgiref's communicator).
            message = await socket.receive_from(timeout=max(0.01, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            raise AssertionError(
                f"timed out after {timeout} s waiting for {what}; {len(seen)} other messages, last: {seen[-2:]}"
            ) from None
        if wanted(message):
            return message, seen
        seen.append(message)


def is_json_type(kind: str) -> Callable[[str], bool]:
    return lambda message: message.startswith("{") and json.loads(message)["type"] == kind
