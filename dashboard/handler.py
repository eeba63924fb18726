"""Django's ASGI handler, with the middleware and the view on one thread hop per request.

Django's own ASGI handler builds an async middleware chain: with any synchronous
middleware in it (most of Django's, and ours) a request hops event loop -> thread (the
sync middlewares) -> event loop (the async core) -> thread (the view), each hop copying
the request's context back and forth: a profile of LiveSettle's JSON 404 put half its
CPU over a bare view there (docs/performance.md). This handler runs the synchronous
chain instead, Django's WSGI path: one `sync_to_async` per request for middleware, view
and response, on the request's own thread (ThreadSensitiveContext), as before. Every
middleware here supports sync mode, and an async view still works (Django wraps it).
"""

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest, HttpResponseBase


class OneHopASGIHandler(ASGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)
