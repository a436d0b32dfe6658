"""Real `tm serve` processes for tests (no tests here): a free port, a clean environment, and a
server that is up (its health answers) before the test starts and is stopped with a signal.

Shared by the integration tests, the Redis and token tests and the board's browser tests and
timing script, so that they all start the server the same way.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

TM = str(Path(sys.executable).with_name("tm"))
START_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without the caller's TM_* settings (a TM_API_TOKEN would change what
    the tests see), plus `extra`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("TM_")}
    env.update(extra)
    return env


def tm(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A whole `tm` process on the project at `root`; it must succeed."""
    return subprocess.run(
        [TM, "--project", str(root), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=clean_env(),
    )


@dataclass
class Served:
    root: Path
    port: int
    process: subprocess.Popen[str]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def connect(self, timeout: float = 10) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def get_json(self, conn: http.client.HTTPConnection, path: str) -> object:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        assert response.status == 200, body
        return orjson.loads(body)

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Signal the server and wait for it; killed (and the timeout raised) after 10 s."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            return self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


def start_server(root: Path, *, threads: int = 6, **env: str) -> Served:
    """`tm serve` for the project at `root` on a free port, once its health answers; `env`
    adds TM_* settings to a clean environment."""
    port = free_port()
    process = subprocess.Popen(
        [TM, "--project", str(root), "serve", "--port", str(port), "--threads", str(threads)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(**env),
    )
    served = Served(root, port, process)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"tm serve exited with {process.returncode}:\n{out}\n{err}")
        try:
            conn = served.connect(timeout=2)
            conn.request("GET", "/api/v1/health")
            if conn.getresponse().status == 200:
                conn.close()
                return served
        except OSError:
            pass
        if time.monotonic() > deadline:
            served.stop()
            pytest.fail(f"tm serve did not become healthy within {START_TIMEOUT_S:.0f} s")
        time.sleep(0.05)


def read_event(
    response: http.client.HTTPResponse, *, within: float | None = None
) -> dict[str, str]:
    """The next server-sent event's fields, as sent (comments, heartbeats and frames that only
    set `retry` skipped); with `within`, fails if none has come after that many seconds."""
    deadline = None if within is None else time.monotonic() + within
    fields: dict[str, str] = {}
    while True:
        assert deadline is None or time.monotonic() < deadline, "no event came"
        line = response.readline().decode()
        if not line:
            raise EOFError("the event stream ended")
        line = line.rstrip("\n")
        if not line:
            if "data" in fields:
                return fields
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            fields[name] = value
