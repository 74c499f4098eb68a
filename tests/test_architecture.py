"""The package's shape: no import cycle, no module over 300 lines, layers import only downwards."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "robaudit"
MAX_MODULE_LINES = 300


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """robaudit modules imported anywhere in ``path`` (function-level too), except under TYPE_CHECKING."""
    tree = ast.parse(path.read_text())
    skipped = {id(n) for block in ast.walk(tree) if _type_checking_block(block) for n in ast.walk(block)}
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            found |= {f"{base}.{alias.name}" for alias in node.names} | {base}
    return {_resolve(name, modules) for name in found if name.startswith("robaudit")} - {None}  # type: ignore[misc]


def _resolve(name: str, modules: set[str]) -> str | None:
    """The module a dotted import names ('robaudit.x.y' may be module x's attribute y)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    modules = set(paths)
    graph = {name: imports_of(path, modules) - {name} for name, path in paths.items()}
    # importing a.b.c runs the package a.b's __init__ first; a package's own __init__ importing its
    # submodules is that package's business, not an edge back from the submodule.
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_the_package() -> None:
    graph = import_graph()
    # A package __init__ that imports its own submodules to register them is not a cycle with them.
    for name in graph:
        graph[name] = {m for m in graph[name] if not (m.startswith(name + ".") and _is_package(name))}
    assert find_cycle(graph) is None, " → ".join(find_cycle(graph) or [])


def _is_package(name: str) -> bool:
    return (PACKAGE.parent / name.replace(".", "/") / "__init__.py").exists()


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_over_300_lines(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= MAX_MODULE_LINES


LOWER_LAYERS = ("robaudit.errors", "robaudit.registry", "robaudit.config", "robaudit.spectral",
                "robaudit.seeding", "robaudit.atomic", "robaudit.versions", "robaudit.report_model",
                "robaudit.colour")


@pytest.mark.parametrize("lower", LOWER_LAYERS)
def test_foundation_modules_import_no_upper_layer(lower: str) -> None:
    """The foundation imports only other foundation modules (docs/architecture.md)."""
    graph = import_graph()
    if lower not in graph:
        pytest.skip(f"{lower} is not in this package")
    assert graph[lower] <= set(LOWER_LAYERS), graph[lower] - set(LOWER_LAYERS)


def package_graph() -> dict[str, set[str]]:
    """The import graph between robaudit's top-level units (robaudit.models, robaudit.cli, ...)."""
    def top(name: str) -> str:
        return ".".join(name.split(".")[:2])

    graph: dict[str, set[str]] = {}
    for name, targets in import_graph().items():
        graph.setdefault(top(name), set()).update(top(t) for t in targets if top(t) != top(name))
    return graph


def test_no_import_cycle_between_subpackages() -> None:
    """E.g. models → embedded → models would make each unusable without the other."""
    graph = package_graph()
    graph.pop("robaudit", None)  # the package __init__ only re-exports lazily
    for targets in graph.values():
        targets.discard("robaudit")
    assert find_cycle(graph) is None, " → ".join(find_cycle(graph) or [])


def test_the_public_api_names_resolve_and_each_command_has_its_function() -> None:
    """`robaudit.X` for every name of __all__, and one function behind each CLI command."""
    import robaudit

    for name in robaudit.__all__:
        assert getattr(robaudit, name) is not None, name
    commands = {"score": robaudit.run_suite, "check": robaudit.evaluate_policy, "sweep": robaudit.run_sweep,
                "compare": robaudit.write_leaderboard, "corrupt": robaudit.corrupt_dataset,
                "train-reference": robaudit.train_reference}
    listings = {"models": robaudit.list_models, "datasets": robaudit.load_dataset, "probes": robaudit.PROBES}
    from robaudit.cli import build_app

    assert {c.name for c in build_app().registered_commands} == set(commands) | set(listings)
    assert all(callable(function) for function in commands.values())
