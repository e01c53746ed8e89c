"""How long the ``parley`` command takes before it does anything, and how soon a server is healthy.

    python -m bench.startup [--runs N] [--databases sqlite,postgresql]

Every run is a new process with ``PYTHONDONTWRITEBYTECODE=1`` (as in many container images), so
what it measures is what an installed, byte-compiled project costs, not a warm ``__pycache__``
written by an earlier run. For each verb it prints the median, min and max wall time of N runs;
for ``parley serve`` the time from ``exec`` until ``GET /api/v1/health`` first answers 200.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench.databases import fresh_database, pg_admin

PARLEY = str(Path(sys.executable).with_name("parley"))

VERBS: list[list[str]] = [
    ["--version"],
    ["db", "upgrade"],
    ["exercise", "start", "tutorial", "--json"],
    ["organiser", "create", "--name", "bench"],
    ["audit", "export", "--help"],
]
"""Verbs timed as they are; ``audit export`` and ``audit verify`` are timed on a room of the
tutorial (its opening events, a signed checkpoint), each export into a new folder."""


def _env(data_dir: str, url: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PARLEY_DATA_DIR": data_dir,
        "PARLEY_DATABASE_URL": url,
    }


def time_verb(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run([PARLEY, *args], env=env, check=False, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"parley {' '.join(args)} failed: {done.stderr.strip()}")
    return elapsed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def time_serve(env: dict[str, str]) -> float:
    port = _free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [PARLEY, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/api/v1/health"
    try:
        while time.perf_counter() - started < 30:
            try:
                with urllib.request.urlopen(url, timeout=1) as answer:
                    if answer.status == 200:
                        return time.perf_counter() - started
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.01)
        raise RuntimeError("the server did not become healthy within 30 s")
    finally:
        proc.terminate()
        proc.wait(10)


def _row(name: str, samples: list[float]) -> str:
    return (
        f"| `{name}` | {statistics.median(samples) * 1000:.0f} | "
        f"{min(samples) * 1000:.0f} | {max(samples) * 1000:.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--databases", default="sqlite", help="sqlite,postgresql")
    ns = parser.parse_args()
    print(f"# {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"# {ns.runs} runs each after one warm-up, PYTHONDONTWRITEBYTECODE=1")
    for kind in ns.databases.split(","):
        print(f"\n{kind}:\n")
        print("| command | median ms | min ms | max ms |")
        print("|---|---|---|---|")
        with tempfile.TemporaryDirectory() as data_dir:
            url, dropped = asyncio.run(fresh_database(kind, Path(data_dir)))
            try:
                measure(_env(data_dir, url), Path(data_dir), ns.runs)
            finally:
                if dropped is not None:
                    asyncio.run(pg_admin(f"DROP DATABASE {dropped} WITH (FORCE)"))


def measure(env: dict[str, str], data_dir: Path, runs: int) -> None:
    subprocess.run([PARLEY, "db", "upgrade"], env=env, check=True, capture_output=True)
    for verb in VERBS:
        time_verb(verb, env)
        print(_row("parley " + " ".join(verb), [time_verb(verb, env) for _ in range(runs)]))
    started = subprocess.run(
        [PARLEY, "exercise", "start", "tutorial", "--json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    room = json.loads(started.stdout)["room"]
    out = data_dir / "exports"
    exports = [
        time_verb(["audit", "export", room, "--out", str(out / str(n))], env)
        for n in range(runs + 1)
    ][1:]
    print(_row("parley audit export ROOM --out DIR", exports))
    verify = ["audit", "verify", str(out / "0")]
    time_verb(verify, env)
    print(_row("parley audit verify DIR", [time_verb(verify, env) for _ in range(runs)]))
    time_serve(env)
    print(_row("parley serve → healthy", [time_serve(env) for _ in range(runs)]))


if __name__ == "__main__":
    main()
