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

from payments import events
from presenter import scenarios

logger = logging.getLogger("payments.presenter")

TRAFFIC_RATE = 2.0  # payments per second, as `simulate_traffic`'s default


@dataclass
class Running:
    label: str
    task: asyncio.Task
    stop: asyncio.Event


_running: dict[str, Running] = {}  # "scenario" | "traffic" -> what runs


async def _drive(kind: str, runner: Any, stop: asyncio.Event, *, until_done: bool) -> None:
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
    finally:
        await _ended(kind, runner)


async def _ended(kind: str, runner: Any) -> None:
    """However it ended (done, stopped, reset, failed): its settings go back, and every
    dashboard is told that it no longer runs."""
    try:
        if hasattr(runner, "finish"):
            await sync_to_async(runner.finish)()
    except Exception:
        logger.exception("presenter task: settings not restored")
    running = _running.get(kind)
    if running is not None and running.task is asyncio.current_task():
        del _running[kind]
    await _announce()


async def _announce() -> None:
    try:
        await events.send_now(events.presenter_changed(await sync_to_async(state)()))
    except Exception as exc:  # the layer is down: dashboards catch up on their next load
        logger.warning("presenter state not pushed (%s): %s", type(exc).__name__, exc)


async def _start(kind: str, label: str, runner: Any, *, until_done: bool, first=None) -> None:
    await _stop(kind)
    if first is not None:
        await sync_to_async(first)()
    stop = asyncio.Event()
    # A fresh context: the request's would tie the task's sync_to_async calls to the
    # request's own executor, which is gone once the answer is sent.
    task = asyncio.get_running_loop().create_task(
        _drive(kind, runner, stop, until_done=until_done), context=contextvars.Context()
    )
    _running[kind] = Running(label, task, stop)
    await _announce()


async def _stop(kind: str) -> bool:
    running = _running.get(kind)
    if running is None or running.task.done():
        _running.pop(kind, None)
        return False
    running.stop.set()
    await running.task  # its _ended() restores the settings and tells the dashboards
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


_listed: tuple[tuple, list] = ((), [])  # (the bundled files' mtimes, their listing)


def listing() -> list[tuple[str, dict[str, Any]]]:
    """The bundled scenarios, read again only when a file changed (each push lists them)."""
    global _listed
    stamp = tuple((p.name, p.stat().st_mtime_ns) for p in sorted(scenarios.BUNDLED.iterdir()))
    if stamp != _listed[0]:
        found = [(key, {"name": s.name, "description": s.description, "payments": s.payments}) for key, s in scenarios.bundled()]
        _listed = (stamp, found)
    return _listed[1]


def state() -> dict[str, Any]:
    """The dashboard's Scenarios panel (regions/presenter_panel.py): what can play, what runs."""
    return {"scenarios": listing(), "playing": status()}
