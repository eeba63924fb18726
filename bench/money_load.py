"""Disbursement load: `python -m bench.money_load SPEC.json` (a client process, loopback only).

A closed loop of `concurrency` requests in flight for at most `window` seconds, as a MoMo
client sends them: `transfer` posts Disbursement transfers of `amount` (a fresh
X-Reference-Id each, API users' `tokens` in turn); `refund` posts the refunds of `jobs`
([token, referenceIdToRefund, amount] each, in order) and stops early when they run out.
Prints `READY {}`, waits for `go` on stdin, then writes {requests, codes, elapsed_s,
latencies_ms, accepted} to spec["out"] and prints `DONE {}`.
"""

import asyncio
import itertools
import json
import sys
import time
import uuid
from typing import Any

import aiohttp

PARTY = {"partyIdType": "MSISDN", "partyId": "46733123499"}  # not a test number: follows the draw and the funds


def _request(spec: dict[str, Any], job: list[str]) -> tuple[str, dict[str, Any]]:
    _token, refunded, amount = job
    body = {"amount": amount, "currency": "EUR", "externalId": "bench", "payerMessage": "bench", "payeeNote": "bench"}
    if spec["mode"] == "transfer":
        return "/disbursement/v1_0/transfer", {**body, "payee": PARTY}
    return "/disbursement/v1_0/refund", {**body, "referenceIdToRefund": refunded}


async def main(spec: dict[str, Any]) -> dict[str, Any]:
    base = f"http://127.0.0.1:{spec['port']}"
    if spec["mode"] == "transfer":
        jobs = ([token, "", spec["amount"]] for token in itertools.cycle(spec["tokens"]))
    else:
        jobs = iter(spec["jobs"])
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

        async def one(job: list[str]) -> None:
            path, body = _request(spec, job)
            reference = str(uuid.uuid4())
            headers = {"Authorization": f"Bearer {job[0]}", "Ocp-Apim-Subscription-Key": spec["subscription_key"],
                       "X-Target-Environment": "sandbox", "X-Reference-Id": reference}
            sent = time.perf_counter()
            try:
                async with session.post(f"{base}{path}", json=body, headers=headers) as response:
                    await response.read()
                    code = str(response.status)
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                code = type(exc).__name__
            latencies.append((time.perf_counter() - sent) * 1000)
            codes[code] = codes.get(code, 0) + 1
            if code == "202":
                accepted.append(reference)

        async def loop() -> None:
            while time.perf_counter() < stop_at and (job := next(jobs, None)) is not None:
                await one(job)

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
