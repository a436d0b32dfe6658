"""A real, throwaway PostgreSQL cluster for tests, harness scenarios and benchmarks.

    with PostgresServer() as pg:          # initdb in a temp dir, a free port of 127.0.0.1
        use(pg.url)                       # postgresql://postgres@127.0.0.1:PORT/postgres
        url = pg.create_database()        # a database of its own, for a test that needs one
        pg.kill()                         # SIGKILL of the postmaster: a crash, mid-transaction
        pg.restart()                      # the same port and data again (crash recovery runs)

Never the system server on 5432: every cluster gets a port and a data directory of its own, so
that a test can kill and restart it. The postmaster is started directly (not through pg_ctl)
by `harness.processes.Supervisor`, so its pid is the one a kill hits, it dies with its parent,
and it is reaped on every exit path. PostgreSQL refuses to run as root: as root, the cluster
belongs to the `postgres` account the Debian package creates. Only TCP on 127.0.0.1, trust
authentication; `durable=False` turns fsync off (commits still reach the WAL before they are
acknowledged, so killing the server loses nothing acknowledged; only a power cut would).
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from harness.processes import Proc, Supervisor, free_port, tail

REQUIRE_ENV = "TM_REQUIRE_POSTGRES"
MISSING = (
    "PostgreSQL server binaries (initdb, postgres) not installed (Debian package postgresql: "
    "see .ci/system-packages)"
)
START_TIMEOUT = 30.0
_RUN_AS = "postgres"


def postgres_bindir() -> Path | None:
    """The directory holding `initdb` and `postgres`: the newest Debian cluster version's, or
    wherever `pg_config --bindir` or PATH says."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/postgres"),
        key=lambda path: int(Path(path).parent.parent.name)
        if Path(path).parent.parent.name.isdigit()
        else 0,
    )
    if candidates:
        return Path(candidates[-1]).parent
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out and (Path(out) / "postgres").exists():
            return Path(out)
    found = shutil.which("postgres")
    return Path(found).parent if found and shutil.which("initdb") else None


def postgres_required() -> bool:
    """TM_REQUIRE_POSTGRES=1: a missing server fails instead of skipping (CI sets it)."""
    return os.environ.get(REQUIRE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


class PostgresServerMissing(FileNotFoundError):
    """No PostgreSQL server binaries on this machine."""


class PostgresServer:
    """One PostgreSQL cluster (its own data directory) and its postmaster on a free port."""

    def __init__(
        self,
        *,
        port: int | None = None,
        directory: Path | str | None = None,
        supervisor: Supervisor | None = None,
        name: str = "postgres",
        durable: bool = True,
        max_connections: int = 200,
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        bindir = postgres_bindir()
        if bindir is None:
            raise PostgresServerMissing(MISSING)
        self.bindir = bindir
        self.host = "127.0.0.1"
        self._fixed_port = port is not None
        self.port = port or 0
        self._own_dir = directory is None
        self.dir = Path(tempfile.mkdtemp(prefix="pg-")) if directory is None else Path(directory)
        self.data = self.dir / "data"
        self._own_supervisor = supervisor is None
        self.supervisor = supervisor or Supervisor(self.dir / "logs")
        self.name = name
        self.durable = durable
        self.max_connections = max_connections
        self.start_timeout = start_timeout
        self.user = _RUN_AS if os.geteuid() == 0 else None
        self.proc: Proc | None = None
        self.starts = 0

    # addresses ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self.database_url("postgres")

    def database_url(self, database: str) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{database}"

    # life cycle -----------------------------------------------------------------------------
    def _initdb(self) -> None:
        if (self.data / "PG_VERSION").exists():
            return
        self.data.mkdir(parents=True, exist_ok=True)
        if self.user is not None:
            account = pwd.getpwnam(self.user)
            for path in (self.dir, self.data):
                os.chown(path, account.pw_uid, account.pw_gid)
        os.chmod(self.data, 0o700)
        result = subprocess.run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            user=self.user,
            cwd=self.dir,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed ({result.returncode}): {result.stderr[-2000:]}")

    def argv(self) -> list[str]:
        settings = {
            "listen_addresses": self.host,
            "port": str(self.port),
            "unix_socket_directories": "",
            "max_connections": str(self.max_connections),
            "fsync": "on" if self.durable else "off",
            # Always on: a commit is in the WAL (the OS's cache, without fsync) before it is
            # acknowledged, so a SIGKILL of the postmaster never loses an acknowledged write.
            "synchronous_commit": "on",
            "full_page_writes": "on" if self.durable else "off",
            "shared_buffers": "64MB",
            "log_min_messages": "warning",
            "logging_collector": "off",
        }
        argv = [str(self.bindir / "postgres"), "-D", str(self.data)]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        return argv

    def start(self) -> PostgresServer:
        """initdb (once) and start, waiting until a connection succeeds. A first start on a port
        taken meanwhile (free_port races with other programs) moves to another free port."""
        if self.alive():
            return self
        self._initdb()
        attempts = 1 if self._fixed_port or self.starts else 5
        last: Exception | None = None
        for _ in range(attempts):
            if not self._fixed_port and not self.starts:
                self.port = free_port()
            try:
                self._spawn_and_wait()
            except RuntimeError as err:
                last = err
                continue
            self.starts += 1
            return self
        raise RuntimeError(f"postgres did not start: {last}")

    def _spawn_and_wait(self) -> None:
        # A postmaster killed with SIGKILL leaves its pid file; the new one checks that the pid
        # is gone and starts crash recovery, so nothing to clean here.
        self.proc = self.supervisor.spawn(
            f"{self.name}-{self.port}-{self.starts}", self.argv(), cwd=self.dir, user=self.user
        )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if not self.proc.alive():
                code = self.proc.popen.returncode
                raise RuntimeError(f"postgres exited with {code}: {tail(self.proc, 10)}")
            if self.ready(timeout=1.0):
                return
            time.sleep(0.02)
        self.proc.kill()
        raise TimeoutError(f"postgres on port {self.port} did not accept connections in time")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.alive()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def kill(self) -> None:
        """SIGKILL the postmaster and every backend, as a crash would: clients see their
        connections reset, uncommitted transactions are gone, committed ones are in the WAL."""
        if self.proc is not None:
            self.proc.kill()
            self._kill_orphans()

    def _kill_orphans(self) -> None:
        # Backends are the postmaster's children in its process group, which Proc.kill hits;
        # one forked an instant before is caught by a second sweep of the group.
        if self.proc is not None:
            self.proc.signal_group(9)

    def restart(self) -> PostgresServer:
        """Start again on the same port and data (after `kill` or `stop`): committed data is
        there, recovered from the WAL."""
        if self.alive():
            self.kill()
        self._fixed_port = True
        deadline = time.monotonic() + self.start_timeout
        while True:
            try:
                self._spawn_and_wait()
                break
            except RuntimeError:
                # The port, or the shared memory of the killed postmaster, may linger a moment.
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.1)
        self.starts += 1
        return self

    def stop(self) -> None:
        """Stop the server (SIGTERM: a smart shutdown, then SIGKILL) and remove its files."""
        if self.proc is not None:
            self.proc.stop(grace=5.0)
        if self._own_supervisor:
            self.supervisor.close()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.alive() else "stopped"
        return f"<PostgresServer {self.url} {state}>"

    # talking to it --------------------------------------------------------------------------
    def ready(self, timeout: float = 1.0) -> bool:
        try:
            self.execute("SELECT 1", timeout=timeout)
        except Exception:  # any failure to connect means "not yet"
            return False
        return True

    def execute(self, statement: str, *, database: str = "postgres", timeout: float = 5.0) -> None:
        """Run one statement outside a transaction (CREATE DATABASE needs that)."""
        import psycopg

        with psycopg.connect(
            self.database_url(database), autocommit=True, connect_timeout=max(1, int(timeout))
        ) as connection:
            connection.execute(statement)  # type: ignore[call-overload]

    def create_database(self, name: str | None = None) -> str:
        """A new, empty database; its URL."""
        name = name or f"db_{secrets.token_hex(6)}"
        self.execute(f'CREATE DATABASE "{name}"')
        return self.database_url(name)


__all__ = [
    "MISSING",
    "REQUIRE_ENV",
    "PostgresServer",
    "PostgresServerMissing",
    "postgres_bindir",
    "postgres_required",
]
