"""The dashboard's Play / Stop of a scenario and its background-traffic toggle.

Each runs as a task on the server's event loop (like the demo's worker: the in-memory
channel layer belongs to that loop), its ORM steps through sync_to_async. One scenario and
one traffic stream at a time, per server process: Stop reaches the process that started it.
"""

import asyncio
import contextvars
import logging
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async

from presenter import scenarios

logger = logging.getLogger("payments.presenter")

TRAFFIC_RATE = 2.0  # payments per second, as `simulate_traffic`'s default


@dataclass
class Running:
    label: str
    task: asyncio.Task
    stop: asyncio.Event


_running: dict[str, Running] = {}  # "scenario" | "traffic" -> what runs


async def _drive(runner: Any, stop: asyncio.Event, *, until_done: bool) -> None:
    try:
        while not stop.is_set() and not (until_done and runner.done):
            try:
                await asyncio.wait_for(stop.wait(), timeout=min(runner.wait(), 0.25))
            except asyncio.TimeoutError:
                pass
            if not stop.is_set():
                await sync_to_async(runner.run_due)()
    except Exception:  # a database outage, say: the run ends, the server goes on
        logger.exception("presenter task failed")


async def _start(kind: str, label: str, runner: Any, *, until_done: bool, first=None) -> None:
    await _stop(kind)
    if first is not None:
        await sync_to_async(first)()
    stop = asyncio.Event()
    # A fresh context: the request's would tie the task's sync_to_async calls to the
    # request's own executor, which is gone once the answer is sent.
    task = asyncio.get_running_loop().create_task(
        _drive(runner, stop, until_done=until_done), context=contextvars.Context()
    )
    _running[kind] = Running(label, task, stop)


async def _stop(kind: str) -> bool:
    running = _running.pop(kind, None)
    if running is None or running.task.done():
        return False
    running.stop.set()
    await running.task
    return True


def play(name: str) -> scenarios.Scenario:
    """Play the bundled scenario `name` (ScenarioError if there is none such)."""
    found = dict(scenarios.bundled())
    if name not in found:
        raise scenarios.ScenarioError(f"no bundled scenario {name[:40]!r}")
    player = scenarios.Player(found[name])
    async_to_sync(_start)("scenario", found[name].name, player, until_done=True, first=player.start)
    return found[name]


def traffic_on() -> None:
    async_to_sync(_start)("traffic", f"{TRAFFIC_RATE:g}/s", scenarios.Traffic(rate=TRAFFIC_RATE), until_done=False)


def stop(kind: str) -> bool:
    return async_to_sync(_stop)(kind)


def status() -> dict[str, str]:
    """What runs now, by kind: its label."""
    return {kind: r.label for kind, r in _running.items() if not r.task.done()}
