"""No import circle inside any app, and in-function imports inside an app only where listed with a reason.

The graph is grimp's (the one import-linter uses for the layer contract between apps); it holds every import
statement, also those inside functions and under ``TYPE_CHECKING``. A circle inside an app means a module can
only be imported after another that needs it first: move the shared, pure part down into a module both import
(as ``contributions.uploads``, ``contributions.exchange.problems``, ``cases.certificate_codes``,
``policies.kinds`` were), or queue a Celery task by name (``registry.task_queue``) instead of importing it.
"""

from __future__ import annotations

import ast
import functools
import pathlib
import sys

import grimp
from django.conf import settings

from registry.tests.helpers import project_apps

APPS = project_apps()  # every app of the project, a new one too
ROOT = pathlib.Path(settings.BASE_DIR)

# In-function imports of a module of the same app, and why each must stay in its function.
IN_FUNCTION_ALLOWED = {
    ("registry.apps", "registry.audit"): "AppConfig.ready: connects signals once the models are loaded",
    ("registry.apps", "registry.roles"): "AppConfig.ready: roles_sync needs the auth models",
    ("registry.apps", "registry.feed.changes"): "AppConfig.ready: connects the change feed to every model",
    ("registry.apps", "registry.tasks"): "AppConfig.ready: registers the Celery tasks by name",
    ("registry.apps", "registry.security.dbroles"): "AppConfig.ready: connects the database grants to post_migrate",
    ("registry.apps", "registry.security.receivers"): "AppConfig.ready: connects the login and session signals",
    ("policies.apps", "policies.signals"): "AppConfig.ready: connects the cache invalidation signals",
    ("contributions.apps", "contributions.tasks"): "AppConfig.ready: registers the Celery tasks by name",
    ("funds.apps", "funds.tasks"): "AppConfig.ready: registers the Celery tasks by name",
    ("cases.apps", "cases.tasks"): "AppConfig.ready: registers the Celery tasks by name",
    ("payroll.apps", "payroll.tasks"): "AppConfig.ready: registers the Celery tasks by name",
    ("consolidation.apps", "consolidation.tasks"): "AppConfig.ready: registers the Celery tasks by name",
    ("hall.apps", "hall.tasks"): "AppConfig.ready: registers the Celery tasks by name",
    ("hall.apps", "hall.receivers"): "AppConfig.ready: connects the case-event notifications",
    ("evaluation.apps", "evaluation.tasks"): "AppConfig.ready: registers the Celery tasks by name",
    ("evaluation.apps", "evaluation.views"): "AppConfig.ready: adds the supervision panel to the counter home page",
}


@functools.cache
def _graph() -> grimp.ImportGraph:
    return grimp.build_graph(*APPS, include_external_packages=False)


def _app(module: str) -> str:
    return module.split(".")[0]


def _edges_inside_apps() -> dict[str, set[str]]:
    graph = _graph()
    edges: dict[str, set[str]] = {}
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            if _app(imported) == _app(module):
                edges.setdefault(module, set()).add(imported)
    return edges


def _circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for node in sorted(set(edges) | {n for targets in edges.values() for n in targets}):
            if node not in index:
                visit(node)
    finally:
        sys.setrecursionlimit(limit)
    return found


def _module_file(module: str) -> pathlib.Path:
    path = ROOT.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _import_targets(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    package = module if _module_file(module).name == "__init__.py" else module.rpartition(".")[0]
    for _ in range(max(node.level - 1, 0)):
        package = package.rpartition(".")[0]
    base = f"{package}.{node.module}" if node.level and node.module else (node.module or package)
    # "from x import y" imports x.y when y is a module, else x.
    return [f"{base}.{alias.name}" if _module_file(f"{base}.{alias.name}").exists() else base for alias in node.names]


def _in_function_imports_inside_apps() -> set[tuple[str, str]]:
    found = set()
    for module in _graph().modules:
        if ".tests" in module or ".migrations" in module:
            continue
        tree = ast.parse(_module_file(module).read_text(encoding="utf-8"))
        for function in ast.walk(tree):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(function):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    found |= {(module, t) for t in _import_targets(module, node) if _app(t) == _app(module)}
    return found


def test_the_circle_finder_finds_a_circle():
    assert _circles({"a.x": {"a.y"}, "a.y": {"a.z"}, "a.z": {"a.x"}, "a.w": {"a.x"}}) == [["a.x", "a.y", "a.z"]]


def test_no_import_circle_inside_any_app():
    assert _circles(_edges_inside_apps()) == []


def test_in_function_imports_inside_an_app_are_the_listed_ones():
    assert _in_function_imports_inside_apps() == set(IN_FUNCTION_ALLOWED)
