"""``parley serve`` raises its soft open-file limit to the hard limit and says so (point 6)."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

from tests.support.rawhttp import sqlite_server


def test_serve_runs_with_the_soft_open_file_limit_at_the_hard_limit(
    sqlite_template: Path, tmp_path: Path
) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low = min(soft, hard, 512)
    # The server inherits a low soft limit from this process for the length of its start.
    resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))
    try:
        with sqlite_server(sqlite_template, tmp_path) as server:
            proc = server.process.proc
            assert proc is not None
            limits = Path(f"/proc/{proc.pid}/limits").read_text()
            server.stop()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    line = next(row for row in limits.splitlines() if row.startswith("Max open files"))
    server_soft, server_hard = line.split()[3:5]
    assert server_soft == server_hard
    out = server.process.stdout
    if low < hard:
        assert f"open files: soft limit raised from {low} to {server_soft}" in out, out
    else:
        assert f"open files: soft limit {server_soft}" in out, out


def test_raising_the_limit_reports_both_values() -> None:
    code = (
        "import resource; from server.openfiles import raise_open_file_limit as r;"
        "s, h = resource.getrlimit(resource.RLIMIT_NOFILE);"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (min(64, h), h));"
        "o = r(); print(o.before, o.soft, o.hard)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    before, soft, hard = (int(x) for x in out)
    assert before == min(64, hard)
    assert soft == hard or hard == resource.RLIM_INFINITY
