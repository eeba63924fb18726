"""MoMo API load: `python -m bench.momo_load SPEC.json` (a client process, loopback only).

A closed loop of `concurrency` requests in flight for `window` seconds, as MoMo clients
would send them: `rtp` posts requests to pay (a fresh X-Reference-Id each), `status` reads
the status of `refs` ([token, reference] pairs); `get` sends a plain GET of `path` (the
framework floors, bench/floors.py). With several `ports` (one per Daphne process) the
requests go to each in turn. Prints `READY {}` when its session is
open, waits for `go` on stdin, then writes {requests, codes, elapsed_s, latencies_ms,
accepted} to spec["out"] and prints `DONE {}`.
"""

import asyncio
import itertools
import json
import sys
import time
import uuid
from typing import Any

import aiohttp

BODY = {
    "amount": "100", "currency": "EUR", "externalId": "bench",
    "payer": {"partyIdType": "MSISDN", "partyId": "46733123499"},
    "payerMessage": "bench", "payeeNote": "bench",
}


async def main(spec: dict[str, Any]) -> dict[str, Any]:
    bases = itertools.cycle([f"http://127.0.0.1:{port}" for port in spec.get("ports") or [spec["port"]]])
    users = itertools.cycle(spec["tokens"] or [""])
    # Status reads go with the token of the API user that made the payment (another user's
    # reference is a 404 by design).
    pairs = itertools.cycle(spec.get("refs") or [["", ""]])
    latencies: list[float] = []
    codes: dict[str, int] = {}
    accepted: list[str] = []
    connector = aiohttp.TCPConnector(limit=spec["concurrency"])
    async with aiohttp.ClientSession(connector=connector, trust_env=False) as session:
        sys.stdout.write("READY {}\n")
        sys.stdout.flush()
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # "go"
        began = time.perf_counter()
        stop_at = began + spec["window"]

        async def one() -> None:
            base = next(bases)
            token, reference = next(users), ""
            if spec["mode"] == "status":
                token, reference = next(pairs)
            headers = {
                "Authorization": f"Bearer {token}",
                "Ocp-Apim-Subscription-Key": spec["subscription_key"],
                "X-Target-Environment": "sandbox",
            }
            if spec["mode"] == "get":
                request = session.get(f"{base}{spec['path']}")
            elif spec["mode"] == "rtp":
                reference = str(uuid.uuid4())
                request = session.post(f"{base}/collection/v1_0/requesttopay", json=BODY,
                                       headers={**headers, "X-Reference-Id": reference})
            else:
                request = session.get(f"{base}/collection/v1_0/requesttopay/{reference}", headers=headers)
            sent = time.perf_counter()
            try:
                async with request as response:
                    await response.read()
                    code = str(response.status)
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                code = type(exc).__name__
            latencies.append((time.perf_counter() - sent) * 1000)
            codes[code] = codes.get(code, 0) + 1
            if code == "202":
                accepted.append([token, reference])

        async def loop() -> None:
            while time.perf_counter() < stop_at:
                await one()

        await asyncio.gather(*(loop() for _ in range(spec["concurrency"])))
        elapsed = time.perf_counter() - began
    return {"requests": len(latencies), "codes": codes, "elapsed_s": round(elapsed, 3),
            "latencies_ms": [round(x, 3) for x in latencies], "accepted": accepted}


if __name__ == "__main__":
    spec = json.loads(open(sys.argv[1]).read())
    result = asyncio.run(main(spec))
    with open(spec["out"], "w") as out:
        json.dump(result, out)
    sys.stdout.write("DONE {}\n")
    sys.stdout.flush()
