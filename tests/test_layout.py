"""Only public names cross module boundaries: every ``from .module import name`` inside the package
names something that ``module.__all__`` lists."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "bayesrf"


def _relative_imports() -> list[tuple[str, str, str]]:
    """(importing file, imported module, imported name) for every relative import in the package."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
                found += [(path.name, node.module, alias.name) for alias in node.names]
    return found


IMPORTS = _relative_imports()


def test_the_scan_finds_the_package_imports() -> None:
    assert ("cli.py", "inference", "sample") in IMPORTS  # the scan sees real imports, so the next test can fail


@pytest.mark.parametrize(("where", "module", "name"), IMPORTS, ids=[f"{w}:{m}.{n}" for w, m, n in IMPORTS])
def test_cross_module_names_are_public(where: str, module: str, name: str) -> None:
    if name == "__version__":
        return  # the package's own version attribute
    exported = getattr(importlib.import_module(f"bayesrf.{module}"), "__all__", None)
    assert exported is not None, f"bayesrf.{module} has no __all__ (imported by {where})"
    assert not name.startswith("_") or module == "_cd", f"{where} imports the private {module}.{name}"
    assert name in exported, f"{where} imports {module}.{name}, which {module}.__all__ does not list"
