"""Channels' cookie + session + auth middleware, with a short way for a handshake that
carries no session cookie (every checkout page and phone: anonymous).

Channels' stack resolves the user on the one database thread for every socket, and keeps
three middleware frames, each with its own copy of the scope and a send wrapper, alive for
the socket's whole life. Without a session cookie there is nothing to read: the socket
gets what that stack would give it (its cookies, an empty session, the anonymous user) in
one scope copy, at once (docs/performance.md: a page's connect and its memory per
socket). A handshake with a session cookie goes through Channels' stack unchanged.
"""

from channels.auth import AuthMiddlewareStack
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.base import SessionBase
from django.http import parse_cookie
from django.utils.functional import SimpleLazyObject
from django.utils.module_loading import import_string


def _cookies(scope) -> dict[str, str]:
    """The handshake's cookies, as Channels' CookieMiddleware reads them."""
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            return parse_cookie(value.decode("latin1"))
    return {}


def _empty_session() -> SessionBase:
    return import_string(f"{settings.SESSION_ENGINE}.SessionStore")(None)


class SessionAuth:
    """AuthMiddlewareStack(inner), anonymous handshakes without its hop and its frames."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.full = AuthMiddlewareStack(inner)

    async def __call__(self, scope, receive, send):
        cookies = _cookies(scope)
        if cookies.get(settings.SESSION_COOKIE_NAME):
            return await self.full(scope, receive, send)
        scope = dict(scope, cookies=cookies, session=SimpleLazyObject(_empty_session), user=AnonymousUser())
        return await self.inner(scope, receive, send)
