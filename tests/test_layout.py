"""The layout a newcomer reads: small modules, one name per concept, no private names borrowed."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app"
MODULES = sorted(p for p in APP.rglob("*.py") if "migrations" not in p.parts)
# "About 400": one sitting's reading. Past it, a module is split along a real seam.
LIMIT = 400


def test_no_module_is_over_the_limit() -> None:
    long = {str(p.relative_to(APP)): n for p in MODULES if (n := len(p.read_text().splitlines())) > LIMIT}
    assert long == {}


def test_no_two_modules_share_a_name() -> None:
    """A reader finds a concept by its file name: ``reports.py`` means one thing."""
    places: dict[str, list[str]] = defaultdict(list)
    for p in MODULES:
        if p.name != "__init__.py":
            places[p.name].append(str(p.relative_to(APP)))
    assert {name: where for name, where in places.items() if len(where) > 1} == {}


def test_no_private_name_is_imported_from_another_module() -> None:
    borrowed = []
    for p in MODULES:
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("app"):
                borrowed += [f"{p.relative_to(APP)}: {node.module}.{a.name}"
                             for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
    assert borrowed == []


def test_every_package_says_what_it_owns() -> None:
    silent = [str(p.relative_to(APP)) for p in APP.rglob("__init__.py")
              if "migrations" not in p.parts and not ast.get_docstring(ast.parse(p.read_text()))]
    assert silent == []
