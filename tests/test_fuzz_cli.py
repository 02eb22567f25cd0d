"""Fuzzing the command line with hypothesis: every option of every command.

Random argument lists and random values (dates, numbers, unicode, control
characters, very long strings, id prefixes, SQL and formula metacharacters)
run in-process through click's ``CliRunner`` against one seeded SQLite
ledger. Invariants, checked on every example:

* never a Python traceback: the only exception that may leave the command is
  ``SystemExit``;
* the exit code is one of SPEC §5 (0-5);
* stderr holds no raw control characters (an argument quoted in a message
  cannot drive the terminal);
* on a non-zero exit stderr says what was wrong: non-empty, its last line
  ``error: ...`` (ours) or ``Error: ...`` (click's usage errors), or the
  group's help (exit 2) for a group named without a subcommand;
* no "unexpected <Exception>" message: against a healthy ledger every
  failure is one the code names;
* on a non-zero exit the event count is unchanged and ``verify`` passes
  (after a successful write, ``verify`` passes too).

Budget: ``COMMITMENTS_FUZZ_EXAMPLES`` examples per command (default 200 in CI:
about 4 000 invocations, 40 s with the importer fuzzing on 2 cores); e.g.
``COMMITMENTS_FUZZ_EXAMPLES=2000`` for a long run. The hypothesis settings
live in the ``commitments-fuzz`` profile below. ``projections follow`` is left
out (it runs until stopped).
"""

from __future__ import annotations

import os
import re
import sqlite3
import string
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.budget import examples

TERMINAL_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f\u202e]")
EXAMPLES = examples(200, fuzz=True)
settings.register_profile(
    "commitments-fuzz",
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=list(HealthCheck),
)
FUZZ = settings(settings.get_profile("commitments-fuzz"))

# -- hostile values ----------------------------------------------------------------

HOSTILE_TEXT = [
    "",
    " ",
    "   padded   ",
    "\x00",
    "a\x00b",
    "\x1b[31mred\x1b[0m",
    "line\nbreak",
    "tab\there",
    "\r",
    "\x7f",
    "\u0085",
    "=1+1",
    '=HYPERLINK("http://evil.example","x")',
    "+SUM(A1:A9)",
    "-2+3",
    "@cmd",
    "\t=1",
    "<script>alert(1)</script>",
    '" onmouseover="alert(1)',
    "'; DROP TABLE stored_events; --",
    "Robert'); DELETE FROM commitments;--",
    '"; SELECT * FROM sqlite_master; --',
    "%s%s%n%x",
    "{0}{1}",
    "50%_off",
    "../../etc/passwd",
    "| a | b |",
    "`code` *bold* [link](javascript:alert(1))",
    "ünïcödé",
    "名前",
    "🙂👍🏽",
    "\u202eevil",
    "\u200b",
    "\udcff",  # what invalid UTF-8 in argv becomes (surrogateescape)
    "--rep",
    "-",
    "x" * 101,
    "y" * 2001,
]
DATES_BAD = [
    "2026-02-30",
    "2026-13-01",
    "2026-00-10",
    "26-01-01",
    "2026/01/05",
    "20260105",
    "2026-1-5",
    "2026-01-05T00:00:00",
    "0000-01-01",
    "0001-01-01",
    "1899-12-31",
    "3000-01-01",
    "9999-12-31",
    "today",
    "٢٠٢٦-٠١-٠٥",
    " 2026-01-05",
]
NUMBERS_BAD = [
    "nan",
    "NaN",
    "inf",
    "-inf",
    "1e308",
    "1e309",
    "-0",
    "-1",
    "0x10",
    "1_000",
    "",
    "1e-400",
    "99999999999999999999999999999",
    "٣",
    "1,5",
    "ten",
]


def texts() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(HOSTILE_TEXT),
        st.text(max_size=40),
        st.text(st.characters(codec=None, categories=["Cc", "Cf", "Zs", "So", "Lo"]), max_size=20),
        st.integers(90, 120).map(lambda n: "p" * n),
        st.integers(1990, 2010).map(lambda n: "t" * n),
        st.sampled_from(["alice", "bob", "carol", "prospecting", "pipeline", "calls"]),
    )


def people() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(["alice", "bob", "carol", " alice ", "ALICE"]), texts())


def dates() -> st.SearchStrategy[str]:
    return st.one_of(
        st.dates(date(2025, 10, 1), date(2026, 6, 30)).map(date.isoformat),
        st.dates().map(lambda d: f"{d.year:04d}-{d.month:02d}-{d.day:02d}"),
        st.sampled_from(DATES_BAD),
        texts(),
    )


def instants() -> st.SearchStrategy[str]:
    return st.one_of(
        dates(),
        st.datetimes(timezones=st.timezones()).map(lambda t: t.isoformat()),
        st.sampled_from(["2026-03-01T12:00:00Z", "2026-03-01T12:00:00+14:00", "2026-03-01 12:00"]),
    )


def numbers() -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(-5, 200).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.floats(0, 2, allow_nan=False).map(repr),
        st.sampled_from(NUMBERS_BAD),
        texts(),
    )


def integers() -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(-3, 40).map(str),
        st.integers().map(str),
        st.sampled_from(["0", "-1", "1.5", "", "1e3", "99999999999999999999999999"]),
        texts(),
    )


def choice(*values: str) -> Callable[[], st.SearchStrategy[str]]:
    return lambda: st.one_of(st.sampled_from(values), texts())


FLAG = None  # an option without a value


# -- the seeded ledger --------------------------------------------------------------


@dataclass
class World:
    """One seeded SQLite ledger the fuzzed commands run against."""

    root: Path
    db: str
    views: str
    ids: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)

    def count(self) -> int:
        conn = sqlite3.connect(self.db)
        try:
            return int(conn.execute("SELECT count(*) FROM stored_events").fetchone()[0])
        finally:
            conn.close()


def seed(db: str) -> dict[str, str]:
    """A few of every kind of event; returns their ids."""
    from ledger.application import Ledger

    ledger = Ledger.open(db)
    try:
        a: dict[str, Any] = {"actor": "seed"}
        sid = ledger.record_session(
            rep="alice", manager="bob", date="2026-01-05", prepared=True,
            focus_areas=["prospecting"], note="first", **a,
        )  # fmt: skip
        calls = ledger.agree(
            rep="alice", manager="bob", focus="prospecting", behavior="outbound calls",
            target=10, period="week", start="2026-01-05", session_id=sid, **a,
        )  # fmt: skip
        ride = ledger.agree(
            rep="alice", manager="bob", owner="manager", focus="prospecting",
            behavior="ride-alongs", target=2, period="window", start="2026-01-05",
            supports=calls, **a,
        )  # fmt: skip
        demo = ledger.agree(
            rep="carol", manager="bob", focus="discovery", behavior="run a demo", done=True,
            start="2026-01-05", days=14, **a,
        )  # fmt: skip
        metric = ledger.agree(
            rep="carol",
            manager="dan",
            focus="pipeline",
            behavior="log calls",
            target=5,
            metric="calls",
            start="2026-02-01",
            expect_metric="won",
            expect_at_least=10,
            new_metric=True,
            **a,
        )  # fmt: skip  (its activity is recorded below)
        ledger.check_in(calls, date="2026-01-11", actual=9, **a)
        ledger.check_in(calls, date="2026-01-18", actual=12, **a)
        ledger.close_commitment(ride, date="2026-02-04", result="met", **a)
        ledger.release(demo, date="2026-01-10", reason="customer cancelled", **a)
        ledger.record_activities(
            {"rep": "carol", "metric": "calls", "date": f"2026-02-{d:02d}", "value": d,
             "source_id": f"c{d}", **a}
            for d in range(1, 6)
        )  # fmt: skip
        return {
            "session": str(sid),
            "calls": str(calls),
            "ride": str(ride),
            "demo": str(demo),
            "metric": str(metric),
        }
    finally:
        ledger.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("fuzz")
    w = World(root, str(root / "ledger.db"), str(root / "ledger.views.db"))
    w.ids = seed(w.db)
    (root / "out").mkdir()
    good = root / "activity.csv"
    good.write_text("rep,day,n,id,stage\nalice,2026-01-06,3,r1,Won\ncarol,2026-02-02,1,r2,Lost\n")
    w.files["csv"] = str(good)
    export = root / "export.jsonl"
    result = invoke(w, ["export", "-o", str(export)])
    assert result.exit_code == 0, result.stderr
    w.files["export"] = str(export)
    lines = export.read_text().splitlines()
    (root / "truncated.jsonl").write_text("\n".join(lines[:3]) + "\n" + lines[3][:40])
    w.files["truncated"] = str(root / "truncated.jsonl")
    (root / "garbage.bin").write_bytes(b"\x00\xff\xfe garbage \r\n,;|")
    w.files["garbage"] = str(root / "garbage.bin")
    cwd = os.getcwd()
    os.chdir(root / "out")  # relative output paths land here
    try:
        yield w
    finally:
        os.chdir(cwd)


def invoke(w: World, args: list[str], actor: str = "fuzzer") -> Result:
    from cli.main import cli

    runner = CliRunner()
    return runner.invoke(
        cli,
        ["--db", w.db, "--views", w.views, "--actor", actor, *args],
        catch_exceptions=True,
    )


def check(w: World, args: list[str], result: Result, before: int) -> None:
    """The invariants of every invocation."""
    shown = f"args={args!r}\nexit={result.exit_code}\nstderr={result.stderr[-2000:]!r}"
    exc = result.exception
    if exc is not None and not isinstance(exc, SystemExit):
        tb = "".join(traceback.format_exception(exc))
        pytest.fail(f"uncaught {type(exc).__name__}: {exc}\n{shown}\n{tb}")
    assert result.exit_code in range(6), shown
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, shown
    assert not TERMINAL_CONTROL.search(result.stderr), f"raw control characters\n{shown}"
    if result.exit_code != 0:
        err = result.stderr.strip()
        assert err, shown
        last = err.splitlines()[-1]
        is_help = result.exit_code == 2 and err.startswith("Usage:")  # a group without command
        assert is_help or (last.startswith(("error: ", "Error: ")) and len(last) > 8), shown
        assert w.count() == before, f"a refused command wrote events\n{shown}"
        # every failure against a healthy ledger is a named one, never "unexpected X"
        assert not last.startswith("error: unexpected"), shown
    _verify(w)


def _verify(w: World) -> None:
    from ledger.application import Ledger
    from ledger.audit import verify

    ledger = Ledger.open(w.db)
    try:
        verify(ledger)
    finally:
        ledger.close()


# -- the commands and their options ------------------------------------------------

Spec = dict[str, Callable[[], st.SearchStrategy[str]] | None]

PER = choice("day", "week", "month", "window")
FORMAT = choice("table", "json", "csv", "md", "html")


def out_paths() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(["report.html", "r.csv", "-", "missing/dir/x.md", ".", "名前 ✓.md"]),
        st.text(string.ascii_letters + "_ .-", min_size=1, max_size=20).filter(
            lambda s: s not in (".", "..")
        ),
    )


COMMANDS: dict[str, tuple[list[str], list[str], Spec]] = {
    # name: (command words, positional kinds, options)
    "session": (
        ["session", "record"],
        [],
        {
            "--rep": people,
            "--manager": people,
            "--on": dates,
            "--prepared": FLAG,
            "--not-prepared": FLAG,
            "--strength": texts,
            "--focus": texts,
            "--note": texts,
        },
    ),
    "agree": (
        ["agree"],
        [],
        {
            "--rep": people,
            "--manager": people,
            "--owner": choice("rep", "manager"),
            "--focus": texts,
            "--behavior": texts,
            "--target": numbers,
            "--per": PER,
            "--unit": texts,
            "--metric": texts,
            "--done": FLAG,
            "--baseline": numbers,
            "--start": dates,
            "--due": dates,
            "--days": integers,
            "--expect": texts,
            "--expect-metric": texts,
            "--expect-at-least": numbers,
            "--session": lambda: ids("session"),
            "--supports": lambda: ids("calls"),
            "--kept-at": numbers,
            "--partial-at": numbers,
            "--override-focus-cap": texts,
            "--on": dates,
            "--new-metric": FLAG,
            "--proposed-by": choice("rep", "manager"),
        },
    ),
    "check-in": (
        ["check-in"],
        ["id"],
        {"--on": dates, "--actual": numbers, "--done": FLAG, "--note": texts},
    ),
    "correct": (
        ["correct"],
        ["id"],
        {
            "--check-in": integers,
            "--actual": numbers,
            "--done": FLAG,
            "--not-done": FLAG,
            "--reason": texts,
        },
    ),
    "revise": (
        ["revise"],
        ["id"],
        {
            "--on": dates,
            "--reason": texts,
            "--target": numbers,
            "--per": PER,
            "--due": dates,
            "--behavior": texts,
        },
    ),
    "release": (["release"], ["id"], {"--on": dates, "--reason": texts}),
    "close": (
        ["close"],
        ["id"],
        {
            "--on": dates,
            "--result": choice("met", "missed", "unknown"),
            "--value": numbers,
            "--note": texts,
        },
    ),
    "show": (
        ["show"],
        ["id"],
        {"--as-of": instants, "--on": dates, "--format": choice("table", "json")},
    ),
    "list": (
        ["list"],
        [],
        {
            "--rep": people,
            "--manager": people,
            "--status": choice("open", "overdue", "released", "closed"),
            "--verdict": choice("open", "broken", "honest_miss", "blocked"),
            "--as-of": instants,
            "--on": dates,
            "--format": choice("table", "json", "csv", "md"),
        },
    ),
    "history": (
        ["history"],
        ["person"],
        {
            "--as-of": instants,
            "--on": dates,
            "--window-days": integers,
            "--format": FORMAT,
            "-o": out_paths,
        },
    ),
    "report": (
        ["report", "coaching"],
        [],
        {
            "--manager": people,
            "--as-of": instants,
            "--on": dates,
            "--window-days": integers,
            "--format": FORMAT,
            "-o": out_paths,
        },
    ),
    "prep": (
        ["prep"],
        ["person"],
        {
            "--manager": people,
            "--as-of": instants,
            "--on": dates,
            "--format": choice("table", "json", "md", "html"),
            "-o": out_paths,
        },
    ),
    "plan": (
        ["plan"],
        ["person"],
        {
            "--as-of": instants,
            "--on": dates,
            "--format": choice("table", "json", "md", "html"),
            "-o": out_paths,
        },
    ),
    "model": (
        ["model"],
        ["person"],
        {
            "--activity": choice("calls", "won"),
            "--outcome": choice("won", "calls"),
            "--to": numbers,
            "--per": PER,
            "--days": integers,
            "--history-days": integers,
            "--as-of": instants,
            "--on": dates,
            "--seed": integers,
            "--format": choice("table", "json"),
        },
    ),
    "due": (
        ["due"],
        [],
        {
            "--manager": people,
            "--rep": people,
            "--within": integers,
            "--as-of": instants,
            "--on": dates,
            "--format": choice("table", "json", "ics"),
            "-o": out_paths,
        },
    ),
    "report-hypotheses": (
        ["report", "hypotheses"],
        [],
        {
            "--manager": people,
            "--as-of": instants,
            "--on": dates,
            "--window-days": integers,
            "--format": choice("table", "json", "csv", "md"),
        },
    ),
    "activity": (
        ["activity", "import"],
        ["csv"],
        {
            "--metric": choice("calls", "won"),
            "--rep-column": choice("rep", "day", "missing"),
            "--date-column": choice("day", "rep"),
            "--value-column": choice("n", "stage"),
            "--id-column": choice("id", "stage"),
            "--date-format": choice("%Y-%m-%d", "%d-%m-%y", "%Y", "%", "%Q", "%H:%M"),
            "--where": choice("stage=Won", "stage!=Won", "stage", "=x", "!=", "nope=1"),
        },
    ),
    "export": (["export"], [], {"-o": out_paths, "--since": integers}),
    "import": (["import"], ["jsonl"], {}),
    "verify": (
        ["verify"],
        [],
        {"--digest": lambda: st.one_of(st.text("0123456789abcdefABCDEF", max_size=70), texts())},
    ),
    "projections-status": (["projections", "status"], [], {"--format": choice("table", "json")}),
    "projections-rebuild": (["projections", "rebuild"], [], {"--page-size": integers}),
    "init": (["init"], [], {}),
    "demo": (["demo"], [], {"--reps": integers, "--weeks": integers, "--seed": integers}),
}


def ids(kind: str) -> st.SearchStrategy[str]:
    """Placeholders resolved against the world: full ids, prefixes, near misses."""
    return st.one_of(
        st.tuples(st.just(kind), st.integers(1, 36), st.sampled_from(["", "upper", "nodash"])).map(
            lambda t: f"@id:{t[0]}:{t[1]}:{t[2]}"
        ),
        st.text("0123456789abcdef", min_size=1, max_size=40),
        texts(),
    )


def positional(kind: str) -> st.SearchStrategy[str]:
    if kind == "id":
        return st.one_of(
            st.sampled_from(["calls", "ride", "demo", "metric", "session"]).flatmap(ids),
            ids("calls"),
        )
    if kind == "person":
        return people()
    if kind == "csv":
        return st.one_of(
            st.just("@file:csv"),
            st.sampled_from(["@file:garbage", "@file:export", "missing.csv", ".", "-"]),
        )
    if kind == "jsonl":
        return st.sampled_from(
            ["@file:export", "@file:truncated", "@file:garbage", "@file:csv", "missing.jsonl", "."]
        )
    raise AssertionError(kind)


def resolve(w: World, value: str) -> str:
    """Turn the placeholders of :func:`ids` and :func:`positional` into real values."""
    if value.startswith("@id:"):
        _, kind, length, style = value.split(":")
        text = w.ids[kind]
        if style == "nodash":
            text = text.replace("-", "")
        text = text[: int(length)]
        return text.upper() if style == "upper" else text
    if value.startswith("@file:"):
        return w.files[value.removeprefix("@file:")]
    return value


@st.composite
def argv(draw: st.DrawFn, name: str) -> list[str]:
    words, kinds, spec = COMMANDS[name]
    args = list(words)
    for kind in kinds:
        if draw(st.integers(0, 9)) > 0:
            args.append(draw(positional(kind)))
    chosen = [o for o in spec if draw(st.integers(0, 9)) < 6]
    for option in draw(st.permutations(chosen)):
        strategy = spec[option]
        if strategy is None:
            args.append(option)
        else:
            args += [option, draw(strategy())]
            if option in ("--strength", "--focus", "--where") and draw(st.booleans()):
                args += [option, draw(strategy())]
    if draw(st.integers(0, 19)) == 0:  # now and then a stray token
        args.insert(draw(st.integers(0, len(args))), draw(texts()))
    return args


@pytest.mark.parametrize("name", list(COMMANDS))
@FUZZ
@given(data=st.data())
def test_fuzzed_options_never_crash_and_refusals_write_nothing(
    world: World, name: str, data: st.DataObject
) -> None:
    args = [resolve(world, a) for a in data.draw(argv(name), label="argv")]
    actor = data.draw(st.one_of(st.just("fuzzer"), people()), label="actor")
    before = world.count()
    result = invoke(world, args, actor=actor)
    check(world, args, result, before)


ALL_OPTIONS = sorted({o for _, _, spec in COMMANDS.values() for o in spec})
TOKENS = st.one_of(
    st.sampled_from(ALL_OPTIONS),
    st.sampled_from(["--help", "-h", "--version", "--", "-", "--db", "--actor"]),
    texts(),
    dates(),
    numbers(),
)


@FUZZ
@given(
    words=st.sampled_from([w for w, _, _ in COMMANDS.values()] + [[], ["nope"], ["projections"]]),
    tokens=st.lists(TOKENS, max_size=8),
)
def test_random_argument_lists_never_crash(
    world: World, words: list[str], tokens: list[str]
) -> None:
    args = [*words, *tokens]
    before = world.count()
    result = invoke(world, args)
    check(world, args, result, before)


@pytest.mark.parametrize(
    "location",
    [
        "missing-dir/ledger.db",
        ".",
        "postgresql://",
        "mysql://x/y",
        "file:ledger.db?mode=ro",
        "\x00",
        "",
    ],
)
def test_hostile_db_locations_fail_cleanly(world: World, location: str) -> None:
    from cli.main import cli

    for args in (["list"], ["verify"], ["session", "record", "--rep", "a", "--manager", "b",
                                         "--on", "2026-01-05"]):  # fmt: skip
        result = CliRunner().invoke(cli, ["--db", location, *args], catch_exceptions=True)
        shown = f"db={location!r} args={args} -> {result.exit_code} {result.stderr!r}"
        assert result.exception is None or isinstance(result.exception, SystemExit), shown
        assert result.exit_code in range(6), shown
        if result.exit_code:
            assert result.stderr.strip().splitlines()[-1].startswith(("error: ", "Error: ")), shown


__all__: list[Any] = ["World", "check", "invoke", "seed"]
