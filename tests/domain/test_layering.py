"""The dependencies point one way (shared/DESIGN.md, "Layout").

Read from the source with `ast`, every import counted, a function's late import too:
- each top-level package imports only the packages `ALLOWED` names for it: the domain
  (`payments`) none, the wire APIs (`momo`, `api`), the presenter's tools and the regions
  the domain only, the pages, consumers and the inspector the domain and the regions; `dashboard` (the
  Django project: settings, URLs, the operator's views) and `bench` sit on top;
- no consumer module imports a views module (both import the region in `regions/`);
- the top-level packages import each other without a cycle.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Django configuration names the project's modules by string (ROOT_URLCONF,
# ASGI_APPLICATION); those are not imports, and nothing here treats them as such.
VIEW_MARKERS = ("django.views", "django.shortcuts", "rest_framework.decorators")
TOP = None  # a package that may import any other (the project and its tools)
ALLOWED: dict[str, set[str] | None] = {
    "payments": set(),
    "momo": {"payments"},
    "api": {"payments"},
    "presenter": {"payments"},
    "regions": {"payments"},
    "inspector": {"payments", "regions"},
    "checkout": {"payments", "regions"},
    "consumers": {"payments", "regions"},
    "dashboard": TOP,
    "bench": TOP,
    "tests": TOP,
}


def modules(root: Path) -> dict[str, Path]:
    """Every module of every top-level package under `root`, by dotted name."""
    found = {}
    for init in sorted(root.glob("*/__init__.py")):
        for path in sorted(init.parent.rglob("*.py")):
            if ".venv" in path.parts or "migrations" in path.parts:
                continue
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports(name: str, path: Path) -> Iterator[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from regions import counters` imports the module regions.counters.
            yield from (f"{base}.{alias.name}" for alias in node.names)
            yield base


def import_graph(root: Path) -> dict[str, set[str]]:
    """module -> the modules (or their packages) of this project it imports."""
    found = modules(root)
    graph = {}
    for name, path in found.items():
        targets = set()
        for target in imports(name, path):
            while target and target not in found:
                target = target.rpartition(".")[0]
            if target and target != name:
                targets.add(target)
        graph[name] = targets
    return graph


def is_views_module(name: str, path: Path) -> bool:
    if name.rpartition(".")[2] in {"views", "urls", "api", "asgi"}:
        return True
    return any(target.startswith(VIEW_MARKERS) for target in imports(name, path))


def violations(root: Path) -> list[str]:
    found = modules(root)
    graph = import_graph(root)
    top = lambda module: module.partition(".")[0]  # noqa: E731
    problems = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            allowed = ALLOWED.get(top(module), set())
            if allowed is not TOP and top(target) != top(module) and top(target) not in allowed:
                problems.append(f"{top(module)} may not import {top(target)}: {module} -> {target}")
            if top(module) == "consumers" and is_views_module(target, found[target]):
                problems.append(f"a consumer imports a views module: {module} -> {target}")
    packages: dict[str, set[str]] = {}
    for module, targets in graph.items():
        packages.setdefault(top(module), set()).update(top(t) for t in targets if top(t) != top(module))
    problems += [f"a cycle between packages: {' -> '.join(cycle)}" for cycle in cycles(packages)]
    return problems


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every simple cycle, once each (depth-first: fine for a dozen packages)."""
    found: dict[frozenset[str], list[str]] = {}
    for start in sorted(graph):
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in sorted(graph.get(node, ())):
                if nxt == start:
                    found.setdefault(frozenset(path), [*path, start])
                elif nxt not in path:
                    stack.append((nxt, [*path, nxt]))
    return list(found.values())


def test_it_finds_every_package_importing_only_what_it_may_and_no_cycle():
    assert violations(ROOT) == []


def test_it_knows_the_direction_of_every_top_level_package():
    """A new package must be given its place in `ALLOWED` (or it may import nothing)."""
    packages = {name.partition(".")[0] for name in modules(ROOT)}
    assert packages <= set(ALLOWED), f"add to ALLOWED: {sorted(packages - set(ALLOWED))}"


def test_it_would_catch_each_kind_of_wrong_import(tmp_path):
    """The check itself can fail: a small tree with one of each mistake."""
    files = {
        "payments/__init__.py": "",
        "payments/services.py": "from consumers import broadcast\n",
        "payments/worker.py": "def run():\n    from dashboard.asgi import application\n",
        "consumers/__init__.py": "",
        "consumers/broadcast.py": "",
        "consumers/checkout.py": "from checkout.views import status_context\n",
        "checkout/__init__.py": "",
        "checkout/views.py": "from django.shortcuts import render\nfrom payments import services\n",
        "dashboard/__init__.py": "",
        "dashboard/asgi.py": "from consumers import checkout\n",
        "momo/__init__.py": "",
        "momo/views.py": "from presenter import scenarios\n",
        "presenter/__init__.py": "",
        "presenter/scenarios.py": "",
        "api/__init__.py": "",
        "api/views.py": "from momo.errors import MomoError\n",
        "momo/errors.py": "",
        "regions/__init__.py": "",
        "regions/counters.py": "from checkout import views\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    problems = violations(tmp_path)
    assert "payments may not import consumers: payments.services -> consumers.broadcast" in problems
    assert "payments may not import dashboard: payments.worker -> dashboard.asgi" in problems
    assert "momo may not import presenter: momo.views -> presenter.scenarios" in problems
    assert "api may not import momo: api.views -> momo.errors" in problems
    assert "regions may not import checkout: regions.counters -> checkout.views" in problems
    assert "a consumer imports a views module: consumers.checkout -> checkout.views" in problems
    assert any(p.startswith("a cycle between packages:") and "payments" in p for p in problems)
