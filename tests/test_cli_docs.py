"""The command-line reference: docs/cli.md is current, every command has an
example in its ``--help``, and every example parses with the real options."""

from __future__ import annotations

import importlib.util
import re
import shlex
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import ModuleType

import click
import pytest
from click.testing import CliRunner

from cli.main import COMMANDS
from cli.main import cli as root
from tests.conftest import Cli

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


# -- docs/guide.md, executed ---------------------------------------------------------

GUIDE = DOCS / "guide.md"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z")


def guide_blocks(text: str) -> list[tuple[str, str]]:
    """The ``sh`` and ``text`` blocks of a page, in order: (kind, body)."""
    return re.findall(r"```(sh|text)\n(.*?)```", text, flags=re.S)


def normalize(output: str) -> str:
    """Output with ids and timestamps blanked and runs of spaces collapsed."""
    output = STAMP.sub("<T>", UUID.sub("<id>", output))
    return "\n".join(" ".join(line.split()) for line in output.strip().splitlines())


class Guide:
    """Runs a page's ``sh`` blocks through the ``cli`` fixture."""

    def __init__(self, cli: Cli) -> None:
        self.cli = cli
        self.vars: dict[str, str] = {}
        self.actor: list[str] = []

    def expand(self, word: str) -> str:
        word = re.sub(r"\$\{(\w+):0:(\d+)\}", lambda m: self.vars[m[1]][: int(m[2])], word)
        return re.sub(r"\$(\w+)", lambda m: self.vars[m[1]], word)

    def run_block(self, body: str) -> str:
        """Run every command of a block; what it shows (stdout, and stderr of refusals)."""
        shown = []
        for line in re.sub(r"\\\n\s*", " ", body).splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("export "):
                for setting in shlex.split(line)[1:]:
                    name, value = setting.split("=", 1)
                    if name == "COMMITMENTS_ACTOR":
                        self.actor = ["--actor", value]
                continue
            code = 0
            if m := re.search(r"#\s*exits (\d+)\s*$", line):
                code, line = int(m[1]), line[: m.start()].strip()
            target = None
            if m := re.fullmatch(r"(\w+)=\$\((.*)\)", line):
                target, line = m[1], m[2]
            words = shlex.split(line)
            assert words[0] == "commitments", line
            result = self.cli([*self.actor, *(self.expand(w) for w in words[1:])])
            assert result.exit_code == code, (line, result.exit_code, result.stderr)
            if target:
                self.vars[target] = result.stdout.strip()
            else:
                shown.append(result.stdout + (result.stderr if code else ""))
        return "".join(shown)

    def outputs(self, text: str) -> list[tuple[str, str]]:
        """(what the page shows, what the run printed) for every ``text`` block."""
        pairs, last = [], ""
        for kind, body in guide_blocks(text):
            if kind == "sh":
                last = self.run_block(body)
            else:
                pairs.append((body, last))
                last = ""
        return pairs


GUIDE_DATE = re.compile(r"<!-- guide-date: (\d{4}-\d\d-\d\d) -->")
DATE = re.compile(r"(?<![\d-])(\d{4}-\d\d-\d\d)(?![\d-])")


def weeks_since(written: date, today: date) -> int:
    """Whole weeks from the day a page was written to ``today`` (0 if ahead)."""
    return max(0, (today - written).days // 7)


def moved(text: str, days: int) -> str:
    """``text`` with every ISO date moved by ``days`` (timestamps' dates too)."""
    return DATE.sub(lambda m: (date.fromisoformat(m[1]) + timedelta(days=days)).isoformat(), text)


def relative_to_today(text: str) -> str:
    """The guide as it reads today: it was written on its ``guide-date`` and
    revises a commitment, which the ledger allows only while its due date is
    not behind the ledger's clock (SPEC §7.1). So every date of the page,
    in its commands and its outputs, moves by whole weeks until the guide's
    day falls in this week (weekdays stay weekdays)."""
    found = GUIDE_DATE.search(text)
    assert found is not None, "docs/guide.md names the day it was written"
    written = date.fromisoformat(found[1])
    return moved(text, 7 * weeks_since(written, datetime.now(UTC).date()))


def test_moving_a_page_keeps_weekdays_and_timestamp_shapes() -> None:
    text = "--on 2026-01-09 as of 2026-11-28T23:29:45.286268Z, 12026-01-099"
    assert moved(text, 14) == "--on 2026-01-23 as of 2026-12-12T23:29:45.286268Z, 12026-01-099"
    assert weeks_since(date(2026, 2, 10), date(2026, 2, 16)) == 0
    assert weeks_since(date(2026, 2, 10), date(2026, 2, 17)) == 1
    assert weeks_since(date(2026, 2, 10), date(2026, 1, 1)) == 0


def test_the_guide_runs_and_shows_real_output(cli: Cli) -> None:
    text = relative_to_today(GUIDE.read_text("utf-8"))
    pairs = Guide(cli).outputs(text)
    assert len(pairs) >= 6
    for shown, printed in pairs:
        assert normalize(shown) == normalize(printed)
