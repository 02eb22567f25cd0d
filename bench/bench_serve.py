"""Benchmark of ``commitments serve`` under load (issue 16, SPEC §7.5), on loopback.

For each backend (SQLite; PostgreSQL when ``--postgres URL`` or
``COMMITMENTS_TEST_POSTGRES`` is given):

1. writes a ~100k-event ledger with ``commitments demo`` and grants a token to
   every rep and manager in it;
2. starts ``commitments serve --workers W`` on a free loopback port;
3. baseline, same run: one client alone asks reps' histories for a few
   seconds (p50, p99);
4. load: N concurrent clients (default 50) for a bounded time (default 60 s),
   mixed: reps reading their history (40 %), managers listing a rep's
   commitments (15 %) and showing one (15 %), managers checking in on an open
   commitment of their rep (20 %) and recording sessions (10 %). A 409 with
   ``Retry-After`` is retried (at most 5 times, after a short pause) and
   counted apart; any other non-2xx is an error;
5. prints requests/s, p50 and p99 per kind and overall, errors, retried
   409s, and the ratio of the loaded p99 of a rep's history to the alone
   p50 (the same-run baseline). Aim: 0 errors; history p99 <= 250 ms on SQLite.

Usage::

    python bench/bench_serve.py                          # SQLite, + PostgreSQL if configured
    python bench/bench_serve.py --clients 50 --seconds 60 --reps 460 --weeks 52
    python bench/bench_serve.py --quick                  # 10 clients, 10 s, ~10k events

Loopback only; every loop is bounded by the deadline and a request cap.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
BIN = Path(PY).parent
HOST = "127.0.0.1"
MAX_REQUESTS_PER_CLIENT = 100_000


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    for name in ("COMMITMENTS_DB", "COMMITMENTS_VIEWS", "COMMITMENTS_ACTOR"):
        env.pop(name, None)
    return env


def commitments(*args: str) -> list[str]:
    exe = BIN / "commitments"
    return [str(exe), *args] if exe.exists() else [PY, "-m", "cli", *args]


def run(*args: str, cwd: str | None = None) -> str:
    out = subprocess.run(
        commitments(*args), env=child_env(), capture_output=True, text=True, check=False, cwd=cwd
    )
    if out.returncode:
        raise SystemExit(f"{' '.join(args[:4])}...: exit {out.returncode}: {out.stderr[-500:]}")
    return out.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Cast:
    reps: dict[str, str]  # rep -> token
    managers: dict[str, str]  # manager -> token
    reps_of: dict[str, list[str]]  # manager -> their reps
    open_of: dict[str, list[tuple[str, str]]]  # manager -> [(commitment id, start)]
    some_of: dict[str, list[str]]  # manager -> commitment ids to show


def build(db: str, views: str, reps: int, weeks: int) -> tuple[int, Cast]:
    started = time.perf_counter()
    # in the bench's folder: the demo of a PostgreSQL ledger writes its pages to the
    # current directory, and they hold judgements about (made-up) people
    folder = str(Path(views).parent)
    run(
        "--db", db, "--views", views, "demo", "--reps", str(reps), "--weeks", str(weeks), cwd=folder
    )
    items = json.loads(run("--db", db, "--views", views, "list", "--format", "json"))
    print(f"  ledger written by demo in {time.perf_counter() - started:.1f} s", flush=True)
    reps_of: dict[str, set[str]] = defaultdict(set)
    open_of: dict[str, list[tuple[str, str]]] = defaultdict(list)
    some_of: dict[str, list[str]] = defaultdict(list)
    for item in items:
        reps_of[item["manager"]].add(item["rep"])
        some_of[item["manager"]].append(item["id"])
        if item["status"] in ("open", "overdue") and item["target"] is not None:
            open_of[item["manager"]].append((item["id"], item["start"]))
    all_reps = sorted({i["rep"] for i in items})
    sys.path.insert(0, str(ROOT))
    from cli.serve.access import open_access

    # grants hold subject ids (the people registry): names through 'people list'
    people = json.loads(run("--db", db, "--views", views, "people", "list", "--format", "json"))
    subject = {p["name"]: p["subject"] for p in people}
    admin = run("--db", db, "--views", views, "people", "add", "bench-admin").strip()
    store = open_access(db)  # what 'commitments access grant' does, without 500 processes
    try:
        tokens = {
            name: store.grant(subject[name], "manager" if name in reps_of else "rep", admin)
            for name in [*all_reps, *sorted(reps_of)]
        }
    finally:
        store.close()
    cast = Cast(
        reps={r: tokens[r] for r in all_reps},
        managers={m: tokens[m] for m in reps_of},
        reps_of={m: sorted(r) for m, r in reps_of.items()},
        open_of=dict(open_of),
        some_of=dict(some_of),
    )
    return len(items), cast


def event_count(db: str) -> int:
    sys.path.insert(0, str(ROOT))
    from ledger.application import Ledger

    ledger = Ledger.open(db)
    try:
        return ledger.event_count()
    finally:
        ledger.close()


def tree_cpu(root: int) -> float:
    """CPU seconds (user + system) used so far by ``root`` and its descendants
    (the server and its workers); NaN where /proc is not there to read. Unlike
    wall times, it hardly moves with the load other jobs put on a shared machine."""
    stats: dict[int, tuple[int, float]] = {}  # pid -> (parent, cpu seconds)
    try:
        tick = os.sysconf("SC_CLK_TCK")
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except (OSError, ValueError, AttributeError):
        return float("nan")
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[pid] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    if root not in stats:
        return float("nan")
    total, ours = 0.0, {root}
    for _ in range(4):  # the server, its workers, what they start
        ours |= {pid for pid, (parent, _) in stats.items() if parent in ours}
    for pid in ours:
        total += stats[pid][1]
    return total


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    retried_409: int = 0
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def pick(
    rnd: random.Random, cast: Cast, managers: list[str], reps: list[str], today: str
) -> tuple[str, str, str, dict[str, str] | None, dict[str, object] | None, str]:
    """One request of the mix: (kind, method, url, query, body, token)."""
    roll = rnd.random()
    manager = rnd.choice(managers)
    token = cast.managers[manager]
    if roll < 0.40:
        rep = rnd.choice(reps)
        return "history (rep)", "GET", "/api/v1/history", {"rep": rep}, None, cast.reps[rep]
    if roll < 0.55:
        rep = rnd.choice(cast.reps_of[manager])
        return "list (manager)", "GET", "/api/v1/commitments", {"rep": rep}, None, token
    if roll < 0.70 and cast.some_of.get(manager):
        cid = rnd.choice(cast.some_of[manager])
        return "show (manager)", "GET", f"/api/v1/commitments/{cid}", None, None, token
    if roll < 0.90 and cast.open_of.get(manager):
        cid, start = rnd.choice(cast.open_of[manager])
        body: dict[str, object] = {"date": max(start, today), "actual": 1}
        return (
            "check-in (manager)",
            "POST",
            f"/api/v1/commitments/{cid}/check-ins",
            None,
            body,
            token,
        )
    rep = rnd.choice(cast.reps_of[manager])
    body = {"rep": rep, "manager": manager, "date": today, "note": "bench"}
    return "session (manager)", "POST", "/api/v1/sessions", None, body, token


def client_loop(base: str, cast: Cast, deadline: float, tally: Tally, seed: int) -> None:
    rnd = random.Random(seed)
    managers = sorted(m for m in cast.managers if cast.reps_of.get(m))
    reps = sorted(cast.reps)
    today = date.today().isoformat()
    with httpx.Client(base_url=base, timeout=30) as http:
        for _ in range(MAX_REQUESTS_PER_CLIENT):
            if time.monotonic() >= deadline:
                return
            kind, method, url, params, body, token = pick(rnd, cast, managers, reps, today)
            headers = {"Authorization": f"Bearer {token}"}
            for _attempt in range(6):
                t = time.perf_counter()
                try:
                    r = http.request(method, url, params=params, json=body, headers=headers)
                    status = r.status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                elapsed = time.perf_counter() - t
                with tally.lock:
                    tally.requests += 1
                if status == 409 and "Retry-After" in r.headers and _attempt < 5:
                    with tally.lock:
                        tally.retried_409 += 1
                    time.sleep(min(float(r.headers["Retry-After"]), 0.05 + rnd.random() * 0.1))
                    continue
                with tally.lock:
                    if isinstance(status, int) and status < 300:
                        tally.latencies[kind].append(elapsed)
                    else:
                        detail = r.text[:120] if isinstance(status, int) else ""
                        tally.errors[f"{kind} {status} {detail}"] += 1
                break


def alone(base: str, cast: Cast, seconds: float) -> list[float]:
    """The same-run baseline: one client asking reps' histories, nothing else running."""
    rnd = random.Random(7)
    times = []
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=base, timeout=30) as http:
        for _ in range(10_000):
            if time.monotonic() >= deadline:
                break
            rep = rnd.choice(sorted(cast.reps))
            t = time.perf_counter()
            r = http.get(
                "/api/v1/history",
                params={"rep": rep},
                headers={"Authorization": f"Bearer {cast.reps[rep]}"},
            )
            times.append(time.perf_counter() - t)
            assert r.status_code == 200, r.text
    return times


def bench(name: str, db: str, folder: Path, args: argparse.Namespace) -> None:
    print(f"\n== {name}: {args.clients} clients, {args.seconds:.0f} s, {args.workers} workers")
    views = str(folder / f"{name}.views.db")
    commitments_n, cast = build(db, views, args.reps, args.weeks)
    events = event_count(db)
    print(
        f"  {events:,} events, {commitments_n:,} commitments, {len(cast.reps)} reps, "
        f"{len(cast.managers)} managers"
    )
    port = free_port()
    base = f"http://{HOST}:{port}"
    server = subprocess.Popen(
        commitments(
            "--db",
            db,
            "--views",
            views,
            "serve",
            "--host",
            HOST,
            "--port",
            str(port),
            "--workers",
            str(args.workers),
        ),
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/api/openapi.json", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise SystemExit("the server did not start")
        baseline = alone(base, cast, args.baseline_seconds)
        tally = Tally()
        deadline = time.monotonic() + args.seconds
        threads = [
            threading.Thread(target=client_loop, args=(base, cast, deadline, tally, i))
            for i in range(args.clients)
        ]
        cpu_before, client_before = tree_cpu(server.pid), time.process_time()
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=args.seconds + 120)
        wall = time.perf_counter() - started
        server_cpu = tree_cpu(server.pid) - cpu_before
        client_cpu = time.process_time() - client_before
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    done = sum(len(v) for v in tally.latencies.values())
    print(
        f"  alone (baseline): history p50 {statistics.median(baseline) * 1000:7.1f} ms, "
        f"p99 {pct(baseline, 0.99) * 1000:7.1f} ms over {len(baseline)} requests"
    )
    print(
        f"  under load: {tally.requests:,} requests in {wall:.1f} s = "
        f"{tally.requests / wall:,.1f} requests/s ({done:,} answered 2xx)"
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"  CPU under load: server {server_cpu:.1f} s = {server_cpu / max(wall, 1e-9):.2f} "
        f"of {os.cpu_count()} CPUs, {server_cpu * 1000 / max(tally.requests, 1):.2f} ms per "
        f"request; clients {client_cpu * 1000 / max(tally.requests, 1):.2f} ms per request; "
        f"load average now {load:.1f}"
    )
    print(f"  {'kind':22} {'count':>7} {'p50 ms':>9} {'p99 ms':>9}")
    every: list[float] = []
    for kind in sorted(tally.latencies):
        values = tally.latencies[kind]
        every += values
        print(
            f"  {kind:22} {len(values):7,} {pct(values, 0.5) * 1000:9.1f} "
            f"{pct(values, 0.99) * 1000:9.1f}"
        )
    print(
        f"  {'all':22} {len(every):7,} {pct(every, 0.5) * 1000:9.1f} {pct(every, 0.99) * 1000:9.1f}"
    )
    errors = sum(tally.errors.values())
    print(f"  errors (other than retried 409s): {errors}; retried 409s: {tally.retried_409}")
    for what, n in sorted(tally.errors.items(), key=lambda kv: -kv[1])[:10]:
        print(f"    {n:6} x {what}")
    history = tally.latencies.get("history (rep)", [])
    if history and baseline:
        p99 = pct(history, 0.99) * 1000
        print(
            f"  history p99 under load {p99:.1f} ms = "
            f"{p99 / (statistics.median(baseline) * 1000):.1f} x the alone p50 "
            f"(aim on SQLite: <= 250 ms{', met' if p99 <= 250 else ', NOT met'})"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--baseline-seconds", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--reps", type=int, default=460)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--postgres", default=os.environ.get("COMMITMENTS_TEST_POSTGRES"))
    parser.add_argument("--quick", action="store_true", help="10 clients, 10 s, ~10k events")
    parser.add_argument(
        "--only", choices=("sqlite", "postgres"), help="Run one backend (default: both)"
    )
    args = parser.parse_args()
    if args.quick:
        args.clients, args.seconds, args.reps, args.baseline_seconds = 10, 10.0, 46, 2.0
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"bench_serve: {os.cpu_count()} CPUs, load average {load:.1f}, python "
        f"{sys.version.split()[0]} (a shared machine: figures move with the load)"
    )
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        folder = Path(tmp)
        if args.only != "postgres":
            bench("sqlite", str(folder / "ledger.db"), folder, args)
        if args.postgres and args.only != "sqlite":
            import psycopg

            schema = f"bench_{uuid.uuid4().hex[:12]}"
            with psycopg.connect(args.postgres, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{schema}"')
            sep = "&" if "?" in args.postgres else "?"
            try:
                bench("postgres", f"{args.postgres}{sep}schema={schema}", folder, args)
            finally:
                with psycopg.connect(args.postgres, autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        else:
            print("\n(PostgreSQL skipped: pass --postgres URL or set COMMITMENTS_TEST_POSTGRES)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
