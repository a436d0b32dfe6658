"""A real, throwaway `redis-server` for tests and harness scenarios.

    with RedisServer() as redis:          # a free port, a temp dir, no persistence
        use(redis.url)                    # redis://127.0.0.1:PORT/0
        redis.kill()                      # SIGKILL: an outage, as a crash would cause it
        redis.restart()                   # the same port again, empty, answering PING

Never the system Redis on 6379: every server gets a free port of its own (the life cycle of
`harness.local_server.LocalServer`: own process group, killed with its parent), with `--save ""
--appendonly no` so nothing survives a restart, and `--bind 127.0.0.1 --protected-mode no`. PING
and the few commands the harness needs go over a plain socket (RESP): nothing here needs the
`redis` package.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
from pathlib import Path
from typing import Any

from harness.local_server import LocalServer
from harness.processes import Supervisor

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


class RedisServer(LocalServer):
    """One `redis-server` process on a free port of 127.0.0.1."""

    program = "redis-server"

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
        super().__init__(
            port=port,
            directory=directory,
            supervisor=supervisor,
            name=name,
            start_timeout=start_timeout,
            prefix="redis-",
        )

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

    def ready(self, timeout: float = 1.0) -> bool:
        """It answers, and it is this process: another program's server can take the port
        `free_port` handed out before ours binds it, and answer in its place while ours
        exits."""
        try:
            info = self.command("INFO", "server", timeout=timeout)
        except (OSError, RedisError):
            return False
        found = re.search(r"^process_id:(\d+)", str(info), re.M)
        return found is not None and self.proc is not None and int(found[1]) == self.proc.pid

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
