"""Compare channels-redis's core and pub/sub layers the way LiveSettle uses them.

One subscriber process holds N channels, each in a group of its own (N checkout pages on
one Daphne process); a publisher process sends targeted group_sends at a fixed rate (a
worker settling payments). Prints, per layer: delivered share, p99 latency, and the CPU
seconds each side spent per 1,000 messages.

    .venv/bin/python scripts/compare_layers.py [--redis redis://127.0.0.1:6379/0] [--pages 1000] [--rate 2000] [--seconds 5]
"""

import argparse
import asyncio
import multiprocessing
import time

HOST = {"socket_timeout": None, "socket_connect_timeout": 2, "max_connections": 10_000}


PREFIX = f"compare{time.time_ns()}"  # set in the parent, inherited by both processes


def make_layer(kind: str, url: str):
    from channels_redis.core import RedisChannelLayer
    from channels_redis.pubsub import RedisPubSubChannelLayer

    hosts = [{"address": url, **HOST}]
    if kind == "core":
        return RedisChannelLayer(hosts=hosts, capacity=10_000, prefix=PREFIX)
    return RedisPubSubChannelLayer(hosts=hosts, prefix=PREFIX)


def subscriber(kind: str, url: str, pages: int, seconds: float, ready, results) -> None:
    async def main() -> None:
        layer = make_layer(kind, url)
        latencies: list[float] = []

        async def page(i: int) -> None:
            channel = await layer.new_channel()
            await layer.group_add(f"payment-{i}", channel)
            ready.put(i)
            while True:
                message = await layer.receive(channel)
                latencies.append(time.time() - message["sent"])

        tasks = [asyncio.ensure_future(page(i)) for i in range(pages)]
        cpu = time.process_time()
        await asyncio.sleep(seconds + 5)  # the publisher's run, then time to drain
        results.put((len(latencies), sorted(latencies), time.process_time() - cpu))
        for task in tasks:
            task.cancel()

    asyncio.run(main())


def publisher(kind: str, url: str, pages: int, rate: int, seconds: float, results) -> None:
    async def main() -> None:
        layer = make_layer(kind, url)
        total = int(rate * seconds)
        start = time.monotonic()
        cpu = time.process_time()
        for n in range(total):
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await layer.group_send(f"payment-{n % pages}", {"type": "payment.updated", "sent": time.time(), "pad": "x" * 600})
        results.put((total, time.process_time() - cpu))

    asyncio.run(main())


def run(kind: str, args) -> None:
    ready, sub_results, pub_results = multiprocessing.Queue(), multiprocessing.Queue(), multiprocessing.Queue()
    sub = multiprocessing.Process(target=subscriber, args=(kind, args.redis, args.pages, args.seconds, ready, sub_results))
    sub.start()
    for _ in range(args.pages):
        ready.get(timeout=60)
    pub = multiprocessing.Process(target=publisher, args=(kind, args.redis, args.pages, args.rate, args.seconds, pub_results))
    pub.start()
    sent, pub_cpu = pub_results.get(timeout=args.seconds + 60)
    received, latencies, sub_cpu = sub_results.get(timeout=args.seconds + 60)
    pub.join()
    sub.join()
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else float("nan")
    print(
        f"{kind:6} {args.pages} pages, {args.rate}/s for {args.seconds:g} s: delivered {received}/{sent}"
        f" ({100 * received / sent:.1f} %), p99 {p99:.1f} ms, CPU per 1,000 messages:"
        f" subscriber {1000 * sub_cpu / max(received, 1):.2f} s, publisher {1000 * pub_cpu / sent:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args()
    for kind in ("pubsub", "core"):
        run(kind, args)


if __name__ == "__main__":
    main()
