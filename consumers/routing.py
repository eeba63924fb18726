from django.urls import path

from consumers.checkout import PaymentConsumer
from consumers.dashboard import DashboardConsumer

websocket_urlpatterns = [
    path("ws/payments/<uuid:reference>/", PaymentConsumer.as_asgi()),
    path("ws/dashboard/", DashboardConsumer.as_asgi()),
]
