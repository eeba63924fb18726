"""LiveSettle's settings with the framework floors mounted (bench/floors.py): the embedded
demo serves settings.ASGI_APPLICATION, so the bench points it here. Bench runs only."""

from dashboard.settings import *

ASGI_APPLICATION = "bench.floors.application"
