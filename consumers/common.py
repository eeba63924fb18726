"""What both consumers share: the query string, the staff check, rendering from the message."""

from typing import Any
from urllib.parse import parse_qsl

from channels.consumer import get_handler_name


def query(scope: dict[str, Any]) -> dict[str, str]:
    """The socket URL's query string; of a repeated name, the first value counts."""
    params: dict[str, str] = {}
    for name, value in parse_qsl(scope.get("query_string", b"").decode("latin-1")):
        params.setdefault(name, value)
    return params


def wants_json(scope: dict[str, Any]) -> bool:
    return query(scope).get("format") == "json"


def is_staff(scope: dict[str, Any]) -> bool:
    user = scope.get("user")
    return bool(user is not None and user.is_authenticated and user.is_staff)


class RenderFromMessage:
    """Handlers render from the message's snapshot and never touch the database.

    So skip Channels' per-message close_old_connections() thread hop, which a profile
    showed at a third of the server's CPU; the one query, in connect(), goes through
    database_sync_to_async, which closes stale connections itself.
    (tests/test_framework_patches.py fails if Channels' own dispatch changes.)
    """

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
