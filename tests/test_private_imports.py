"""No module of ledger/, projections/ or cli/ imports another module's private
(underscore) names (issue 13, item 5): what two modules share is public, in the
module named for it (cli.context, cli.read_options, projections.query's
MetricSums, ledger.store's location...). ruff's import-private-name rule does
not look inside one package, so this reads the imports itself."""

from __future__ import annotations

import ast
from collections.abc import Collection
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("ledger", "projections", "cli")


def private_imports(package: Path, ours: Collection[str] = ()) -> list[str]:
    """``file:line: module.name`` for each ``from X import _name`` in ``package``
    (at any depth, also inside functions) where X is one of its other modules,
    or a module of one of the packages ``ours``."""
    found = []
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        here = parts[:-1] if parts[-1] == "__init__" else parts
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                base = parts[: len(parts) - node.level]
                target = ".".join([*base, *(node.module or "").split(".")]).strip(".")
            else:
                target = node.module or ""
            top = target.split(".")[0]
            if (top != package.name and top not in ours) or target == ".".join(here):
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(
                        f"{path.relative_to(package.parent)}:{node.lineno}: {target}.{alias.name}"
                    )
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_imports_another_ones_private_names(package: str) -> None:
    assert private_imports(ROOT / package, ours=PACKAGES) == []


def test_the_check_finds_private_imports_at_any_depth(tmp_path: Path) -> None:
    pkg = tmp_path / "toy"
    (pkg / "serve").mkdir(parents=True)
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    (pkg / "serve" / "__init__.py").write_text("", encoding="utf-8")
    (pkg / "read.py").write_text("def _moment():\n    pass\n\n__all__ = []\n", encoding="utf-8")
    (pkg / "html.py").write_text(
        "from .read import __all__\n\ndef page():\n    from .read import _moment\n",
        encoding="utf-8",
    )
    (pkg / "serve" / "api.py").write_text(
        "from toy.read import _moment as m\nfrom ..read import _moment\n", encoding="utf-8"
    )
    (pkg / "serve" / "app.py").write_text("def _row():\n    pass\n", encoding="utf-8")
    (pkg / "serve" / "web.py").write_text(
        "import os\nfrom os import _exit\nfrom core.query import _Sums\n", encoding="utf-8"
    )
    assert private_imports(pkg) == [
        "toy/html.py:4: toy.read._moment",
        "toy/serve/api.py:1: toy.read._moment",
        "toy/serve/api.py:2: toy.read._moment",
    ]
    # another package of ours is checked too; the standard library is not
    assert private_imports(pkg, ours=("core",))[-1] == "toy/serve/web.py:3: core.query._Sums"
