"""Two ledgers never serve each other's rows, even when readers race on one
views file (SQLite ledgers; finding 6 of issue 12).

Four processes, two per ledger, read ``list --format json`` in a loop against
one shared ``--views`` file (the situation of every PostgreSQL ledger run from
one folder before the default views file carried the ledger id). Every
answer with exit 0 must hold only its own ledger's commitments; a refusal
must be the one SPEC §7.2 names (exit 4, naming both ledgers) with nothing on
stdout. The tracking row is checked inside the same read transaction as the
rows served, so a rebuild for the other ledger cannot slip in between.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, Cli

ROUNDS = 40

WORKER = r"""
import json, sys
from click.testing import CliRunner
from cli.main import cli

db, views, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
runner = CliRunner()
out = []
for _ in range(rounds):
    r = runner.invoke(cli, ["--db", db, "--views", views, "list", "--format", "json"])
    ids = sorted(i["id"] for i in json.loads(r.stdout)) if r.exit_code == 0 else None
    out.append([r.exit_code, ids, r.stderr.strip(), r.stdout])
print(json.dumps(out))
"""


def _ledger(path: Path, rep: str, count: int) -> set[str]:
    cli = Cli(str(path), str(path.with_suffix(".own.views.db")))
    ids = set()
    for i in range(count):
        ids.add(
            cli.ok(
                f"agree --rep {rep}{i % 7} --manager mona --focus f{i % 2} --behavior calls "
                "--target 5 --start 2026-01-05 --override-focus-cap 'race test'",
            )
        )
    return ids


def test_readers_of_two_ledgers_racing_on_one_views_file_never_get_the_other_s_rows(
    tmp_path: Path,
) -> None:
    ledgers = {
        "a": (tmp_path / "a.db", _ledger(tmp_path / "a.db", "anna", 60)),
        "b": (tmp_path / "b.db", _ledger(tmp_path / "b.db", "bert", 3)),
    }
    shared = tmp_path / "shared.views.db"
    procs = [
        (name, subprocess.Popen(
            [sys.executable, "-c", WORKER, str(path), str(shared), str(ROUNDS)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ))
        for name in ("a", "b", "a", "b")
        for path in [ledgers[name][0]]
    ]  # fmt: skip
    served = refused = 0
    wrong: list[str] = []
    for name, proc in procs:
        stdout, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, stderr
        expected = sorted(ledgers[name][1])
        for code, ids, message, out in json.loads(stdout):
            if code == 0:
                served += 1
                if ids != expected:
                    wrong.append(
                        f"{name}: {len(ids)} rows, {len(set(ids) - set(expected))} foreign"
                    )
            else:
                refused += 1
                assert code == 4, (code, message)
                assert out == "" and "a.db" in message and "b.db" in message, message
    assert wrong == [], f"{len(wrong)} of {served} answers served the wrong rows: {wrong[:5]}"
    assert served > 0
    print(f"views race: {served} answers served, {refused} refused, 0 wrong")
