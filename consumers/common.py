"""What both consumers share: the query string, the staff check, rendering from the message."""

import json
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


FRAME_MAX_CHARS = 1024
CLOSE_UNSUPPORTED = 1003
CLOSE_TOO_BIG = 1009
NOT_ACCEPTED = json.dumps({"type": "error", "error": "This socket only sends; it accepts no messages."})


async def refuse_frame(consumer: Any, text_data: str | None, bytes_data: bytes | None) -> None:
    """Pages only listen on these sockets. A binary frame closes the socket with 1003, a
    text frame over FRAME_MAX_CHARS with 1009; a JSON socket answers any other text frame
    with an error message, an HTML (htmx) socket ignores it."""
    if bytes_data is not None:
        await consumer.close(code=CLOSE_UNSUPPORTED)
    elif text_data is not None and len(text_data) > FRAME_MAX_CHARS:
        await consumer.close(code=CLOSE_TOO_BIG)
    elif getattr(consumer, "as_json", False):
        await consumer.send(text_data=NOT_ACCEPTED)


class RenderFromMessage:
    """Handlers render from the message's snapshot and never touch the database.

    So skip Channels' per-message close_old_connections() thread hop, which a profile
    showed at a third of the server's CPU; the one query, in connect(), goes through
    database_sync_to_async, which closes stale connections itself.
    (tests/test_framework_patches.py fails if Channels' own dispatch changes.)
    """

    revoked = False

    async def dispatch(self, message: dict[str, Any]) -> None:
        if self.revoked and not message["type"].startswith("websocket."):
            return  # closing for lost rights (consumers/access.py): nothing more goes out
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
