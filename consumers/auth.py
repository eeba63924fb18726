"""The socket side of the ASGI application: the origin check, Channels' cookie + session +
auth middleware and the URL router, with a short way for a handshake that carries no
session cookie (every checkout page and phone: anonymous).

Channels' stack resolves the user on the one database thread for every socket, and each
layer (origin check, cookies, session, auth, router) keeps a coroutine frame, its own copy
of the scope and a send wrapper alive for the socket's whole life. Without a session
cookie there is nothing to read: the socket gets what that stack would give it (its
cookies, an empty session, the anonymous user, its route) in one scope copy, at once, and
nothing of the entry stays in between (docs/performance.md: a page's connect and its
memory per socket). A handshake with a session cookie, or from an origin the check
refuses, goes through the full stack unchanged.
"""

from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.base import SessionBase
from django.http import parse_cookie
from django.urls import Resolver404
from django.utils.functional import SimpleLazyObject
from django.utils.module_loading import import_string

from consumers.origin import OriginCheck, origin_allowed


def _cookies(scope) -> dict[str, str]:
    """The handshake's cookies, as Channels' CookieMiddleware reads them."""
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            return parse_cookie(value.decode("latin1"))
    return {}


def _empty_session() -> SessionBase:
    return import_string(f"{settings.SESSION_ENGINE}.SessionStore")(None)


class SocketEntry:
    """OriginCheck(AuthMiddlewareStack(URLRouter(routes))), anonymous handshakes in one step."""

    # __call__ is not a coroutine function: it returns the consumer's coroutine (or the full
    # stack's), so no frame of this entry stays alive under the socket. Tell asgiref it is
    # a single-callable ASGI 3 application all the same.
    _asgi_single_callable = True

    def __init__(self, routes) -> None:
        self.router = URLRouter(routes)
        self.full = OriginCheck(AuthMiddlewareStack(self.router))

    def __call__(self, scope, receive, send):
        cookies = _cookies(scope)
        if cookies.get(settings.SESSION_COOKIE_NAME) or scope.get("root_path") or not origin_allowed(scope):
            return self.full(scope, receive, send)
        route = self._route(scope["path"].lstrip("/"))
        if route is None:
            return self.full(scope, receive, send)  # URLRouter says why (no route found)
        application, path_remaining, args, kwargs = route
        scope = dict(
            scope, cookies=cookies, session=SimpleLazyObject(_empty_session), user=AnonymousUser(),
            path_remaining=path_remaining, url_route={"args": args, "kwargs": kwargs},
        )
        return application(scope, receive, send)

    def _route(self, path: str):
        """URLRouter's match for the outermost router: (application, rest, args, kwargs) or None."""
        for route in self.router.routes:
            try:
                match = route.pattern.match(path)
            except Resolver404:  # a converter refused the value: the next route
                continue
            if match:
                path_remaining, args, kwargs = match
                return route.callback, path_remaining, args, {**kwargs, **route.default_args}
        return None
