"""Channels' session + auth middleware stack, without a database hop for a handshake
that carries no session.

Channels' AuthMiddleware resolves the user on the one database thread for every socket:
a checkout page or a phone (no session cookie) waited its turn there only to be told it is
anonymous, before its own snapshot read queued on the same thread. With no session key
there is nothing to read: the user is anonymous at once. A cookie still goes the usual way.
"""

from channels.auth import AuthMiddleware
from channels.sessions import CookieMiddleware, SessionMiddleware
from django.contrib.auth.models import AnonymousUser


class SessionAuthMiddleware(AuthMiddleware):
    async def resolve_scope(self, scope) -> None:
        if scope["session"].session_key is None:
            scope["user"]._wrapped = AnonymousUser()
            return
        await super().resolve_scope(scope)


def auth_stack(inner):
    """AuthMiddlewareStack, with the anonymous handshake resolved without a hop."""
    return CookieMiddleware(SessionMiddleware(SessionAuthMiddleware(inner)))
