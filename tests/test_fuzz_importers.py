"""Fuzzing the importers: activity CSV files and JSONL exports, mangled.

Valid files are built, then mutated by hypothesis: truncated at any byte,
re-encoded (Latin-1, UTF-16, a UTF-8 BOM), other delimiters, duplicated or
missing headers, huge fields (up to 10 MB), NUL bytes, mixed line endings,
lines dropped, repeated, swapped or edited. The same invariants as
``tests/test_fuzz_cli.py`` (no traceback, exit 0-5, a one-line error, a
refused import writes nothing and ``verify`` passes), plus: a refused import
names the line of the file that is wrong.

Budget: ``COMMITMENTS_FUZZ_EXAMPLES`` examples per test (default 200).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.test_fuzz_cli import FUZZ, World, check, invoke, seed

MB = 1 << 20
LINE = re.compile(r"(line \d+|:\d+: )")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("fuzz-import")
    w = World(root, str(root / "ledger.db"), str(root / "ledger.views.db"))
    w.ids = seed(w.db)
    export = root / "export.jsonl"
    assert invoke(w, ["export", "-o", str(export)]).exit_code == 0
    w.files["export"] = str(export)
    yield w


def refused_names_the_line(result_stderr: str) -> bool:
    return bool(LINE.search(result_stderr))


# -- CSV -------------------------------------------------------------------------------

HEADER = ["rep", "day", "n", "id"]
CSV_OPTIONS = [
    "--metric", "calls", "--rep-column", "rep", "--date-column", "day",
    "--value-column", "n", "--id-column", "id",
]  # fmt: skip

cells = st.one_of(
    st.sampled_from(["alice", "José Ñúñez", "名前", "=cmd|' /C calc'!A0", "a\x00b", "", " "]),
    st.text(max_size=12),
)
rows = st.lists(
    st.tuples(
        st.sampled_from(["alice", "carol", "José", "名前", "", "=1+1"]) | cells,
        st.sampled_from(["2026-01-05", "2026-02-30", "05/01/2026", ""])
        | st.dates().map(lambda d: f"{d.year:04d}-{d.month:02d}-{d.day:02d}"),
        st.sampled_from(["1", "2.5", "-1", "nan", "1e13", "", "x"]) | st.integers(0, 99).map(str),
        st.text("abcdef0123456789", min_size=1, max_size=8) | cells,
    ),
    max_size=12,
)
CSV_MUTATIONS = st.sampled_from(
    [
        "none",
        "latin-1",
        "utf-16",
        "bom",
        "semicolon",
        "tab",
        "duplicate-header",
        "missing-header",
        "no-header",
        "empty",
        "nul-bytes",
        "mixed-endings",
        "cr-only",
        "truncate",
        "huge-field",
        "huge-field-10mb",
        "unbalanced-quote",
        "short-row",
        "long-row",
    ]
)


def csv_bytes(table: list[tuple[str, ...]], mutation: str, cut: float) -> bytes:
    header = list(HEADER)
    if mutation == "duplicate-header":
        header[3] = "rep"
    if mutation == "missing-header":
        header = header[:2]
    body = [header, *[list(r) for r in table]]
    if mutation == "no-header":
        body = body[1:]
    if mutation == "short-row" and len(body) > 1:
        body[-1] = body[-1][:2]
    if mutation == "long-row" and len(body) > 1:
        body[-1] = [*body[-1], "extra", "more"]
    if mutation in ("huge-field", "huge-field-10mb"):
        size = 10 * MB if mutation == "huge-field-10mb" else 2 * MB
        body.append(["alice", "2026-01-05", "1", "x" * size])
    delimiter = {"semicolon": ";", "tab": "\t"}.get(mutation, ",")

    def quote(cell: str) -> str:
        if any(ch in cell for ch in f'{delimiter}"\r\n'):
            return '"' + cell.replace('"', '""') + '"'
        return cell

    lines = [delimiter.join(quote(c) for c in row) for row in body]
    if mutation == "unbalanced-quote" and lines:
        lines[-1] += ',"never closed'
    if mutation == "mixed-endings":
        text = "".join(line + ("\r\n", "\n", "\r")[i % 3] for i, line in enumerate(lines))
    elif mutation == "cr-only":
        text = "".join(line + "\r" for line in lines)
    else:
        text = "".join(line + "\n" for line in lines)
    if mutation == "empty":
        text = ""
    if mutation == "nul-bytes":
        text = text.replace(",", ",\x00", 2)
    encoding = {"latin-1": "latin-1", "utf-16": "utf-16"}.get(mutation, "utf-8")
    data = text.encode(encoding, errors="replace")
    if mutation == "bom":
        data = b"\xef\xbb\xbf" + data
    if mutation == "truncate":
        data = data[: int(len(data) * cut)]
    return data


@FUZZ
@given(
    table=rows,
    mutation=CSV_MUTATIONS,
    cut=st.floats(0, 1),
    where=st.sampled_from([[], ["--where", "rep"], ["--where", "n!=0"]]),
)
def test_mangled_activity_csv_never_crashes_and_refusals_name_the_line(
    world: World, table: list[tuple[str, ...]], mutation: str, cut: float, where: list[str]
) -> None:
    path = world.root / "activity.csv"
    path.write_bytes(csv_bytes(table, mutation, cut))
    args = ["activity", "import", str(path), *CSV_OPTIONS, *where]
    before = world.count()
    result = invoke(world, args)
    check(world, [*args[:3], mutation], result, before)
    if result.exit_code != 0:
        assert refused_names_the_line(result.stderr), (mutation, result.stderr[-500:])


def test_a_10_mb_field_is_refused_naming_its_line(world: World) -> None:
    path = world.root / "huge.csv"
    path.write_bytes(csv_bytes([("alice", "2026-01-05", "1", "ok1")], "huge-field-10mb", 1.0))
    before = world.count()
    result = invoke(world, ["activity", "import", str(path), *CSV_OPTIONS])
    assert result.exit_code == 2
    assert f"{path}:3:" in result.stderr and "field larger than field limit" in result.stderr
    assert world.count() == before


def test_a_latin_1_file_is_refused_naming_its_line(world: World) -> None:
    path = world.root / "latin1.csv"
    path.write_bytes(
        "rep,day,n,id\nalice,2026-01-05,1,l1\nJosé,2026-01-06,1,l2\n".encode("latin-1")
    )
    before = world.count()
    result = invoke(world, ["activity", "import", str(path), *CSV_OPTIONS])
    assert result.exit_code == 2
    assert f"{path}:3:" in result.stderr and "utf-8" in result.stderr.lower()
    assert world.count() == before


# -- JSONL -----------------------------------------------------------------------------

JSONL_MUTATIONS = st.sampled_from(
    [
        "none",
        "truncate",
        "drop-line",
        "repeat-line",
        "swap-lines",
        "edit-byte",
        "edit-value",
        "latin-1",
        "utf-16",
        "bom",
        "crlf",
        "mixed-endings",
        "nul-bytes",
        "huge-field",
        "blank-lines",
        "semicolons",
        "not-json",
        "surrogate",
    ]
)


def jsonl_bytes(lines: list[str], mutation: str, at: int, cut: float) -> bytes:
    lines = list(lines)
    i = at % len(lines)
    if mutation == "drop-line":
        del lines[i]
    elif mutation == "repeat-line":
        lines.insert(i, lines[i])
    elif mutation == "swap-lines" and len(lines) > 1:
        j = (i + 1) % len(lines)
        lines[i], lines[j] = lines[j], lines[i]
    elif mutation == "edit-value":
        lines[i] = lines[i].replace('"alice"', '"mallory"').replace('"bob"', '"eve"')
    elif mutation == "huge-field":
        lines[i] = lines[i].replace('"data":{', '"data":{"zz":"' + "x" * (10 * MB) + '",', 1)
    elif mutation == "semicolons":
        lines[i] = lines[i].replace(",", ";")
    elif mutation == "not-json":
        lines[i] = lines[i][: len(lines[i]) // 2]
    elif mutation == "surrogate":
        lines[i] = lines[i].replace('"alice"', '"ali\\ud800ce"')
    elif mutation == "nul-bytes":
        lines[i] = lines[i].replace(",", ",\x00", 1)
    if mutation == "crlf":
        text = "".join(line + "\r\n" for line in lines)
    elif mutation == "mixed-endings":
        text = "".join(line + ("\r\n", "\n", "\r")[k % 3] for k, line in enumerate(lines))
    elif mutation == "blank-lines":
        text = "\n\n".join(lines) + "\n\n  \n"
    else:
        text = "".join(line + "\n" for line in lines)
    encoding = {"latin-1": "latin-1", "utf-16": "utf-16"}.get(mutation, "utf-8")
    data = text.encode(encoding, errors="replace")
    if mutation == "latin-1":
        data = data.replace(b"first", "fïrst".encode("latin-1"))
    if mutation == "bom":
        data = b"\xef\xbb\xbf" + data
    if mutation == "edit-byte":
        k = int(len(data) * cut) % max(1, len(data))
        data = data[:k] + bytes([(data[k] + 1) % 256]) + data[k + 1 :]
    if mutation == "truncate":
        data = data[: int(len(data) * cut)]
    return data


@FUZZ
@given(mutation=JSONL_MUTATIONS, at=st.integers(0, 1000), cut=st.floats(0, 1), fresh=st.booleans())
def test_mangled_exports_never_crash_and_refusals_name_the_line(
    world: World, tmp_path_factory: pytest.TempPathFactory, mutation: str, at: int, cut: float,
    fresh: bool,
) -> None:  # fmt: skip
    lines = Path(world.files["export"]).read_text(encoding="utf-8").splitlines()
    path = world.root / "mangled.jsonl"
    path.write_bytes(jsonl_bytes(lines, mutation, at, cut))
    target = world
    if fresh:  # an empty ledger: the import must be all or nothing
        root = tmp_path_factory.mktemp("fresh")
        target = World(root, str(root / "l.db"), str(root / "l.views.db"))
        assert invoke(target, ["init"]).exit_code == 0
    before = target.count()
    result = invoke(target, ["import", str(path)])
    check(target, ["import", mutation, f"fresh={fresh}"], result, before)
    if result.exit_code != 0:
        assert refused_names_the_line(result.stderr), (mutation, result.stderr[-500:])


def test_an_export_with_a_bom_and_crlf_line_ends_imports_whole(
    world: World, tmp_path: Path
) -> None:
    lines = Path(world.files["export"]).read_text(encoding="utf-8").splitlines()
    path = tmp_path / "windows.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + "".join(x + "\r\n" for x in lines).encode())
    target = World(tmp_path, str(tmp_path / "l.db"), str(tmp_path / "l.views.db"))
    result = invoke(target, ["import", str(path)])
    assert result.exit_code == 0, result.stderr
    assert target.count() == len(lines)


def rechain(objs: list[dict]) -> str:
    """Lines with the hash chain recomputed, as anyone can (plain hashlib + json)."""
    import hashlib
    import json

    prev, out = "0" * 64, []
    for o in objs:
        o["prev"] = prev
        body = {k: o[k] for k in ("stream", "version", "type", "recorded_at", "data", "prev")}
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        o["hash"] = prev = hashlib.sha256(text.encode()).hexdigest()
        out.append(json.dumps(o, ensure_ascii=False))
    return "\n".join(out) + "\n"


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("rep", "\x1b[31mEVIL\x1b[0m", "holds control characters"),
        ("note", "x" * (10 * MB), "is longer than 2000 characters"),
        ("actor", "nul\x00byte", "holds control characters"),
    ],
)
def test_a_re_chained_export_cannot_bring_in_what_no_command_accepts(
    world: World, tmp_path: Path, field: str, value: str, why: str
) -> None:
    import json

    objs = [json.loads(x) for x in Path(world.files["export"]).read_text().splitlines()]
    n = next(i for i, o in enumerate(objs) if field in o["data"])
    objs[n]["data"][field] = value
    path = tmp_path / "forged.jsonl"
    path.write_text(rechain(objs), encoding="utf-8")
    target = World(tmp_path, str(tmp_path / "l.db"), str(tmp_path / "l.views.db"))
    assert invoke(target, ["init"]).exit_code == 0
    result = invoke(target, ["import", str(path)])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: line {n + 1}: data.{field} {why}"
    assert target.count() == 0
