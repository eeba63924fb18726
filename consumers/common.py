"""What both consumers share: the query string, the staff check, rendering from the message."""

import json
import logging
from typing import Any
from urllib.parse import parse_qsl

from channels.consumer import get_handler_name

from payments.quietlog import QuietLog


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
# A server may not send 1003/1009 (Autobahn, under Daphne, allows 1000 and 3000-4999 only:
# the others made every refused frame a 1011 and a 54-line traceback). The application
# range, numbered after the standard meaning: 4003 unsupported data, 4009 message too big.
CLOSE_UNSUPPORTED = 4003
CLOSE_TOO_BIG = 4009
NOT_ACCEPTED = json.dumps({"type": "error", "error": "This socket only sends; it accepts no messages."})
quiet = QuietLog(logging.getLogger("consumers"), every=10.0)


async def refuse_frame(consumer: Any, text_data: str | None, bytes_data: bytes | None) -> None:
    """Pages only listen on these sockets. A binary frame closes the socket with 4003, a
    text frame over FRAME_MAX_CHARS with 4009 (one log line per 10 s at most, whoever sends
    them); a JSON socket answers any other text frame with an error message, an HTML (htmx)
    socket ignores it."""
    if bytes_data is not None:
        _log_refusal(consumer, "a binary frame", CLOSE_UNSUPPORTED)
        await consumer.close(code=CLOSE_UNSUPPORTED)
    elif text_data is not None and len(text_data) > FRAME_MAX_CHARS:
        _log_refusal(consumer, f"a text frame over {FRAME_MAX_CHARS} characters", CLOSE_TOO_BIG)
        await consumer.close(code=CLOSE_TOO_BIG)
    elif getattr(consumer, "as_json", False):
        await consumer.send(text_data=NOT_ACCEPTED)


def _log_refusal(consumer: Any, what: str, code: int) -> None:
    client = (consumer.scope.get("client") or ["?"])[0]
    quiet.info(f"frame-{code}", "closed a socket (%s) with %d: %s from %s", consumer.scope.get("path", ""), code, what, client)


class RenderFromMessage:
    """Handlers render from the message's snapshot and never touch the database.

    So skip Channels' per-message close_old_connections() thread hop, which a profile
    showed at a third of the server's CPU; the one query, in connect(), goes through
    database_sync_to_async, which closes stale connections itself.
    (tests/domain/test_framework_patches.py fails if Channels' own dispatch changes.)
    """

    revoked = False

    async def dispatch(self, message: dict[str, Any]) -> None:
        if self.revoked and not message["type"].startswith("websocket."):
            return  # closing for lost rights (consumers/access.py): nothing more goes out
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
