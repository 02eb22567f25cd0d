"""The command-line reference: docs/cli.md is current, every command has an
example in its ``--help``, and every example parses with the real options."""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path
from types import ModuleType

import click
import pytest
from click.testing import CliRunner

from cli.main import COMMANDS
from cli.main import cli as root

DOCS = Path(__file__).resolve().parents[1] / "docs"


def gen_cli() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_cli", DOCS / "gen_cli.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = gen_cli()
ALL = GEN.commands()
LEAVES = [(name, cmd, text) for name, cmd, text in ALL if not isinstance(cmd, click.Group)]


def test_docs_cli_md_is_current() -> None:
    assert (DOCS / "cli.md").read_text("utf-8") == GEN.render(), "run: python docs/gen_cli.py"


def test_every_registered_command_is_built_and_documented() -> None:
    text = (DOCS / "cli.md").read_text("utf-8")
    names = {name for name, _, _ in ALL}
    for command in COMMANDS:
        assert f"commitments {command}" in names
    for name, command, _ in ALL:
        assert f"## `{name}`" in text
        assert "Not built yet" not in (command.help or "")
    assert len(LEAVES) >= len(COMMANDS)


def examples(help_text: str) -> list[list[str]]:
    """The ``commitments ...`` command lines of a help text (continuations joined,
    leading ``VAR=value`` environment settings dropped)."""
    out = []
    for line in help_text.replace("\\\n", " ").splitlines():
        if any(shell in line for shell in ("$(", "|", ">>", "<")):
            continue  # shell plumbing around the command, not its own syntax
        if not re.match(r"\s*(?:[A-Z_]+=\S*\s+)*commitments\s", line):
            continue
        words = shlex.split(line.strip())
        while words and re.fullmatch(r"[A-Z_]+=.*", words[0]):
            words.pop(0)
        if words[:1] == ["commitments"]:
            out.append(words[1:])
    return out


def parse(args: list[str]) -> str:
    """Parse a command line with the real command tree without running it; its name."""
    ctx = root.make_context("commitments", list(args))
    command: click.Command = root
    path = ["commitments"]
    while isinstance(command, click.Group):
        name, sub, rest = command.resolve_command(ctx, [*ctx._protected_args, *ctx.args])
        assert sub is not None and name is not None
        path.append(name)
        try:
            ctx = sub.make_context(name, rest, parent=ctx)
        except click.BadParameter as exc:
            if "No such file" not in str(exc) and "does not exist" not in str(exc):
                raise
            break  # the example's input file is the reader's, not ours
        command = sub
    return " ".join(path)


@pytest.mark.parametrize(("name", "text"), [(n, t) for n, _, t in LEAVES])
def test_every_command_help_has_an_example_of_itself(name: str, text: str) -> None:
    result = CliRunner().invoke(root, [*name.split()[1:], "--help"])
    assert result.exit_code == 0, result.output
    assert re.search(r"^\s*Examples?\b", text, re.M), text
    assert name in [parse(args) for args in examples(text)]


@pytest.mark.parametrize(("name", "text"), [(n, t) for n, _, t in ALL])
def test_every_example_parses_with_the_real_options(name: str, text: str) -> None:
    for args in examples(text):
        try:
            parse(args)
        except click.UsageError as exc:
            pytest.fail(f"example in '{name} --help' does not parse: {shlex.join(args)}: {exc}")
