"""Django's ASGI handler, with the middleware and the view on one thread hop per request,
and a leaner middleware chain for MoMo calls.

Django's own ASGI handler builds an async middleware chain: with any synchronous
middleware in it (most of Django's, and ours) a request hops event loop -> thread (the
sync middlewares) -> event loop (the async core) -> thread (the view), each hop copying
the request's context back and forth: a profile of LiveSettle's JSON 404 put half its
CPU over a bare view there (docs/performance.md). This handler runs the synchronous
chain instead, Django's WSGI path: one `sync_to_async` per request for middleware, view
and response, on the request's own thread (ThreadSensitiveContext), as before. Every
middleware here supports sync mode, and an async view still works (Django wraps it).

A MoMo call without a session cookie (an integration's server) takes the chain of
settings.MOMO_MIDDLEWARE: the same answer without the session, auth, CSRF, messages and
axes objects built for every request. A browser's call (with its session cookie, from the
API docs say) takes the whole chain, as every other path does.
"""

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler
from django.http import HttpRequest, HttpResponseBase

from momo.urls import PREFIX


class MomoChain(BaseHandler):
    """settings.MOMO_MIDDLEWARE's chain (its view and exception middleware too)."""

    def load_middleware(self, is_async: bool = False) -> None:
        # Django builds a chain from settings.MIDDLEWARE only: lend it the MoMo list while
        # it does (once, at start-up).
        whole = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.MOMO_MIDDLEWARE
        try:
            super().load_middleware(is_async=False)
        finally:
            settings.MIDDLEWARE = whole


class OneHopASGIHandler(ASGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)
        self.momo = MomoChain()
        self.momo.load_middleware()

    def chain_for(self, request: HttpRequest) -> BaseHandler:
        if PREFIX.match(request.path) and settings.SESSION_COOKIE_NAME not in request.COOKIES:
            return self.momo
        return self

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        return await sync_to_async(self.chain_for(request).get_response, thread_sensitive=True)(request)
