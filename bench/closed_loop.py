"""The closed loop every MoMo client process of the bench runs (momo_load, money_load).

`concurrency` loops each send one request, wait for its answer, and send the next, for at
most `window` seconds (or until `one` says there is nothing left to send). The process
prints `READY {}` once its session is open, waits for `go` on stdin, then writes
{requests, codes, elapsed_s, latencies_ms, accepted} to spec["out"] and prints `DONE {}`.
"""

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    codes: dict[str, int] = field(default_factory=dict)
    accepted: list[Any] = field(default_factory=list)

    async def send(self, request: Any, accepted_as: Any = None) -> str:
        """Send `request` (an aiohttp request context), count its answer; its status code
        (or the client error's name). A 202 adds `accepted_as` to `accepted`."""
        sent = time.perf_counter()
        try:
            async with request as response:
                await response.read()
                code = str(response.status)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            code = type(exc).__name__
        self.latencies.append((time.perf_counter() - sent) * 1000)
        self.codes[code] = self.codes.get(code, 0) + 1
        if code == "202" and accepted_as is not None:
            self.accepted.append(accepted_as)
        return code


# One request: send it through the tally; False when there is nothing left to send.
OneRequest = Callable[[aiohttp.ClientSession, Tally], Awaitable[bool]]


async def closed_loop(spec: dict[str, Any], one: OneRequest) -> dict[str, Any]:
    tally = Tally()
    connector = aiohttp.TCPConnector(limit=spec["concurrency"])
    async with aiohttp.ClientSession(connector=connector, trust_env=False) as session:
        sys.stdout.write("READY {}\n")
        sys.stdout.flush()
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # "go"
        began = time.perf_counter()
        stop_at = began + spec["window"]

        async def loop() -> None:
            while time.perf_counter() < stop_at and await one(session, tally):
                pass

        await asyncio.gather(*(loop() for _ in range(spec["concurrency"])))
        elapsed = time.perf_counter() - began
    return {"requests": len(tally.latencies), "codes": tally.codes, "elapsed_s": round(elapsed, 3),
            "latencies_ms": [round(x, 3) for x in tally.latencies], "accepted": tally.accepted}


def main(build: Callable[[dict[str, Any]], OneRequest]) -> None:
    """Run a client process: SPEC.json from argv, `build(spec)` gives its one request."""
    spec = json.loads(open(sys.argv[1]).read())
    result = asyncio.run(closed_loop(spec, build(spec)))
    with open(spec["out"], "w") as out:
        json.dump(result, out)
    sys.stdout.write("DONE {}\n")
    sys.stdout.flush()
