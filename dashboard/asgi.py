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
# A young collection every 20,000 allocations, not Python's 700: a request or a connect
# allocates thousands of short-lived objects, and at 700 each one paid for several young
# collections, and for an older one every tenth of those (bench A/B, one Daphne, MoMo
# calls 8 in flight, two alternated rounds: status 4.06 / 3.94 -> 2.86 / 2.50 ms of CPU
# per call, request to pay 7.79 / 5.82 -> 5.14 / 4.88 ms, LiveSettle's JSON 404 2.19 /
# 1.74 -> 1.67 / 1.52 ms). What stays alive still reaches the older generations as before.
gc.set_threshold(20_000, *gc.get_threshold()[1:])
