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
from payments.events import DASHBOARD_GROUP  # noqa: E402


async def listen(spec: dict) -> dict:
    expect = set(spec["expect"])
    seen: dict[str, float] = {}
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(DASHBOARD_GROUP, channel)
    stop = asyncio.Event()

    async def count() -> None:
        # Never wrap receive() in a timeout: the pub/sub layer unsubscribes a channel whose
        # receive is cancelled, and drops what arrives until the next receive.
        while True:
            message = await layer.receive(channel)
            payment = message.get("payment") or {}
            ref = payment.get("reference")
            if ref in expect and ref not in seen and payment.get("status") != "processing":
                seen[ref] = round((time.time() - settled_epoch(payment)) * 1000, 3)
                if len(seen) == len(expect):
                    say("DONE", {"seen": len(seen)})

    # Both referenced: the loop holds tasks weakly.
    tasks = [asyncio.ensure_future(count()), asyncio.ensure_future(_stop_on_stdin(stop))]
    say("READY", {"channel": channel})
    try:
        await asyncio.wait_for(stop.wait(), timeout=spec["deadline"])
    except asyncio.TimeoutError:
        pass
    for task in tasks:
        task.cancel()
    return {"mode": "listen", "latency_ms": dict(seen)}


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
