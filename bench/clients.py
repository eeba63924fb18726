"""Load-generating client processes: `python -m bench.clients SPEC.json`.

Separate processes from the server, loopback only. The protocol with the orchestrator:
- it prints `READY {json}` once its connections are open (and again after each `add N`),
- `DONE {json}` once every payment in `expect` has been seen final,
- on `stop` (stdin), stdin closing, or its hard deadline it writes its results to
  `spec["out"]` and exits.

Modes: `waiters` (one checkout socket per payment), `pollers` (GET the payment every
`period` s, as a polling page would), `dashboards` (staff dashboard sockets),
`holders` (idle sockets, added in steps by `add N`, all opened again on `reconnect PORT`
after a server restart).
"""

import asyncio
import json
import random
import re
import sys
import time
from datetime import datetime
from typing import Any

import aiohttp
from websockets.asyncio.client import connect

# Handshakes in flight per client process: enough to keep one Daphne busy. At 50 the
# checkout pages, whose handshake waits for their group join and their batched snapshot
# read, were held back by their own round trips (docs/performance.md, "Connects in
# alternated turns"); far deeper only queues towards Daphne's 5 s connect timeout.
CONNECT_CONCURRENCY = 100
# A dashboard row (templates/dashboard/dashboard.html#row) in a final state.
FINAL_ROW = re.compile(r'id="row-([0-9a-f-]{36})"[^>]*data-status="(successful|failed)"')


def settled_epoch(payment: dict[str, Any]) -> float | None:
    value = payment.get("settled_at")
    return datetime.fromisoformat(value).timestamp() if value else None


def payments_in(message: Any) -> list[dict[str, Any]]:
    """Every payment snapshot in a message, whatever frame it comes in (single or batched)."""
    if isinstance(message, dict):
        if "reference" in message and "status" in message:
            return [message]
        return [p for value in message.values() for p in payments_in(value)]
    if isinstance(message, list):
        return [p for value in message for p in payments_in(value)]
    return []


def say(kind: str, body: dict[str, Any]) -> None:
    sys.stdout.write(f"{kind} {json.dumps(body)}\n")
    sys.stdout.flush()


class Run:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.port = spec["port"]
        self.expect = set(spec.get("expect", []))
        self.seen: dict[str, float] = {}  # reference -> latency in ms (first final seen)
        self.received = 0
        self.connected = 0
        self.failed: list[str] = []
        self.closed_early = 0
        self.stop = asyncio.Event()
        self.sockets: list[Any] = []
        self.background: list[asyncio.Future] = []
        self.open_refs: set[str] = set()  # waiters whose socket opened
        self.arrivals: dict[str, float] = {}  # HTML dashboards: "<n>:<reference>" -> receive epoch

    # --- shared --------------------------------------------------------------------

    def ws_options(self) -> dict[str, Any]:
        headers = {"Cookie": self.spec["cookie"]} if self.spec.get("cookie") else None
        # No client pings (the server's keep-alive is what we measure), no compression
        # (Daphne negotiates none), no proxy from the environment: loopback only.
        return dict(
            origin=f"http://127.0.0.1:{self.port}",
            additional_headers=headers,
            compression=None,
            ping_interval=None,
            proxy=None,
            open_timeout=60,
            max_queue=None,
        )

    def note_final(self, key: str, payment: dict[str, Any], received_at: float) -> None:
        settled = settled_epoch(payment)
        if settled is None or key in self.seen:
            return
        self.seen[key] = round((received_at - settled) * 1000, 3)

    def expect_met(self) -> bool:
        if self.spec["mode"] == "waiters":  # a page that never connected waits for nothing
            return (self.expect & self.open_refs).issubset(self.seen)
        return self.expect.issubset(self.seen)

    async def open(self, path: str, semaphore: asyncio.Semaphore):
        async with semaphore:
            try:
                ws = await connect(f"ws://127.0.0.1:{self.port}{path}", **self.ws_options())
            except Exception as exc:
                self.failed.append(type(exc).__name__)
                return None
            self.connected += 1
            return ws

    # --- waiters: one checkout page per payment ------------------------------------

    async def waiter(self, reference: str, semaphore: asyncio.Semaphore, ready: list[int]) -> None:
        ws = await self.open(f"/ws/payments/{reference}/?format=json", semaphore)
        ready.append(1)
        if ws is None:
            return
        self.open_refs.add(reference)
        try:
            async for text in ws:
                now = time.time()
                self.received += 1
                for payment in payments_in(json.loads(text)):
                    if payment["status"] != "processing":
                        self.note_final(payment["reference"], payment, now)
        except Exception:
            pass
        if not self.stop.is_set():
            self.closed_early += 1

    # --- dashboards: every dashboard must see every settlement ---------------------

    async def dashboard(self, index: int, semaphore: asyncio.Semaphore, ready: list[int]) -> None:
        """JSON (`?format=json`) or the HTML frames a browser gets; both count final rows."""
        html = self.spec.get("html", False)
        ws = await self.open("/ws/dashboard/" if html else "/ws/dashboard/?format=json", semaphore)
        ready.append(1)
        if ws is None:
            return
        first = self.spec["first"]  # dashboards are numbered across client processes
        try:
            async for text in ws:
                now = time.time()
                self.received += 1
                if html:
                    for ref, status in FINAL_ROW.findall(text):
                        if ref in self.expect:
                            # No settled_at in the HTML: the orchestrator subtracts it.
                            self.arrivals.setdefault(f"{first + index}:{ref}", now)
                    continue
                for payment in payments_in(json.loads(text)):
                    ref = payment["reference"]
                    if payment["status"] != "processing" and ref in self.expect:
                        self.note_final(f"{first + index}:{ref}", payment, now)
        except Exception:
            pass
        if not self.stop.is_set():
            self.closed_early += 1

    def dashboards_met(self) -> bool:
        return len(self.seen) + len(self.arrivals) >= len(self.expect) * self.connected

    # --- pollers: the 2 s polling baseline -----------------------------------------

    async def poller(self, session: aiohttp.ClientSession, reference: str, offset: float, stats: dict) -> None:
        period = self.spec["period"]
        url = f"http://127.0.0.1:{self.port}/api/payments/{reference}/"
        start = time.monotonic() + offset
        tick = 0
        while not self.stop.is_set():
            delay = start + tick * period - time.monotonic()
            tick += 1
            if delay > 0:
                try:
                    await asyncio.wait_for(self.stop.wait(), timeout=delay)
                    return
                except asyncio.TimeoutError:
                    pass
            sent = time.monotonic()
            try:
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=30)) as response:
                    payment = await response.json() if response.status == 200 else None
            except Exception as exc:
                stats["errors"] += 1
                stats["error_kinds"][type(exc).__name__] = stats["error_kinds"].get(type(exc).__name__, 0) + 1
                continue
            now = time.time()
            stats["requests"] += 1
            stats["request_ms"].append(round((time.monotonic() - sent) * 1000, 2))
            if payment is None:
                stats["errors"] += 1
                kind = f"HTTP {response.status}"
                stats["error_kinds"][kind] = stats["error_kinds"].get(kind, 0) + 1
                continue
            if payment["status"] != "processing":
                self.note_final(reference, payment, now)
                return  # the page stops polling at a final state

    async def run_pollers(self) -> dict[str, Any]:
        refs = self.spec["refs"]
        stats: dict[str, Any] = {"requests": 0, "errors": 0, "error_kinds": {}, "request_ms": []}
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            # First polls at random points of one period, as pages opened at random times
            # would (evenly spaced offsets would phase-lock with the evenly spaced settlements).
            rng = random.Random(len(refs))
            tasks = [
                asyncio.ensure_future(self.poller(session, ref, rng.uniform(0, self.spec["period"]), stats))
                for ref in refs
            ]
            say("READY", {"pollers": len(refs)})
            await self.wait_for_stop(self.expect_met)
            self.stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
        request_ms = sorted(stats.pop("request_ms"))
        stats["request_ms_p50"] = request_ms[len(request_ms) // 2] if request_ms else None
        stats["request_ms_p99"] = request_ms[int(len(request_ms) * 0.99)] if request_ms else None
        return stats

    # --- holders: idle sockets, added in steps -------------------------------------

    def holder_path(self, index: int) -> str:
        """A checkout page's socket, or (`"bare": true`) the bare consumer of bench/floors.py."""
        if self.spec.get("bare"):
            return "/ws/floor/"
        refs = self.spec["refs"]
        return f"/ws/payments/{refs[index % len(refs)]}/?format=json"

    async def hold(self, index: int, semaphore: asyncio.Semaphore):
        """Open one socket; a checkout page counts as open once its snapshot arrived."""
        ws = await self.open(self.holder_path(index), semaphore)
        if ws is not None and not self.spec.get("bare"):
            try:
                async with asyncio.timeout(60):  # no task per page, as wait_for makes
                    await ws.recv(decode=False)
                self.received += 1
            except Exception as exc:
                self.failed.append(f"no snapshot: {type(exc).__name__}")
                return None
        return ws

    async def add_holders(self, count: int) -> dict[str, Any]:
        semaphore = asyncio.Semaphore(CONNECT_CONCURRENCY)
        before, failed_before = self.connected, len(self.failed)
        started = time.monotonic()
        opened = await asyncio.gather(*[self.hold(len(self.sockets) + i, semaphore) for i in range(count)])
        elapsed = time.monotonic() - started
        for ws in opened:
            if ws is not None:
                self.sockets.append(ws)
                self.background.append(asyncio.ensure_future(self.drain(ws)))
        return {
            "connected": self.connected - before,
            "failed": len(self.failed) - failed_before,
            "seconds": round(elapsed, 3),
            "total": len(self.sockets),
        }

    async def reconnect(self, port: int) -> dict[str, Any]:
        """After a server restart (on `port`): every held socket is gone; open them all again."""
        count = len(self.sockets)
        for task in self.background[1:]:
            task.cancel()
        self.background, self.sockets, self.port = self.background[:1], [], port
        self.closed_early = 0  # the restart closed every one: count from here
        return await self.add_holders(count)

    async def drain(self, ws) -> None:
        try:
            async for _ in ws:
                self.received += 1
        except Exception:
            pass
        if not self.stop.is_set():
            self.closed_early += 1

    # --- control -------------------------------------------------------------------

    async def commands(self) -> None:
        """Read `add N` / `stop` from stdin; end of input means stop."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while True:
            line = (await reader.readline()).decode().strip()
            if not line or line == "stop":
                self.stop.set()
                return
            if line.startswith("add "):
                say("READY", await self.add_holders(int(line.split()[1])))
            if line.startswith("reconnect "):
                say("READY", await self.reconnect(int(line.split()[1])))
            if line == "expect":  # the payments to wait for exist only now
                with open(self.spec["expect_file"]) as f:
                    self.expect = set(json.load(f))

    async def wait_for_stop(self, met) -> None:
        """Until `stop`, or the deadline; say DONE once the expected finals are all in."""
        deadline = time.monotonic() + self.spec["deadline"]
        said_done = False
        while not self.stop.is_set() and time.monotonic() < deadline:
            if not said_done and self.expect and met():
                say("DONE", {"seen": len(self.seen)})
                said_done = True
            try:
                await asyncio.wait_for(self.stop.wait(), timeout=0.05)
            except asyncio.TimeoutError:
                pass

    async def main(self) -> dict[str, Any]:
        # Kept referenced: the loop holds tasks weakly, and a collected reader misses `stop`.
        self.background.append(asyncio.ensure_future(self.commands()))
        mode = self.spec["mode"]
        extra: dict[str, Any] = {}
        if mode == "pollers":
            extra = await self.run_pollers()
        elif mode == "holders":
            await self.wait_for_stop(lambda: False)
        else:
            semaphore = asyncio.Semaphore(CONNECT_CONCURRENCY)
            ready: list[int] = []
            if mode == "waiters":
                tasks = [asyncio.ensure_future(self.waiter(ref, semaphore, ready)) for ref in self.spec["refs"]]
                met = self.expect_met
            else:
                tasks = [asyncio.ensure_future(self.dashboard(i, semaphore, ready)) for i in range(self.spec["count"])]
                met = self.dashboards_met
            started = time.monotonic()
            while len(ready) < len(tasks) and time.monotonic() - started < self.spec["deadline"]:
                await asyncio.sleep(0.02)
            say("READY", {"connected": self.connected, "failed": len(self.failed), "seconds": round(time.monotonic() - started, 3)})
            await self.wait_for_stop(met)
            self.stop.set()
            for task in tasks:
                task.cancel()
        return {
            "mode": mode,
            "connected": self.connected,
            "failed": len(self.failed),
            "failed_kinds": sorted(set(self.failed)),
            "closed_early": self.closed_early,
            "messages": self.received,
            "latency_ms": self.seen,
            "open_refs": sorted(self.open_refs),
            "arrivals": self.arrivals,
            **extra,
        }


def main() -> None:
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    result = asyncio.run(Run(spec).main())
    with open(spec["out"], "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
