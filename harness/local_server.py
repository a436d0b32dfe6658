"""The life cycle every throwaway server of the harness shares (Redis, PostgreSQL).

A server of its own on a free port of 127.0.0.1, never a system one: started through
`harness.processes.Supervisor` (own process group, killed with its parent, reaped on every exit
path), SIGKILLed for an outage, restarted on the same port, stopped and removed. A subclass says
how to run it (`argv`), how to tell it answers (`ready`) and what to do once before the first
start (`prepare`).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Self

from harness.processes import Proc, Supervisor, free_port, tail


class LocalServer(ABC):
    """One server process on a free port of 127.0.0.1."""

    program = "server"
    """How messages name it."""
    stop_grace = 2.0
    restart_pause = 0.05

    def __init__(
        self,
        *,
        port: int | None,
        directory: Path | str | None,
        supervisor: Supervisor | None,
        name: str,
        start_timeout: float,
        prefix: str,
        log_dir: str | None = None,
    ) -> None:
        self.host = "127.0.0.1"
        self._fixed_port = port is not None
        self.port = port or 0
        self._own_dir = directory is None
        self.dir = Path(tempfile.mkdtemp(prefix=prefix)) if directory is None else Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._own_supervisor = supervisor is None
        self.supervisor = supervisor or Supervisor(self.dir / log_dir if log_dir else self.dir)
        self.name = name
        self.start_timeout = start_timeout
        self.user: str | None = None
        """The account the server runs as (None: ours)."""
        self.proc: Proc | None = None
        self.starts = 0

    # what a subclass defines ----------------------------------------------------------------
    @property
    @abstractmethod
    def url(self) -> str: ...

    @abstractmethod
    def argv(self) -> list[str]: ...

    @abstractmethod
    def ready(self, timeout: float = 1.0) -> bool: ...

    def prepare(self) -> None:  # noqa: B027 (optional: most servers need nothing)
        """Once, before the first start."""

    # life cycle -----------------------------------------------------------------------------
    def start(self) -> Self:
        """Start it and wait until it answers. A first start on a port that turns out to be
        taken (free_port races with other programs) moves to another free port."""
        if self.alive():
            return self
        self.prepare()
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
        raise RuntimeError(f"{self.program} did not start: {last}")

    def _spawn_and_wait(self) -> None:
        self.proc = self.supervisor.spawn(
            f"{self.name}-{self.port}-{self.starts}", self.argv(), cwd=self.dir, user=self.user
        )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if not self.proc.alive():
                code = self.proc.popen.returncode
                raise RuntimeError(f"{self.program} exited with {code}: {tail(self.proc, 10)}")
            if self.ready(timeout=0.5):
                return
            time.sleep(0.01)
        self.proc.kill()
        raise TimeoutError(
            f"{self.program} on port {self.port} did not answer in {self.start_timeout:g} s"
        )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.alive()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def kill(self) -> None:
        """SIGKILL of the process group, as a crash would: clients see their connections
        reset, nothing shuts down cleanly."""
        if self.proc is not None:
            self.proc.kill()

    def restart(self) -> Self:
        """Start again on the same port (after `kill` or `stop`)."""
        if self.alive():
            self.kill()
        self._fixed_port = True
        deadline = time.monotonic() + self.start_timeout
        while True:
            try:
                self._spawn_and_wait()
                break
            except RuntimeError:
                # The port (or what the killed process held) may linger a moment.
                if time.monotonic() >= deadline:
                    raise
                time.sleep(self.restart_pause)
        self.starts += 1
        return self

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and remove what it created."""
        if self.proc is not None:
            self.proc.stop(grace=self.stop_grace)
        if self._own_supervisor:
            self.supervisor.close()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.alive() else "stopped"
        return f"<{type(self).__name__} {self.url} {state}>"


__all__ = ["LocalServer"]
