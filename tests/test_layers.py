"""The package's layers import only downward, and no route module imports another (docs/architecture.md).

Every import counts: at module level, inside functions, and under ``if TYPE_CHECKING:`` (a type-only import
still ties the lower layer to the higher one). A sub-package takes the layer of its top-level name, so
``posgraph.curation.review`` is layer 3 and ``posgraph.api.routes.research`` layer 4.
"""

from __future__ import annotations

import ast
from pathlib import Path

import posgraph

PACKAGE = Path(posgraph.__file__).resolve().parent

LAYERS = {
    0: {"__init__", "namespaces", "errors"},
    # metrics is not in the map in docs/architecture.md: it imports nothing of posgraph (a leaf of layer 1).
    1: {"config", "workers", "sandbox", "metrics"},
    2: {"engine", "supervisor", "catalog", "validation", "formats", "answer_limits", "guard", "tokens", "audit"},
    3: {"research", "linked_data", "curation", "checks", "overview"},
    4: {"api", "cli"},
}
LAYER_OF = {name: layer for layer, names in LAYERS.items() for name in names}
ROUTES = "posgraph.api.routes"


def _modules() -> dict[str, Path]:
    """Every module under src/posgraph by dotted name (a package by its own name, from its __init__.py)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ("posgraph", *path.relative_to(PACKAGE).with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _layer(module: str) -> int | None:
    """The layer of a posgraph module, by its top-level name under posgraph (None when the map lacks it)."""
    parts = module.split(".")
    return LAYER_OF["__init__"] if len(parts) == 1 else LAYER_OF.get(parts[1])


def _imported(module: str, path: Path) -> set[tuple[str, int]]:
    """The posgraph modules the module at ``path`` imports, with line numbers."""
    return _imports_in(path.read_text(encoding="utf-8"), module, is_package=path.name == "__init__.py")


def _imports_in(source: str, module: str, is_package: bool) -> set[tuple[str, int]]:
    """The posgraph modules ``source`` (the text of ``module``) imports, with line numbers; ``from X import name``
    counts as X.name when that is a module, else as X."""
    package = module if is_package else module.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets |= {(alias.name, node.lineno) for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                name = f"{base}.{alias.name}"
                targets.add((name if name in MODULES else base, node.lineno))
    return {(name, line) for name, line in targets if name == "posgraph" or name.startswith("posgraph.")}


def _is_route(module: str) -> bool:
    return module.startswith(ROUTES + ".")


def test_every_module_has_a_layer():
    unmapped = sorted(m for m in MODULES if _layer(m) is None)
    assert unmapped == [], f"add these to the layer map (docs/architecture.md and LAYERS here): {unmapped}"


def test_layers_import_only_downward():
    problems = []
    for module, path in MODULES.items():
        own = _layer(module)
        for target, line in sorted(_imported(module, path)):
            theirs = _layer(target)
            if own is not None and theirs is not None and theirs > own:
                problems.append(
                    f"{path.relative_to(PACKAGE.parent)}:{line}: layer {own} {module} imports {target} (layer {theirs})"
                )
    assert problems == [], "upward imports:\n" + "\n".join(problems)


def test_no_route_module_imports_another():
    problems = []
    for module, path in MODULES.items():
        if not _is_route(module):
            continue
        for target, line in sorted(_imported(module, path)):
            if target == ROUTES or (_is_route(target) and target != module):
                problems.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {module} imports {target}")
    assert problems == [], "route modules importing routes:\n" + "\n".join(problems)


def test_the_checker_sees_every_kind_of_import():
    source = (
        "from typing import TYPE_CHECKING\n"
        "from posgraph import curation, __version__\n"
        "from . import research\n"
        "from .linked_data import collection_page\n"
        "import posgraph.api.app\n"
        "if TYPE_CHECKING:\n    from posgraph.validation import ValidationReport\n"
        "def later():\n    from posgraph.checks import check_all\n"
    )
    found = {name for name, _ in _imports_in(source, "posgraph.api.routes.curation", is_package=False)}
    assert found == {
        "posgraph.curation",
        "posgraph",
        "posgraph.api.routes.research",
        "posgraph.api.routes.linked_data",
        "posgraph.api.app",
        "posgraph.validation",
        "posgraph.checks",
    }
