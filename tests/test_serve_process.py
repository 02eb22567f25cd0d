"""A real ``commitments serve`` (uvicorn) process on a free loopback port, and
docs/serve.md's walkthrough run with bash and curl against one, on both
backends."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVE_MD = ROOT / "docs" / "serve.md"
BIN = Path(sys.executable).parent
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(folder: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{env.get('PYTHONPATH', '')}"
    for name in ("COMMITMENTS_DB", "COMMITMENTS_VIEWS", "COMMITMENTS_ACTOR"):
        env.pop(name, None)
    env.update(extra)
    return env


def commitments() -> list[str]:
    found = shutil.which("commitments", path=str(BIN))
    return [found] if found else [sys.executable, "-m", "cli"]


@contextmanager
def running_server(
    args: list[str], env: dict[str, str], cwd: Path, port: int, serve: tuple[str, ...] = ()
) -> Iterator[str]:
    """``commitments ARGS serve --port PORT SERVE...`` ready to answer; stopped afterwards."""
    proc = subprocess.Popen(
        [*commitments(), *args, "serve", "--port", str(port), *serve],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                assert proc.stderr is not None  # piped above
                raise AssertionError(f"serve exited {proc.returncode}: {proc.stderr.read()}")
            try:
                if httpx.get(f"{base}/api/openapi.json", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not answer within 30 s"
            time.sleep(0.1)
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_a_real_server_answers_on_a_free_loopback_port(db: str, tmp_path: Path) -> None:
    env = child_env(tmp_path)
    granted = subprocess.run(
        [*commitments(), "--db", db, "access", "grant", "hugo", "--role", "hr"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    token = granted.stdout.strip()
    port = free_port()
    args = ["--db", db, "--views", str(tmp_path / "v.db")]
    with running_server(args, env, tmp_path, port, ("--workers", "2")) as base:
        me = httpx.get(f"{base}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200 and me.json()["name"] == "hugo"
        assert me.json()["role"] == "hr" and UUID.fullmatch(me.json()["subject"])
        anonymous = httpx.get(f"{base}/api/v1/me")
        assert anonymous.status_code == 401


@pytest.mark.slow  # several real server processes; the fast run keeps the loopback test
def test_every_read_sees_every_write_finished_before_it_on_any_worker(
    db: str, tmp_path: Path
) -> None:
    """Read-your-writes across worker processes: each write is answered by one
    worker and the read after it, on a new connection, by whichever worker takes
    it; that read shows the write, with every check-in recorded before it.
    Several threads write and read at once, so reads also find the read model
    mid-way through another worker's catch-up."""
    import threading
    from datetime import date, timedelta

    env = child_env(tmp_path)
    tokens = {}
    for name, role in (("bob", "manager"), ("alice", "rep")):
        granted = subprocess.run(
            [*commitments(), "--db", db, "access", "grant", name, "--role", role],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        tokens[name] = {"Authorization": f"Bearer {granted.stdout.strip()}"}
    start = (date.today() - timedelta(days=3)).isoformat()
    port = free_port()
    args = ["--db", db, "--views", str(tmp_path / "v.db")]
    failures: list[str] = []

    def post(http: httpx.Client, url: str, body: dict[str, object]) -> httpx.Response:
        """A write, retried on a conflict (409 with Retry-After) as a client should."""
        for _ in range(20):
            r = http.post(url, headers=tokens["bob"], json=body)
            if r.status_code != 409 or "Retry-After" not in r.headers:
                return r
            time.sleep(0.05)
        return r

    def client(n: int) -> None:
        for i in range(4):
            with httpx.Client(base_url=base, timeout=60) as writer:
                agreed = post(
                    writer,
                    "/api/v1/commitments",
                    {
                        "rep": "alice",
                        "manager": "bob",
                        "focus": "prospecting",
                        "behavior": f"calls {n}.{i}",
                        "target": 10,
                        "start": start,
                    },
                )
                if agreed.status_code != 201:
                    failures.append(f"agree: {agreed.status_code} {agreed.text}")
                    return
                cid = agreed.json()["id"]
                for k in range(2):
                    checked = post(
                        writer,
                        f"/api/v1/commitments/{cid}/check-ins",
                        {"date": start, "actual": k + 1},
                    )
                    if checked.status_code != 201:
                        failures.append(f"check-in: {checked.status_code} {checked.text}")
                        return
            with httpx.Client(base_url=base, timeout=60) as reader:
                shown = reader.get(f"/api/v1/commitments/{cid}", headers=tokens["bob"])
                history = reader.get(
                    "/api/v1/history", params={"rep": "alice"}, headers=tokens["alice"]
                )
            if shown.status_code != 200 or len(shown.json()["log"]) != 3:
                failures.append(f"show {cid}: {shown.status_code} {shown.text[:300]}")
            ids = {c["id"] for c in history.json().get("commitments", [])}
            if history.status_code != 200 or cid not in ids:
                failures.append(f"history lacks {cid}: {history.status_code}")

    with running_server(args, env, tmp_path, port, ("--workers", "2")) as base:
        threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
    assert failures == []


# -- docs/serve.md, run ------------------------------------------------------------------


def blocks(text: str) -> list[tuple[str, str]]:
    """The ``sh`` and ``text`` blocks of section 4 onwards: (kind, body)."""
    text = text[text.index("## 4.") :]
    return re.findall(r"```(sh|text)\n(.*?)```", text, flags=re.S)


def normalize(output: str) -> str:
    output = STAMP.sub("<T>", UUID.sub("<id>", output))
    return "\n".join(" ".join(line.split()) for line in output.strip().splitlines())


@pytest.mark.slow  # several real server processes; the fast run keeps the loopback test
def test_the_serve_page_runs_against_a_real_server(db: str, tmp_path: Path) -> None:
    """Each ``sh`` block runs in bash (shell variables carried from block to
    block); ``commitments serve ... &`` starts the real server; each ``text``
    block must equal what the ``sh`` block before it printed."""
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    port = free_port()
    env = child_env(tmp_path)
    state = tmp_path / "vars.sh"
    state.write_text("", "utf-8")
    names: list[str] = []
    pairs: list[tuple[str, str]] = []
    last = ""
    with ExitStack() as stack:
        for kind, body in blocks(SERVE_MD.read_text("utf-8")):
            if kind == "text":
                pairs.append((body, last))
                last = ""
                continue
            body = body.replace("COMMITMENTS_DB=team.db", f"COMMITMENTS_DB='{db}'")
            body = body.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
            serve = re.search(r"^commitments serve (.*) &$", body, flags=re.M)
            body = re.sub(r"^commitments serve .*&$", "", body, flags=re.M)
            for line in body.splitlines():
                if line.startswith("export "):
                    names += [w.split("=")[0] for w in line.split()[1:]]
                elif m := re.match(r"(\w+)=", line):
                    names.append(m[1])
            script = (
                f"set -e -o pipefail\nsource {state}\n{body}\n"
                f"declare -p {' '.join(dict.fromkeys(names))} > {state}\n"
            )
            run = subprocess.run(
                ["bash", "-c", script],
                env=env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                check=False,
                timeout=120,
            )
            assert run.returncode == 0, (body, run.stdout, run.stderr)
            last = run.stdout
            if serve is not None:
                options = [w for w in serve[1].split() if w not in ("--port", "8000")]
                server = running_server(["--db", db], env, tmp_path, port, tuple(options))
                stack.enter_context(server)
    assert len(pairs) >= 6
    for shown, printed in pairs:
        assert normalize(shown) == normalize(printed)
