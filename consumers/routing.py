from django.urls import path

from consumers.checkout import PaymentConsumer

websocket_urlpatterns = [
    path("ws/payments/<uuid:reference>/", PaymentConsumer.as_asgi()),
]
