"""Count what reaches the `dashboard` group: `python -m bench.listen SPEC.json`.

The throughput run has no browser in the loop; this process joins the channel layer's
dashboard group, as a dashboard consumer would, so "each settlement was pushed" is a
count of messages that arrived, not an assumption. Same READY/DONE/stop protocol as
bench.clients.
"""

import asyncio
import json
import os
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
django.setup()

from channels.layers import get_channel_layer  # noqa: E402

from bench.clients import say, settled_epoch  # noqa: E402
from consumers.broadcast import DASHBOARD_GROUP  # noqa: E402


async def listen(spec: dict) -> dict:
    expect = set(spec["expect"])
    seen: dict[str, float] = {}
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(DASHBOARD_GROUP, channel)
    say("READY", {"channel": channel})
    stop = asyncio.Event()
    reader = asyncio.ensure_future(_stop_on_stdin(stop))  # referenced: the loop holds tasks weakly
    deadline = time.monotonic() + spec["deadline"]
    said_done = False
    while not stop.is_set() and time.monotonic() < deadline:
        try:
            message = await asyncio.wait_for(layer.receive(channel), timeout=0.1)
        except asyncio.TimeoutError:
            continue
        payment = message.get("payment") or {}
        ref = payment.get("reference")
        if ref in expect and ref not in seen and payment.get("status") != "processing":
            seen[ref] = round((time.time() - settled_epoch(payment)) * 1000, 3)
            if not said_done and len(seen) == len(expect):
                say("DONE", {"seen": len(seen)})
                said_done = True
    reader.cancel()
    return {"mode": "listen", "latency_ms": seen}


async def _stop_on_stdin(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while (await reader.readline()).decode().strip() not in ("", "stop"):
        pass
    stop.set()


def main() -> None:
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    result = asyncio.run(listen(spec))
    with open(spec["out"], "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
