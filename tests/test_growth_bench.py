"""bench/growth.py runs end to end at tiny sizes and writes its table, chart and figures."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _growth():
    spec = importlib.util.spec_from_file_location("bench_growth", ROOT / "bench" / "growth.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_growth"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # builds three ledgers and times every operation (~20 s): `make test-all` and CI
def test_the_growth_bench_prints_every_operation_at_every_size_and_draws_the_chart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    growth = _growth()
    png, figures = tmp_path / "img" / "growth.png", tmp_path / "growth.json"
    growth.main(
        ["--reps", "2,5", "--weeks", "3", "--runs", "1", "--dir", str(tmp_path / "ledgers"),
         "--png", str(png), "--json", str(figures)]
    )  # fmt: skip
    out = capsys.readouterr().out
    data = json.loads(figures.read_text())
    assert [d["reps"] for d in data] == [2, 5]
    small, large = (d["events"] for d in data)
    assert 0 < small < large
    header = next(line for line in out.splitlines() if line.startswith("| operation"))
    assert f"{small:,} events" in header and f"{large:,} events" in header
    for op in growth.OPERATIONS:
        row = next(line for line in out.splitlines() if line.startswith(f"| {op} |"))
        assert row.count(" ev/s") == 2 and row.count(" MB") == 2
        slope = row.rstrip(" |").rsplit("|", 1)[1].strip()
        assert float(slope) > 0
        for d in data:
            assert d[op]["seconds"] > 0 and d[op]["peak_mb"] > 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list((tmp_path / "ledgers").iterdir())  # the ledgers are removed size by size
