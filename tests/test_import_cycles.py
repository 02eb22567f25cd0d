"""The import-linter contract that keeps sibling modules acyclic (issue 13,
item 5): it covers ledger/, projections/ and cli/ at every depth, and it
really fails on a cycle. The second half runs the very contract of
pyproject.toml (its type and options, ancestors swapped) over small throw-away
packages, one with each kind of cycle it must catch."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _cycle_contract() -> dict[str, Any]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    found = [c for c in contracts if c["type"] == "acyclic_siblings"]
    assert len(found) == 1, contracts
    return dict(found[0])


def test_the_contract_covers_every_package_of_ours_at_every_depth() -> None:
    contract = _cycle_contract()
    assert sorted(contract["ancestors"]) == ["cli", "ledger", "projections"]
    assert "skip_descendants" not in contract
    assert contract.get("depth", 10) >= 3  # cli.serve's modules are at depth 2
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    # imports under TYPE_CHECKING count: the activity_import <-> application cycle is one
    assert not config["tool"]["importlinter"].get("exclude_type_checking_imports", False)


def test_no_exception_is_allowed_in_cli() -> None:
    """The exceptions name cycles of ledger/ and projections/ still being broken;
    cli/ has none left."""
    ignored = _cycle_contract().get("ignore_imports", [])
    assert [i for i in ignored if i.startswith("cli")] == []


def _package(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _lint(tmp_path: Path, files: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` over the package ``toy`` with the project's cycle contract."""
    _package(tmp_path, files)
    contract = _cycle_contract()
    contract.pop("ignore_imports", None)
    contract["ancestors"] = ["toy"]
    lines = ["[importlinter]", "root_package = toy", "", "[importlinter:contract:cycles]"]
    for key, value in contract.items():
        if isinstance(value, list):
            lines.append(f"{key} =")
            lines += [f"    {v}" for v in value]
        else:
            lines.append(f"{key} = {value}")
    (tmp_path / ".importlinter").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", ".importlinter", "--no-cache"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )


ACYCLIC = {
    "toy/__init__.py": "",
    "toy/render.py": "def cell(v):\n    return str(v)\n",
    "toy/read.py": "from .render import cell\n",
    "toy/html.py": "from .render import cell\n",
}


def test_an_acyclic_package_keeps_the_contract(tmp_path: Path) -> None:
    done = _lint(tmp_path, ACYCLIC)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "KEPT" in done.stdout


@pytest.mark.parametrize(
    ("files", "package", "pair"),
    [
        pytest.param(
            {"toy/read.py": "from .html import page\n", "toy/html.py": "from .read import cell\n"},
            "toy",
            ("html", "read"),
            id="module-level",
        ),
        pytest.param(
            {
                "toy/read.py": "def show():\n    from .html import page\n",
                "toy/html.py": "def page():\n    from .read import show\n",
            },
            "toy",
            ("html", "read"),
            id="imported-inside-a-function",
        ),
        pytest.param(
            {
                "toy/read.py": "from typing import TYPE_CHECKING\n\n"
                "if TYPE_CHECKING:\n    from .html import Page\n",
                "toy/html.py": "from .read import show\n",
            },
            "toy",
            ("html", "read"),
            id="type-checking-only",
        ),
        pytest.param(
            {
                "toy/serve/__init__.py": "",
                "toy/serve/app.py": "from .api import routes\n",
                "toy/serve/api.py": "def routes():\n    from .app import error\n",
            },
            "toy.serve",
            ("api", "app"),
            id="inside-a-sub-package",
        ),
        pytest.param(
            {
                "toy/serve/__init__.py": "",
                "toy/serve/app.py": "from ..html import page\n",
                "toy/html.py": "def page():\n    from .serve.app import run\n",
            },
            "toy",
            ("html", "serve"),
            id="module-and-sub-package",
        ),
    ],
)
def test_a_cycle_breaks_the_contract(
    tmp_path: Path, files: dict[str, str], package: str, pair: tuple[str, str]
) -> None:
    done = _lint(tmp_path, {**ACYCLIC, **files})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "BROKEN" in done.stdout
    assert f"No cycles are allowed in {package}." in done.stdout
    first, second = pair
    assert f".{first} -> .{second}" in done.stdout or f".{second} -> .{first}" in done.stdout
