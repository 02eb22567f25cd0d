"""Import refuses a line over 16 MiB or nested deeper than 64 levels (SPEC §7.2,
issue 12 finding 8): exit 2 naming the line, nothing written, memory flat."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest

from ledger.audit import MAX_DEPTH, MAX_LINE, limited_lines
from ledger.errors import InvalidInput
from tests.conftest import Cli, event_count
from tests.test_audit import build_sample


@pytest.fixture
def export(cli: Cli, tmp_path: Path) -> list[str]:
    build_sample(cli.db)
    path = tmp_path / "x.jsonl"
    cli.ok(f"export -o {path}")
    return path.read_text("utf-8").splitlines()


def refused(cli: Cli, path: Path, line: int, why: str) -> None:
    before = event_count(cli.db)
    result = cli(f"import {path}")
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert result.stdout == ""
    assert result.stderr.strip() == f"error: line {line}: {why}"
    assert event_count(cli.db) == before


def test_a_line_nested_200000_levels_deep_is_refused_naming_it(
    cli: Cli, export: list[str], tmp_path: Path
) -> None:
    """Was "unexpected RecursionError", exit 1, no line."""
    path = tmp_path / "deep.jsonl"
    path.write_text("\n".join([*export[:3], "[" * 200_000 + "]" * 200_000]) + "\n")
    refused(cli, path, 4, "nested deeper than 64 levels")


def test_65_levels_are_refused_and_brackets_inside_strings_do_not_count(
    cli: Cli, export: list[str], tmp_path: Path
) -> None:
    deep = json.loads(export[1])
    deep["data"]["note"] = "[" * 500 + "{" * 500  # text, not nesting
    nested: object = 1
    for _ in range(MAX_DEPTH - 1):
        nested = [nested]
    ok = tmp_path / "ok.jsonl"
    ok.write_text(json.dumps({"x": nested, "note": "[{" * 400}) + "\n")
    too_deep = tmp_path / "deep.jsonl"
    too_deep.write_text(json.dumps({"x": [nested], "note": "[{" * 400}) + "\n")
    refused(cli, too_deep, 1, "nested deeper than 64 levels")
    # 64 levels pass the size check and are refused as an export line instead
    result = cli(f"import {ok}")
    assert result.exit_code == 2 and "nested" not in result.stderr


def test_a_line_over_16_mib_is_refused_naming_it(
    cli: Cli, export: list[str], tmp_path: Path
) -> None:
    path = tmp_path / "big.jsonl"
    big = json.loads(export[1])
    big["data"]["note"] = "x" * (MAX_LINE + 10)
    with path.open("w", encoding="utf-8") as out:
        out.write(export[0] + "\n")
        out.write(json.dumps(big) + "\n")
    refused(cli, path, 2, "longer than 16 MiB")


def test_reading_a_long_line_holds_at_most_the_limit_in_memory(tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl"
    size = 4 * 1024 * 1024
    with path.open("wb") as out:
        out.write(b'{"a":1}\n')
        out.write(b"x" * size + b"\n")
    limit = 256 * 1024
    tracemalloc.start()
    try:
        with path.open("rb") as handle:
            lines = limited_lines(handle, limit)
            assert next(lines) == b'{"a":1}\n'
            with pytest.raises(InvalidInput, match=r"^line 2: longer than"):
                next(lines)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * limit < size  # never the whole line


def test_a_line_of_exactly_the_limit_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "edge.jsonl"
    path.write_bytes(b"y" * 99 + b"\n" + b"z" * 100)
    with path.open("rb") as handle:
        assert [len(x) for x in limited_lines(handle, 100)] == [100, 100]
