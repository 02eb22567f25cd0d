"""Run the benchmarks: every bench/bench_*.py in turn, or the ones named.

Usage::

    python bench/run.py                      # all of them, each with its defaults
    python bench/run.py write read           # bench_write.py, then bench_read.py
    python bench/run.py write -- --quick     # arguments after -- go to every bench run

Each bench runs in its own process with this interpreter; its output streams
through. The exit status is non-zero if any bench failed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def available() -> dict[str, Path]:
    """Short name (``write`` for bench_write.py) -> path, in name order."""
    return {p.stem.removeprefix("bench_"): p for p in sorted(HERE.glob("bench_*.py"))}


def main(argv: list[str]) -> int:
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__.strip())
        print("\nbenches: " + ", ".join(available()))
        return 0
    benches = available()
    wanted = [a.removesuffix(".py").split("/")[-1].removeprefix("bench_") for a in argv]
    unknown = [w for w in wanted if w not in benches]
    if unknown:
        names = ", ".join(benches)
        print(f"bench/run.py: no bench named {', '.join(unknown)} (have: {names})", file=sys.stderr)
        return 2
    failed: list[str] = []
    summary: list[tuple[str, float, int]] = []
    for name in wanted or list(benches):
        print(f"\n=== bench_{name}.py {' '.join(extra)}".rstrip(), flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, str(benches[name]), *extra])
        summary.append((name, time.perf_counter() - started, code))
        if code:
            failed.append(name)
    print("\n=== summary")
    for name, seconds, code in summary:
        print(f"  bench_{name}.py  {seconds:8.1f} s  {'ok' if code == 0 else f'FAILED ({code})'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
