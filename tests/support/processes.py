"""Running the real ``parley`` command and server as subprocesses."""

from __future__ import annotations

import os
import random
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PARLEY = [sys.executable, "-m", "server.cli"]


LISTEN_PORTS = range(20_000, 32_000)
"""Below the kernel's ephemeral range (32768 and up by default), where outgoing connections
take their ports: a port picked there and free now could be taken by a client's connection
before the server binds it."""


_PICK = random.SystemRandom()  # leaves the global generator (seeded by some tests) alone


def free_port() -> int:
    """A port nothing listens on now, outside the ephemeral range."""
    for _ in range(200):
        port = _PICK.choice(LISTEN_PORTS)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port to listen on")


def parley_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env.update(overrides)
    return env


def run_parley(
    *args: str, env: Mapping[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PARLEY, *args], cwd=ROOT, env=dict(env), capture_output=True, text=True, timeout=timeout
    )


class ServerProcess:
    """``parley serve`` on a free port, stopped with SIGTERM (or killed) on :meth:`stop`."""

    def __init__(
        self,
        env: Mapping[str, str],
        port: int | None = None,
        *,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.port = port or free_port()
        self.env = dict(env)
        self.tls = tls
        """A client context trusting the server's certificate, when it serves HTTPS itself."""
        self.proc: subprocess.Popen[str] | None = None
        self.stdout = self.stderr = ""
        """What the server wrote, once it has stopped."""

    @property
    def base_url(self) -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> None:
        self.proc = subprocess.Popen(
            [*PARLEY, "serve", "--port", str(self.port)],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                _, err = self.proc.communicate()
                raise RuntimeError(f"server exited with {self.proc.returncode}: {err}")
            try:
                url = self.base_url + "/api/v1/health"
                with urllib.request.urlopen(url, timeout=1, context=self.tls):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("server did not answer in time")

    def stop(self, *, kill: bool = False) -> int:
        assert self.proc is not None
        if kill:
            self.proc.kill()
        else:
            self.proc.terminate()
        try:
            self.stdout, self.stderr = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.stdout, self.stderr = self.proc.communicate()
        return self.proc.returncode
