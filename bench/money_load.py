"""Disbursement load: `python -m bench.money_load SPEC.json` (a client process, loopback only).

A closed loop of `concurrency` requests in flight for at most `window` seconds, as a MoMo
client sends them: `transfer` posts Disbursement transfers of `amount` (a fresh
X-Reference-Id each, API users' `tokens` in turn); `refund` posts the refunds of `jobs`
([token, referenceIdToRefund, amount] each, in order) and stops early when they run out.
The loop is bench/closed_loop.py's; `accepted` lists the X-Reference-Id of every 202.
"""

import itertools
import uuid
from typing import Any

import aiohttp

from bench.closed_loop import OneRequest, Tally, main

PARTY = {"partyIdType": "MSISDN", "partyId": "46733123499"}  # not a test number: follows the draw and the funds


def _request(spec: dict[str, Any], job: list[str]) -> tuple[str, dict[str, Any]]:
    _token, refunded, amount = job
    body = {"amount": amount, "currency": "EUR", "externalId": "bench", "payerMessage": "bench", "payeeNote": "bench"}
    if spec["mode"] == "transfer":
        return "/disbursement/v1_0/transfer", {**body, "payee": PARTY}
    return "/disbursement/v1_0/refund", {**body, "referenceIdToRefund": refunded}


def build(spec: dict[str, Any]) -> OneRequest:
    base = f"http://127.0.0.1:{spec['port']}"
    if spec["mode"] == "transfer":
        jobs = ([token, "", spec["amount"]] for token in itertools.cycle(spec["tokens"]))
    else:
        jobs = iter(spec["jobs"])

    async def one(session: aiohttp.ClientSession, tally: Tally) -> bool:
        job = next(jobs, None)
        if job is None:
            return False
        path, body = _request(spec, job)
        reference = str(uuid.uuid4())
        headers = {"Authorization": f"Bearer {job[0]}", "Ocp-Apim-Subscription-Key": spec["subscription_key"],
                   "X-Target-Environment": "sandbox", "X-Reference-Id": reference}
        await tally.send(session.post(f"{base}{path}", json=body, headers=headers), accepted_as=reference)
        return True

    return one


if __name__ == "__main__":
    main(build)
