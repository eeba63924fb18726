"""A MoMo callback receiver for the bench: an aiohttp server on its own thread and loop.

It records when each callback (by `externalId`) first arrived; in `hang` mode it never
answers in time, so every attempt costs the sender its full timeout.
"""

import asyncio
import json
import threading
import time
from typing import Any

from aiohttp import web

from bench.stack import free_port


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/momo/callback"
        self.hang = False
        self.first: dict[str, float] = {}
        self.requests = 0
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.ready.wait(timeout=10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_route("*", "/momo/callback", self._handle)
        runner = web.AppRunner(app, access_log=None)
        self.loop.run_until_complete(runner.setup())
        self.loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port, backlog=4096).start())
        self.ready.set()
        self.loop.run_forever()

    async def _handle(self, request: web.Request) -> web.Response:
        at = time.time()
        body: Any = json.loads(await request.read() or b"null")
        self.requests += 1
        self.first.setdefault((body or {}).get("externalId", ""), at)
        if self.hang:
            await asyncio.sleep(30)  # far past the sender's timeout
        return web.Response(text="ok")

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
