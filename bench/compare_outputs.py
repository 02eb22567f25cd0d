"""Before/after: the OLD and the NEW code's outputs on the same ledger files.

    python bench/compare_outputs.py --old ../old-checkout --new .
    python bench/compare_outputs.py --old /tmp/old --new . --python .venv/bin/python
    python bench/compare_outputs.py --old /tmp/old --new . --ledgers demo --demo-reps 3

OLD and NEW are two checkouts of this repository (for instance
``git clone . /tmp/old && git -C /tmp/old checkout e00fed1``). Each side's code
runs as its own ``commitments`` (the ``[project.scripts]`` entry point named in
that checkout's pyproject.toml) with ``PYTHONPATH=<checkout>``, under a Python
that has the dependencies: ``--python`` (default: NEW's ``.venv/bin/python``,
else this interpreter), or ``--old-python`` / ``--new-python`` when the two
dependency lists differ. The script checks that each side really imports its
own checkout's packages before it compares anything.

1. The OLD code builds the ledger files: a demo ledger (``demo --seed S
   --until D``) and the CRM walkthrough's ledger (the ``sh`` blocks of OLD's
   docs/walkthrough-crm.md, run command by command on OLD's examples/crm/, as
   tests/test_walkthrough_crm.py runs them).
2. Each side gets its own copy of the event store and key store, without the
   read model, so each side's code rebuilds its read model from the events.
   Both sides then run the same commands, at the same ``--as-of`` instant and
   business date: ``people list``, ``history NAME --format json`` for everyone
   the ledger knows, ``report coaching`` (table and JSON), ``team`` and ``list``
   (table and JSON), ``export`` and ``verify``; and ``--help`` of every command
   (found by walking the ``Commands:`` sections from the root).
3. Exit code, stdout and stderr of every command must be byte-identical. The
   script prints a unified diff of the first differences (``--max-diffs``) and
   a table of what was compared, with each side's time; it exits 0 when
   everything is identical, 1 when anything differs, 2 when it could not run.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
DB = "ledger.db"  # the same relative name on both sides, so no path differs in an output
WALKTHROUGH = Path("docs") / "walkthrough-crm.md"
DOC_CRM = "examples/crm"
CRM_ON = "2017-04-01"  # the walkthrough reads its 2017 story on this business date
HELP_WIDTH = "100"

# Runs in each side's interpreter: every command's --help, in one process.
HELP_WALK = r"""
import contextlib, importlib, io, json, re, sys
module, attr = sys.argv[1].split(":")
main = getattr(importlib.import_module(module), attr)

def run(args):
    out, err = io.StringIO(), io.StringIO()
    sys.argv = ["commitments", *args]
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()

def walk(path):
    code, out, err = run([*path, "--help"])
    yield {"path": path, "code": code, "stdout": out, "stderr": err}
    body = out.split("\nCommands:\n", 1)[1] if "\nCommands:\n" in out else ""
    for line in body.split("\n\n", 1)[0].splitlines():
        if m := re.match(r"  (\S+)", line):
            yield from walk([*path, m.group(1)])

print(json.dumps(list(walk([]))))
"""


class CompareError(Exception):
    """The comparison could not run (bad checkout, build failure): exit 2."""


@dataclass
class Side:
    """One checkout and the interpreter that runs its code."""

    name: str
    root: Path
    python: str
    entry: str = ""  # "module:function" from [project.scripts]

    def __post_init__(self) -> None:
        pyproject = self.root / "pyproject.toml"
        if not pyproject.is_file():
            raise CompareError(f"{self.name}: {self.root} has no pyproject.toml")
        scripts = tomllib.loads(pyproject.read_text("utf-8"))["project"]["scripts"]
        self.entry = scripts["commitments"]

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("COMMITMENTS_") and k != "PYTHONPATH"
        }
        env.update(
            PYTHONPATH=str(self.root),
            PYTHONHASHSEED="0",
            COLUMNS=HELP_WIDTH,
            COMMITMENTS_ACTOR="compare",
        )
        env.update(extra or {})
        return env

    def command(self) -> list[str]:
        module, attr = self.entry.split(":")
        code = f"import sys; from {module} import {attr}; sys.argv[0] = 'commitments'; {attr}()"
        return [self.python, "-c", code]

    def run(self, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> Output:
        started = time.perf_counter()
        done = subprocess.run(
            [*self.command(), *args], cwd=cwd, env=self.env(env), capture_output=True
        )
        return Output(done.returncode, done.stdout, done.stderr, time.perf_counter() - started)

    def check_imports(self, cwd: Path) -> None:
        """Fail unless this interpreter imports the entry point's package from ``root``."""
        package = self.entry.split(":")[0].split(".")[0]
        code = f"import {package}, sys; sys.stdout.write({package}.__file__)"
        done = subprocess.run(
            [self.python, "-c", code], cwd=cwd, env=self.env(), capture_output=True, text=True
        )
        if done.returncode != 0:
            raise CompareError(
                f"{self.name}: {self.python} cannot import {package}:\n{done.stderr}"
            )
        where = Path(done.stdout).resolve()
        if not where.is_relative_to(self.root):
            raise CompareError(f"{self.name}: {package} is imported from {where}, not {self.root}")


@dataclass
class Output:
    code: int
    stdout: bytes
    stderr: bytes
    seconds: float

    def same(self, other: Output) -> bool:
        return (self.code, self.stdout, self.stderr) == (other.code, other.stdout, other.stderr)


@dataclass
class Compared:
    group: str  # a row of the table
    label: str  # the command, as shown in a diff
    old: Output
    new: Output


@dataclass
class Row:
    what: str
    outputs: int = 0
    identical: int = 0
    failed: int = 0  # outputs whose OLD exit code is not 0
    old_seconds: float = 0.0
    new_seconds: float = 0.0
    built: bool = False  # a build row: OLD only


@dataclass
class Report:
    compared: list[Compared] = field(default_factory=list)
    rows: dict[str, Row] = field(default_factory=dict)

    def add(self, item: Compared) -> None:
        self.compared.append(item)
        row = self.rows.setdefault(item.group, Row(item.group))
        row.outputs += 1
        row.identical += item.old.same(item.new)
        row.failed += item.old.code != 0
        row.old_seconds += item.old.seconds
        row.new_seconds += item.new.seconds

    def built(self, what: str, seconds: float) -> None:
        self.rows[what] = Row(what, old_seconds=seconds, built=True)

    @property
    def differing(self) -> list[Compared]:
        return [c for c in self.compared if not c.old.same(c.new)]


# -- building the ledger files with the OLD code -----------------------------------


def build_demo(old: Side, folder: Path, seed: int, until: str, reps: int, weeks: int) -> float:
    args = ["--db", DB, "demo", "--seed", str(seed), "--until", until]
    args += ["--reps", str(reps), "--weeks", str(weeks)]
    out = old.run(args, folder)
    if out.code != 0:
        raise CompareError(f"OLD: demo failed ({out.code}):\n{out.stderr.decode()}")
    return out.seconds


def walkthrough_commands(text: str) -> list[str]:
    """The commands of the ``sh`` blocks, continuation lines joined (as the test reads them)."""
    commands: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        commands += [line.strip() for line in joined.splitlines() if line.strip()]
    return [c for c in commands if not c.startswith("#")]


def build_crm(old: Side, folder: Path) -> float:
    """Run OLD's walkthrough command by command: ``VAR=$(...)`` keeps an id,
    ``$VAR`` uses it, ``# exits N`` expects that exit code, ``export`` sets the environment."""
    crm = str(old.root / DOC_CRM)
    env: dict[str, str] = {}
    ids: dict[str, str] = {}
    seconds = 0.0
    for line in walkthrough_commands((old.root / WALKTHROUGH).read_text("utf-8")):
        if line.startswith("export "):
            env.update(w.partition("=")[::2] for w in shlex.split(line)[1:])
            continue
        expected = 0
        if m := re.search(r"#\s*exits (\d+)\s*$", line):
            expected, line = int(m.group(1)), line[: m.start()].strip()
        target = None
        if m := re.fullmatch(r"([A-Z_]+)=\$\((.*)\)", line):
            target, line = m.group(1), m.group(2)
        words = shlex.split(line)
        if words[0] != "commitments":
            raise CompareError(f"{WALKTHROUGH}: not a commitments command: {line}")
        args = [ids[w[1:]] if w.startswith("$") else w.replace(DOC_CRM, crm) for w in words[1:]]
        out = old.run(["--db", DB, *args], folder, env)
        seconds += out.seconds
        if out.code != expected:
            raise CompareError(
                f"OLD: {line}\nexited {out.code}, the walkthrough says {expected}:\n"
                f"{out.stderr.decode()}"
            )
        if target:
            ids[target] = out.stdout.decode().strip()
    return seconds


def copy_ledger(built: Path, to: Path) -> None:
    """The event store and key store of ``built``, without the read model or pages."""
    to.mkdir(parents=True)
    stem = DB.removesuffix(".db")
    for path in built.iterdir():
        views = path.name.startswith(f"{stem}.views.db")
        if path.name.startswith(f"{stem}.") and not views and not path.name.endswith("-shm"):
            shutil.copy2(path, to / path.name)


# -- comparing -----------------------------------------------------------------------


def compare_help(old: Side, new: Side, work: Path, report: Report) -> None:
    answers = {}
    for side in (old, new):
        started = time.perf_counter()
        done = subprocess.run(
            [side.python, "-c", HELP_WALK, side.entry],
            cwd=work,
            env=side.env(),
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise CompareError(f"{side.name}: walking --help failed:\n{done.stderr}")
        runs = json.loads(done.stdout)
        share = (time.perf_counter() - started) / max(len(runs), 1)
        answers[side.name] = {
            " ".join(r["path"]): Output(
                r["code"], r["stdout"].encode(), r["stderr"].encode(), share
            )
            for r in runs
        }
    missing = Output(-1, b"", b"(no such command on this side)\n", 0.0)
    names = sorted(answers["OLD"].keys() | answers["NEW"].keys())
    group = f"--help of every command ({len(names)})"
    for name in names:
        label = f"commitments {name} --help".replace("  ", " ")
        old_out = answers["OLD"].get(name, missing)
        new_out = answers["NEW"].get(name, missing)
        report.add(Compared(group, label, old_out, new_out))


def compare_ledger(
    title: str, old: Side, new: Side, built: Path, on: str, as_of: str, report: Report
) -> None:
    folders = {}
    for side in (old, new):
        folders[side.name] = built.parent / f"{built.name}-{side.name.lower()}"
        copy_ledger(built, folders[side.name])

    def both(group: str, args: list[str], must_succeed: bool = True) -> Compared:
        pair = [side.run(["--db", DB, *args], folders[side.name]) for side in (old, new)]
        item = Compared(f"{title}: {group}", f"[{title}] commitments {shlex.join(args)}", *pair)
        if must_succeed and item.old.code != 0:  # the comparison would prove nothing
            raise CompareError(
                f"OLD: {item.label} exited {item.old.code}:\n{item.old.stderr.decode()}"
            )
        report.add(item)
        return item

    at = ["--on", on, "--as-of", as_of]
    people = both("people list --format json", ["people", "list", "--format", "json"])
    names: set[str] = set()
    for out in (people.old, people.new):
        if out.code == 0:
            names |= {p["name"] for p in json.loads(out.stdout)}
    if not names:
        raise CompareError(f"[{title}] people list names nobody on either side")
    group = f"history NAME --format json ({len(names)} people)"
    for name in sorted(names):
        # a manager or an agent with activity only has no history: exit 1 on both sides
        both(group, ["history", name, *at, "--format", "json"], must_succeed=False)
    for command in (["report", "coaching"], ["team"], ["list"]):
        shown = " ".join(command)
        both(f"{shown} (table)", [*command, *at])
        both(f"{shown} --format json", [*command, *at, "--format", "json"])
    both("export", ["export"])
    both("verify", ["verify"])


def diff(item: Compared, lines: int) -> Iterator[str]:
    yield f"=== {item.label}: differs"
    if item.old.code != item.new.code:
        yield f"exit code: OLD {item.old.code}, NEW {item.new.code}"
    for stream in ("stdout", "stderr"):
        a, b = getattr(item.old, stream), getattr(item.new, stream)
        if a == b:
            continue
        text = list(
            difflib.unified_diff(
                a.decode("utf-8", "replace").splitlines(),
                b.decode("utf-8", "replace").splitlines(),
                f"OLD {stream}",
                f"NEW {stream}",
                lineterm="",
            )
        )
        if not text:  # the same lines, other bytes (line endings, a final newline)
            text = [f"{stream}: same lines, different bytes ({len(a)} vs {len(b)} bytes)"]
        yield from text[:lines]
        if len(text) > lines:
            yield f"... ({len(text) - lines} more diff lines)"


def table(report: Report) -> str:
    rows = [("what", "outputs", "exit≠0", "identical", "OLD s", "NEW s")]
    for row in report.rows.values():
        if row.built:
            rows.append((row.what, "-", "-", "-", f"{row.old_seconds:.1f}", "-"))
            continue
        same = "yes" if row.identical == row.outputs else f"NO ({row.outputs - row.identical})"
        rows.append(
            (
                row.what,
                str(row.outputs),
                str(row.failed),
                same,
                f"{row.old_seconds:.1f}",
                f"{row.new_seconds:.1f}",
            )
        )
    compared = [r for r in report.rows.values() if not r.built]
    total = sum(r.outputs for r in compared)
    same_total = sum(r.identical for r in compared)
    rows.append(
        (
            "total",
            str(total),
            str(sum(r.failed for r in compared)),
            "yes" if same_total == total else f"NO ({total - same_total})",
            f"{sum(r.old_seconds for r in compared):.1f}",
            f"{sum(r.new_seconds for r in compared):.1f}",
        )
    )
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# -- the command line ----------------------------------------------------------------


def default_python(new: Path) -> str:
    venv = new / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Compare the OLD and the NEW checkout's outputs on the same ledger files.",
        epilog="Exit 0: identical; 1: differences (diffs printed); 2: could not run.",
    )
    p.add_argument("--old", type=Path, required=True, help="the OLD checkout (builds the ledgers)")
    p.add_argument("--new", type=Path, default=HERE.parent, help="the NEW checkout [this one]")
    p.add_argument("--python", help="interpreter with the dependencies, for both sides")
    p.add_argument("--old-python", help="OLD's interpreter [--python]")
    p.add_argument("--new-python", help="NEW's interpreter [--python]")
    p.add_argument(
        "--ledgers", default="demo,crm", help="which ledgers: demo, crm or both [demo,crm]"
    )
    p.add_argument("--no-help", action="store_true", help="skip comparing --help")
    p.add_argument("--seed", type=int, default=1, help="demo seed [1]")
    p.add_argument("--demo-reps", type=int, default=12, help="demo team size [12]")
    p.add_argument("--demo-weeks", type=int, default=12, help="demo weeks of history [12]")
    p.add_argument(
        "--demo-until", default="2026-11-23", help="demo's last business date, read on [2026-11-23]"
    )
    p.add_argument("--max-diffs", type=int, default=3, help="diffs printed in full [3]")
    p.add_argument("--diff-lines", type=int, default=40, help="lines per printed diff [40]")
    p.add_argument("--work", type=Path, help="keep the ledgers and read models here")
    args = p.parse_args(argv)
    ledgers = set(args.ledgers.split(","))
    if not ledgers <= {"demo", "crm"}:
        p.error(f"--ledgers: demo, crm or both, not {args.ledgers}")
    args.ledgers = ledgers
    return args


def run(args: argparse.Namespace, work: Path) -> int:
    new_root = args.new.resolve()
    python = args.python or default_python(new_root)
    old = Side("OLD", args.old.resolve(), args.old_python or python)
    new = Side("NEW", new_root, args.new_python or python)
    for side in (old, new):
        side.check_imports(work)
        print(f"{side.name}: {side.root} ({side.entry}) with {side.python}", flush=True)
    report = Report()
    builds = []
    if "demo" in args.ledgers:
        folder = work / "demo"
        folder.mkdir()
        seconds = build_demo(
            old, folder, args.seed, args.demo_until, args.demo_reps, args.demo_weeks
        )
        report.built("build demo ledger (OLD)", seconds)
        builds.append(("demo", folder, args.demo_until))
    if "crm" in args.ledgers:
        folder = work / "crm"
        folder.mkdir()
        report.built("build CRM walkthrough ledger (OLD)", build_crm(old, folder))
        builds.append(("crm", folder, CRM_ON))
    # every event is recorded before this instant; both sides read the ledgers as of it
    as_of = (datetime.now(UTC) + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    print(f"reading as of {as_of}", flush=True)
    if not args.no_help:
        compare_help(old, new, work, report)
    for title, folder, on in builds:
        compare_ledger(title, old, new, folder, on, as_of, report)
    differing = report.differing
    for item in differing[: args.max_diffs]:
        print("\n".join(diff(item, args.diff_lines)) + "\n")
    if len(differing) > args.max_diffs:
        print(f"... and {len(differing) - args.max_diffs} more differing outputs:")
        for item in differing[args.max_diffs :]:
            print(f"  {item.label}")
        print()
    print(table(report))
    if differing:
        print(f"\nDIFFERENT: {len(differing)} of {len(report.compared)} outputs differ")
        return 1
    print(f"\nIDENTICAL: all {len(report.compared)} outputs are byte-for-byte the same")
    return 0


def main(argv: list[str]) -> int:
    args = parse(argv)
    try:
        if args.work:
            args.work.mkdir(parents=True, exist_ok=False)
            return run(args, args.work.resolve())
        with tempfile.TemporaryDirectory(prefix="compare-outputs-") as tmp:
            return run(args, Path(tmp))
    except CompareError as exc:
        print(f"compare_outputs: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
