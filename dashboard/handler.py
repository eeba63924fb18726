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

A MoMo call (any path under MTN's prefixes) is also served whole in that one hop: the
request_started signal, the chain and the view, then closing the answer (request_finished),
where Django makes a hop of each, and with no disconnect listener racing it (a synchronous
view runs to its end anyway): two thread hops fewer per call, and their tasks. Its answers
are never streamed (JSON or empty), so closing one before it is sent changes nothing.
That hop goes to a thread kept between calls, as a WSGI server's are, not to a thread made
for the call and joined after it (Django's ThreadSensitiveContext): making and joining one
cost ~0.4 ms of CPU per call, more than the two other hops together.
A call still has its thread to itself, start to end; its database connection goes back at
request_finished as before.

A MoMo call without a session cookie (an integration's server) takes the chain of
settings.MOMO_MIDDLEWARE: the same answer without the session, auth, CSRF, messages and
axes objects built for every request. A browser's call (with its session cookie, from the
API docs say) takes the whole chain, as every other path does.
"""

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import BaseHandler
from django.http import HttpRequest, HttpResponseBase
from django.urls import set_script_prefix

from momo.urls import PREFIX

# Calls served at once per process: past it a call waits for a thread. Above the database
# pool (DB_POOL_MAX_SIZE, 8), which bounds the calls that read or write anyway.
MOMO_THREADS = 64
_momo_threads = ThreadPoolExecutor(max_workers=MOMO_THREADS, thread_name_prefix="momo-call")


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

    async def handle(self, scope: dict[str, Any], receive, send) -> None:
        if not PREFIX.match(scope["path"]):
            return await super().handle(scope, receive, send)
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        try:
            response = await sync_to_async(self.serve_whole, thread_sensitive=False, executor=_momo_threads)(
                scope, body_file)
            await self.send_response(response, send)
        finally:
            body_file.close()

    def serve_whole(self, scope: dict[str, Any], body_file) -> HttpResponseBase:
        """What Django's handle() does on three thread hops, on one: the answer, closed."""
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, response = self.create_request(scope, body_file)
        if request is not None:
            response = self.chain_for(request).get_response(request)
        response._handler_class = self.__class__  # the sender of request_finished, as Django's
        response.close()
        return response
