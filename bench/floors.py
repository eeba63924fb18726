"""The framework's own floors, served by the same Daphne as LiveSettle (bench runs only).

The bench starts Daphne with `bench.floors:application` instead of
`dashboard.asgi:application`: every path is LiveSettle's, except
- `GET /floor/bare/`: a plain Django JSON view through a handler with NO middleware and a
  one-path URLConf (this module): what Django + Daphne alone cost per request;
- `ws /ws/floor/`: a bare Channels consumer that accepts and sends nothing (the default
  channel layer, as any consumer gets): what Channels + Daphne alone cost per socket.
The third floor needs nothing here: `GET /api/floor/` is LiveSettle's own JSON 404 under
/api/, through its whole middleware stack.
"""

from channels.generic.websocket import AsyncWebsocketConsumer
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, JsonResponse
from django.urls import path, set_urlconf

from bench.stack import BARE_HTTP, BARE_WS
from dashboard.asgi import application as site  # sets Django up


def bare_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


urlpatterns = [path(BARE_HTTP.strip("/") + "/", bare_view)]


class BareHandler(ASGIHandler):
    """Django's ASGI handler with an empty middleware chain and this module's URLConf."""

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        self._middleware_chain = convert_exception_to_response(self._get_response_async)

    async def get_response_async(self, request: HttpRequest):
        set_urlconf(__name__)
        request.urlconf = __name__
        response = await self._middleware_chain(request)
        response._resource_closers.append(request.close)
        return response


class BareConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        await self.accept()


bare_http = BareHandler()
bare_ws = BareConsumer.as_asgi()


async def application(scope, receive, send):
    if scope["type"] == "http" and scope["path"] == BARE_HTTP:
        return await bare_http(scope, receive, send)
    if scope["type"] == "websocket" and scope["path"] == BARE_WS:
        return await bare_ws(scope, receive, send)
    return await site(scope, receive, send)
