from django.urls import path, re_path

from consumers.checkout import PaymentConsumer
from consumers.dashboard import DashboardConsumer
from consumers.inspector import InspectorConsumer
from consumers.phone import PhoneConsumer


async def unknown_path(scope, receive, send) -> None:
    """Any other path: the handshake is refused (HTTP 403), not a routing error (500)."""
    await receive()  # websocket.connect
    await send({"type": "websocket.close"})


websocket_urlpatterns = [
    path("ws/payments/<uuid:reference>/", PaymentConsumer.as_asgi()),
    path("ws/dashboard/", DashboardConsumer.as_asgi()),
    path("ws/inspector/", InspectorConsumer.as_asgi()),
    re_path(r"^ws/phone/(?P<token>[A-Za-z0-9_-]{1,64})/$", PhoneConsumer.as_asgi()),
    re_path(r"", unknown_path),
]
