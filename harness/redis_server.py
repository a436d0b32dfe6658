"""A real, throwaway `redis-server` for tests and harness scenarios.

    with RedisServer() as redis:          # a free port, a temp dir, no persistence
        use(redis.url)                    # redis://127.0.0.1:PORT/0
        redis.kill()                      # SIGKILL: an outage, as a crash would cause it
        redis.restart()                   # the same port again, empty, answering PING

Never the system Redis on 6379: every server gets a free port of its own. The process is
started through `harness.processes.Supervisor` (own process group, killed with its parent, reaped
on every exit path), with `--save "" --appendonly no` so nothing survives a restart, and
`--bind 127.0.0.1 --protected-mode no`. PING and the few commands the harness needs go over a
plain socket (RESP): nothing here needs the `redis` package.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from harness.processes import Proc, Supervisor, free_port, tail

REQUIRE_ENV = "TM_REQUIRE_REDIS"
MISSING = "redis-server not installed (Debian package redis-server: see .ci/system-packages)"
_SEARCH = ("/usr/bin/redis-server", "/usr/sbin/redis-server", "/usr/local/bin/redis-server")
START_TIMEOUT = 10.0


def redis_server_binary() -> str | None:
    """The path of `redis-server`, or None when it is not installed."""
    found = shutil.which("redis-server")
    if found:
        return found
    return next((path for path in _SEARCH if os.access(path, os.X_OK)), None)


def redis_required() -> bool:
    """TM_REQUIRE_REDIS=1: a missing redis-server fails instead of skipping (CI sets it)."""
    return os.environ.get(REQUIRE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


class RedisServerMissing(FileNotFoundError):
    """No `redis-server` on this machine."""


class RedisError(RuntimeError):
    """Redis answered a command with an error reply."""


class RedisServer:
    """One `redis-server` process on a free port of 127.0.0.1."""

    def __init__(
        self,
        *,
        port: int | None = None,
        directory: Path | str | None = None,
        supervisor: Supervisor | None = None,
        binary: str | None = None,
        name: str = "redis",
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        self.binary = binary or redis_server_binary()
        if self.binary is None:
            raise RedisServerMissing(MISSING)
        self.host = "127.0.0.1"
        self._fixed_port = port is not None
        self.port = port or 0
        self._own_dir = directory is None
        self.dir = Path(tempfile.mkdtemp(prefix="redis-")) if directory is None else Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._own_supervisor = supervisor is None
        self.supervisor = supervisor or Supervisor(self.dir)
        self.name = name
        self.start_timeout = start_timeout
        self.proc: Proc | None = None
        self.starts = 0

    # life cycle ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def argv(self) -> list[str]:
        assert self.binary is not None
        return [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            self.host,
            "--protected-mode",
            "no",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.dir),
            "--daemonize",
            "no",
            "--logfile",
            "",
            "--loglevel",
            "warning",
        ]

    def start(self) -> RedisServer:
        """Start it and wait until PING answers. A first start on a port that turns out to be
        taken (free_port races with other programs) moves to another free port."""
        if self.alive():
            return self
        attempts = 1 if self._fixed_port or self.starts else 5
        last: Exception | None = None
        for _ in range(attempts):
            if not self._fixed_port and not self.starts:
                self.port = free_port()
            try:
                self._spawn_and_wait()
            except RuntimeError as err:  # exited at once: the port was taken meanwhile
                last = err
                continue
            self.starts += 1
            return self
        raise RuntimeError(f"redis-server did not start: {last}")

    def _spawn_and_wait(self) -> None:
        self.proc = self.supervisor.spawn(f"{self.name}-{self.port}", self.argv(), cwd=self.dir)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if not self.proc.alive():
                code = self.proc.popen.returncode
                raise RuntimeError(f"redis-server exited with {code}: {tail(self.proc)}")
            if self.ping(timeout=0.5):
                return
            time.sleep(0.01)
        self.proc.kill()
        raise TimeoutError(
            f"redis-server on port {self.port} did not answer PING in {self.start_timeout:g} s"
        )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.alive()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def kill(self) -> None:
        """SIGKILL, as a crash would: clients see their connections reset, no clean shutdown."""
        if self.proc is not None:
            self.proc.kill()

    def restart(self) -> RedisServer:
        """Start again on the same port (after `kill` or `stop`); empty, as nothing persists."""
        if self.alive():
            self.kill()
        self._fixed_port = True
        deadline = time.monotonic() + self.start_timeout
        while True:
            try:
                self._spawn_and_wait()
                break
            except RuntimeError:
                # The port may linger a moment after a kill; try again until the deadline.
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)
        self.starts += 1
        return self

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and remove what it created."""
        if self.proc is not None:
            self.proc.stop(grace=2.0)
        if self._own_supervisor:
            self.supervisor.close()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.alive() else "stopped"
        return f"<RedisServer {self.url} {state}>"

    # talking to it ---------------------------------------------------------------------------
    def ping(self, timeout: float = 1.0) -> bool:
        try:
            return self.command("PING", timeout=timeout) == "PONG"
        except (OSError, RedisError):
            return False

    def command(self, *args: str | bytes | int, timeout: float = 2.0) -> Any:
        """Send one command, return its decoded reply (str, int, list, None)."""
        with socket.create_connection((self.host, self.port), timeout=timeout) as sock:
            sock.sendall(encode(*args))
            with sock.makefile("rb") as stream:
                return decode(stream)

    def flushall(self) -> None:
        self.command("FLUSHALL")


def encode(*args: str | bytes | int) -> bytes:
    """A RESP array of bulk strings: how clients send commands."""
    out = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def decode(stream: Any) -> Any:
    """One RESP2 reply from a binary stream."""
    line = stream.readline()
    if not line.endswith(b"\r\n"):
        raise ConnectionError("connection closed in the middle of a reply")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RedisError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        size = int(rest)
        if size < 0:
            return None
        data = stream.read(size + 2)
        return data[:-2].decode(errors="replace")
    if kind == b"*":
        count = int(rest)
        return None if count < 0 else [decode(stream) for _ in range(count)]
    raise RedisError(f"unexpected reply {line!r}")


__all__ = [
    "MISSING",
    "REQUIRE_ENV",
    "RedisError",
    "RedisServer",
    "RedisServerMissing",
    "redis_required",
    "redis_server_binary",
]
