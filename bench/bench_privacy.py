"""The cost of encryption (issue 14, "Must show": bench/), in one run:

1. read-model **rebuild** of the same ledger twice: once with free text in
   clear (the baseline, as before release 3), once with every free-text field
   sealed under its owner's key (as every command writes it now), so the
   rebuild opens each one (AES-256-GCM) into the read model. Aim: the sealed
   rebuild's throughput >= 0.8x the clear one's.
2. whole-process ``commitments history REP --format json`` on both, median of
   >= 10 runs each, interleaved. Aim: sealed latency <= 1.2x clear.

Both ledgers hold the same events: the sealed one is the clear one's export
with its free text sealed (a key per person in its key store, the chain
recomputed) and imported. Usage::

    python bench/bench_privacy.py                          # ~200k events
    python bench/bench_privacy.py --reps 5000 --weeks 52   # ~1M events (the issue's size)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_read import busiest_rep, child_env, commitments_cmd, event_count  # noqa: E402


def sealed_copy(clear_db: str, sealed_db: str) -> int:
    """Export ``clear_db``, seal every free-text field under its owner's key
    (keys made in ``sealed_db``'s key store), import into ``sealed_db``."""
    from ledger.application import Ledger
    from ledger.audit import ZERO_HASH, export_lines, import_lines, line_of
    from ledger.keys import open_keystore, seal
    from ledger.persistence import canonical
    from ledger.sealing import FREE_TEXT_BY_TOPIC, as_subject

    source = Ledger.open(clear_db, create_table=False)
    store = open_keystore(sealed_db)
    owners: dict[str, Any] = {}  # commitment stream -> its owner's person reference
    keys: dict[UUID, bytes] = {}
    sealed = 0

    def subject(ref: str) -> UUID:
        return as_subject(ref) or uuid5(NAMESPACE_URL, "bench-person:" + ref)

    def lines() -> Any:
        nonlocal sealed
        prev = ZERO_HASH
        for raw in export_lines(source):
            obj = json.loads(raw)
            data, topic = obj["data"], obj["type"]
            if topic.endswith("Commitment.Agreed"):
                owners[obj["stream"]] = data["manager" if data["owner"] == "manager" else "rep"]
            fields = FREE_TEXT_BY_TOPIC.get(topic, ())
            if fields:
                if topic.endswith("CoachingSession.Held"):
                    owner = data["rep"]
                elif topic.endswith("Commitment.Replied"):
                    owner = data["by"]
                else:
                    owner = owners[obj["stream"]]
                who = subject(owner)
                key = keys.get(who) or keys.setdefault(who, store.ensure(who))
                for f in fields:
                    if isinstance(data.get(f), str):
                        data[f] = seal(key, who, data[f])
                        sealed += 1
            body = canonical(
                {
                    "data": data,
                    "prev": prev,
                    "recorded_at": obj["recorded_at"],
                    "stream": obj["stream"],
                    "type": topic,
                    "version": obj["version"],
                }
            )
            prev = hashlib.sha256(body.encode()).hexdigest()
            yield line_of(obj["position"], body, prev)

    target = Ledger.open(sealed_db)
    try:
        import_lines(target, lines())
    finally:
        target.close()
        source.close()
        store.close()
    return sealed


def rebuild_rate(db: str, views: str) -> tuple[float, int]:
    """Events per second of a full rebuild (in a child process: a cold start)."""
    code = (
        "import sys,time\n"
        "from ledger.application import Ledger\n"
        "from projections.catchup import rebuild\n"
        "l=Ledger.open(sys.argv[1],create_table=False)\n"
        "t=time.perf_counter();n=rebuild(l,sys.argv[2]);d=time.perf_counter()-t\n"
        "print(n,d)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, db, views],
        env=child_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    n, seconds = int(out[0]), float(out[1])
    return n / seconds, n


def history_time(db: str, views: str, rep: str) -> float:
    cmd = commitments_cmd("--db", db, "--views", views, "history", rep, "--format", "json")
    start = time.perf_counter()
    subprocess.run(cmd, env=child_env(), capture_output=True, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--runs", type=int, default=11, help="history runs each (>= 10)")
    parser.add_argument("--rebuilds", type=int, default=2, help="rebuilds each (best kept)")
    args = parser.parse_args()
    print(
        f"bench_privacy: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, "
        f"python {sys.version.split()[0]}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-privacy-") as tmp:
        clear, sealed = f"{tmp}/clear.db", f"{tmp}/sealed.db"
        t = time.perf_counter()
        subprocess.run(
            commitments_cmd(
                "--db", clear, "demo", "--reps", str(args.reps), "--weeks", str(args.weeks),
                "--until", "2026-11-23",
            ),
            env=child_env(), capture_output=True, check=True,
        )  # fmt: skip
        print(f"demo: {event_count(clear):,} events in {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        n_sealed = sealed_copy(clear, sealed)
        took = time.perf_counter() - t
        print(f"sealed copy: {n_sealed:,} free-text fields sealed in {took:.1f} s")

        rates: dict[str, list[float]] = {"clear": [], "sealed": []}
        events = 0
        for _ in range(args.rebuilds):  # interleaved: the load moves both alike
            for name, db in (("clear", clear), ("sealed", sealed)):
                rate, events = rebuild_rate(db, f"{tmp}/{name}.views.db")
                rates[name].append(rate)
        best = {k: max(v) for k, v in rates.items()}
        ratio = best["sealed"] / best["clear"]
        print(f"rebuild of {events:,} events, best of {args.rebuilds}:")
        print(f"  clear text (baseline)   {best['clear']:>10,.0f} events/s")
        print(f"  sealed text             {best['sealed']:>10,.0f} events/s")
        print(f"  ratio (aim >= 0.8x)     {ratio:>10.2f} x")

        rep = busiest_rep(f"{tmp}/clear.views.db")
        times: dict[str, list[float]] = {"clear": [], "sealed": []}
        for _ in range(args.runs):
            for name, db in (("clear", clear), ("sealed", sealed)):
                times[name].append(history_time(db, f"{tmp}/{name}.views.db", rep))
        med = {k: statistics.median(v) * 1000 for k, v in times.items()}
        print(f"history of the busiest rep, median of {args.runs} interleaved runs:")
        print(f"  clear text (baseline)   {med['clear']:>10.1f} ms")
        print(f"  sealed text             {med['sealed']:>10.1f} ms")
        print(f"  ratio (aim <= 1.2x)     {med['sealed'] / med['clear']:>10.2f} x")


if __name__ == "__main__":
    main()
