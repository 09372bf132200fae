"""Dependencies point one way (README, "What runs where"):

    views / API / consumers -> services -> claims, commits, store, events, models -> evolution
    Celery tasks (workers) -> services + training -> evolution

Read from the source (every import, at module level or inside a function): a package never
imports one above it, no two packages import each other, and the modules of
evolab.experiments form no cycle."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("evolab.evolution", "evolab.accounts", "evolab.experiments", "evolab.notifications",
            "workers")  # fmt: skip
# What each package may import of the project (anything else of the project is refused).
ALLOWED = {
    "evolab.evolution": set(),
    "evolab.environment": set(),
    "evolab.datasets": set(),
    "evolab.launcher_watch": set(),
    "evolab.client": set(),  # the Python client: requests + websockets, never Django
    "evolab.cli": {"evolab.client"},
    "evolab.accounts": {"evolab.evolution", "evolab.environment"},
    "evolab.experiments": {"evolab.evolution", "evolab.accounts", "evolab.datasets",
                           "evolab.environment", "evolab.taskqueue", "evolab.worker_launch",
                           "evolab.launcher_watch"},
    # Hears of runs through evolab.experiments.events.committed; runs never import it.
    "evolab.notifications": {"evolab.accounts", "evolab.experiments", "evolab.environment",
                             "evolab.taskqueue"},
    "workers": {"evolab.evolution", "evolab.accounts", "evolab.experiments", "evolab.datasets",
                "evolab.notifications",
                "evolab.environment", "evolab.taskqueue", "evolab.worker_launch",
                "evolab.launcher_watch"},
}  # fmt: skip
NO_FRAMEWORK = (
    "evolab.evolution",
    "evolab.environment",
    "evolab.datasets",
    "evolab.launcher_watch",
    "evolab.client",
    "evolab.cli",
)
# Inside evolab.experiments: a module imports only modules of its own layer or below.
LAYERS = [
    {"models", "config", "storage", "exports", "bundle_predict", "config_diff", "processes"},
    {"config_form", "dataset_choices"},  # the run form's fields, from the config and catalog
    {"events", "sender", "access", "reads", "children", "leases", "portable", "postgres", "claims",
     "commits", "retention", "settling", "store", "chains", "actions", "evaluation"},
    {"services", "imports", "seed_files", "downloads", "bundles", "dashboard", "uploads",
     "warmstart", "report", "report_svg", "report_arch", "editing", "deletion"},
    {"views", "api", "api_filters", "api_datasets", "api_serializers", "consumers", "routing",
     "urls", "forms", "warmstart_form", "admin", "management", "apps", "listing", "api_editing",
     "workers_page", "run_settings"},
]  # fmt: skip


def _modules() -> dict[str, Path]:
    found = {}
    for top in ("evolab", "workers"):
        for path in (ROOT / top).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path) -> set[str]:
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            out.add(base)
            out |= {f"{base}.{alias.name}" for alias in node.names}
    return out


def _owner(module: str, keys) -> str | None:
    matches = [k for k in keys if module == k or module.startswith(k + ".")]
    return max(matches, key=len) if matches else None


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {
        name: {m for m in _imports(name, path) if m in modules and m != name}
        for name, path in modules.items()
    }


def test_no_package_imports_against_the_direction():
    wrong = []
    for name, path in _modules().items():
        owner = _owner(name, ALLOWED)
        if owner is None:
            continue  # the launchers, settings, urls: above everything
        for imported in _imports(name, path):
            if not imported.startswith(("evolab", "workers")) or imported in ("evolab",):
                if owner in NO_FRAMEWORK and imported.split(".")[0] in ("django", "celery"):
                    wrong.append(f"{name} imports {imported}")
                continue
            target = _owner(
                imported,
                [
                    *ALLOWED,
                    "evolab.taskqueue",
                    "evolab.worker_launch",
                    "evolab.settings",
                    "evolab.launch",
                    "evolab.health",
                    "evolab.urls",
                    "evolab.asgi",
                    "evolab.embedded_redis",
                ],
            )
            if target is None or target == owner:
                continue
            if target not in ALLOWED[owner]:
                wrong.append(f"{name} imports {imported}")
    assert not wrong, "\n".join(sorted(wrong))


def test_no_two_packages_import_each_other():
    edges = set()
    for name, targets in _graph().items():
        a = _owner(name, PACKAGES)
        for target in targets:
            b = _owner(target, PACKAGES)
            if a and b and a != b:
                edges.add((a, b))
    assert not {(a, b) for a, b in edges if (b, a) in edges}


def _layer(module: str) -> int | None:
    short = module.removeprefix("evolab.experiments.").split(".")[0]
    for i, layer in enumerate(LAYERS):
        if short in layer:
            return i
    return None


def test_the_modules_of_experiments_respect_their_layers_and_form_no_cycle():
    graph = {
        name: {t for t in targets if t.startswith("evolab.experiments.")}
        for name, targets in _graph().items()
        if name.startswith("evolab.experiments.")
    }
    unplaced = sorted(n for n in graph if _layer(n) is None)
    assert not unplaced, f"give these a layer in LAYERS: {unplaced}"
    upward = [f"{a} -> {b}" for a, ts in graph.items() for b in ts if _layer(b) > _layer(a)]
    assert not upward, "\n".join(upward)
    # Depth-first search for a cycle.
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*path, node, nxt]))
            if nxt not in state:
                visit(nxt, [*path, node])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [])
