"""MoMo API load: `python -m bench.momo_load SPEC.json` (a client process, loopback only).

A closed loop (bench/closed_loop.py) of `concurrency` requests in flight for `window`
seconds, as MoMo clients would send them: `rtp` posts requests to pay (a fresh
X-Reference-Id each), `status` reads the status of `refs` ([token, reference] pairs);
`get` sends a plain GET of `path` (the framework floors, bench/floors.py). With several
`ports` (one per Daphne process) the requests go to each in turn. `accepted` lists the
[token, reference] of every 202.
"""

import itertools
import uuid
from typing import Any

import aiohttp

from bench.closed_loop import OneRequest, Tally, main

BODY = {
    "amount": "100", "currency": "EUR", "externalId": "bench",
    "payer": {"partyIdType": "MSISDN", "partyId": "46733123499"},
    "payerMessage": "bench", "payeeNote": "bench",
}


def build(spec: dict[str, Any]) -> OneRequest:
    bases = itertools.cycle([f"http://127.0.0.1:{port}" for port in spec.get("ports") or [spec["port"]]])
    users = itertools.cycle(spec["tokens"] or [""])
    # Status reads go with the token of the API user that made the payment (another user's
    # reference is a 404 by design).
    pairs = itertools.cycle(spec.get("refs") or [["", ""]])

    async def one(session: aiohttp.ClientSession, tally: Tally) -> bool:
        base = next(bases)
        if spec["mode"] == "get":
            await tally.send(session.get(f"{base}{spec['path']}"))
            return True
        token, reference = next(pairs) if spec["mode"] == "status" else (next(users), str(uuid.uuid4()))
        headers = {
            "Authorization": f"Bearer {token}",
            "Ocp-Apim-Subscription-Key": spec["subscription_key"],
            "X-Target-Environment": "sandbox",
        }
        if spec["mode"] == "rtp":
            request = session.post(f"{base}/collection/v1_0/requesttopay", json=BODY,
                                   headers={**headers, "X-Reference-Id": reference})
        else:
            request = session.get(f"{base}/collection/v1_0/requesttopay/{reference}", headers=headers)
        await tally.send(request, accepted_as=[token, reference])
        return True

    return one


if __name__ == "__main__":
    main(build)
