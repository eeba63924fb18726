"""`payments/events.py` is the one module that calls `group_send` (docs/architecture.md):
every message on the channel layer has its format written down in one place."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PUBLISHER = Path("payments/events.py")
APP_PACKAGES = ("payments", "consumers", "regions", "checkout", "dashboard", "momo", "api", "presenter", "callbacks")


def group_send_callers(root: Path) -> list[str]:
    """Every `<anything>.group_send(...)` call outside the publisher, as `path:line`."""
    found = []
    for package in APP_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if path.relative_to(root) == PUBLISHER or "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "group_send":
                    found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_it_finds_group_send_only_in_the_events_module():
    assert group_send_callers(ROOT) == []


def test_it_would_name_a_second_publisher(tmp_path):
    (tmp_path / "payments").mkdir()
    (tmp_path / "payments" / "events.py").write_text("async def f(layer):\n    await layer.group_send('g', {})\n")
    (tmp_path / "consumers").mkdir()
    (tmp_path / "consumers" / "resync.py").write_text("async def f(layer):\n    await layer.group_send('g', {})\n")
    assert group_send_callers(tmp_path) == ["consumers/resync.py:2"]
