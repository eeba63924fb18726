import gc
import os
import sys

import django
from django.core.exceptions import ImproperlyConfigured

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
# Django must be set up before the consumers (and the models they import) load.
try:
    django.setup(set_prefix=False)  # what get_asgi_application() does, then its handler:
    from dashboard.handler import OneHopASGIHandler

    django_asgi_app = OneHopASGIHandler()  # one thread hop per request (dashboard/handler.py)
except ImproperlyConfigured as exc:  # a configuration mistake: one line, as manage.py says it
    sys.exit(f"configuration error: {exc}")

from channels.routing import ProtocolTypeRouter  # noqa: E402

from django.urls import get_resolver  # noqa: E402

from consumers.auth import SocketEntry  # noqa: E402
from consumers.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # The origin check, cookies, session, user and route (consumers/auth.py).
        "websocket": SocketEntry(websocket_urlpatterns),
    }
)

# What is loaded by now (Django, every module, the URLConf) lives as long as the process:
# out of the collector's sight, so a full collection walks only what came after (sockets,
# requests). In front of 5,000 sockets a full collection paused every push for
# 0.1-0.8 s (docs/performance.md).
get_resolver().url_patterns  # noqa: B018 - imported now, not by the first request
gc.collect()
gc.freeze()
