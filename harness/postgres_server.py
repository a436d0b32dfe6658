"""A real, throwaway PostgreSQL cluster for tests, harness scenarios and benchmarks.

    with PostgresServer() as pg:          # initdb in a temp dir, a free port of 127.0.0.1
        use(pg.url)                       # postgresql://postgres@127.0.0.1:PORT/postgres
        url = pg.create_database()        # a database of its own, for a test that needs one
        pg.kill()                         # SIGKILL of the postmaster: a crash, mid-transaction
        pg.restart()                      # the same port and data again (crash recovery runs)

Never the system server on 5432: every cluster gets a port and a data directory of its own, so
that a test can kill and restart it (the life cycle of `harness.local_server.LocalServer`). The
postmaster is started directly, not through pg_ctl, so its process group is the one a kill hits:
every backend dies with it, and recovery from the WAL runs on the restart. PostgreSQL refuses to
run as root: as root, the cluster belongs to the `postgres` account the Debian package creates.
Only TCP on 127.0.0.1, trust authentication; `durable=False` turns fsync off (commits still
reach the WAL before they are acknowledged, so killing the server loses nothing acknowledged;
only a power cut would).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import signal
import subprocess
from pathlib import Path

from harness.local_server import LocalServer
from harness.processes import Supervisor, stat_fields

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
        key=lambda path: (
            int(Path(path).parent.parent.name) if Path(path).parent.parent.name.isdigit() else 0
        ),
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


class PostgresServer(LocalServer):
    """One PostgreSQL cluster (its own data directory) and its postmaster on a free port."""

    program = "postgres"
    stop_grace = 5.0
    restart_pause = 0.1

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
        super().__init__(
            port=port,
            directory=directory,
            supervisor=supervisor,
            name=name,
            start_timeout=start_timeout,
            prefix="pg-",
            log_dir="logs",
        )
        self.data = self.dir / "data"
        self.durable = durable
        self.max_connections = max_connections
        self.user = _RUN_AS if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        return self.database_url("postgres")

    def database_url(self, database: str) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{database}"

    def prepare(self) -> None:
        """initdb, unless the data directory holds a cluster already."""
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

    def kill(self) -> None:
        """SIGKILL of the postmaster and of every process it started, as a crash of the
        machine's server would leave it. PostgreSQL puts each backend in a session of its own
        (setsid), so a SIGKILL of the postmaster's group alone leaves the backends serving
        their open connections until they notice the postmaster is gone: a read just after
        the "crash" could still be answered."""
        if self.proc is None:
            return
        children = _children_of(self.proc.pid)
        super().kill()
        for pid in children:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    # talking to it --------------------------------------------------------------------------
    def ready(self, timeout: float = 1.0) -> bool:
        """It answers, and it is this cluster. A port `free_port` handed out can be taken by
        another test's cluster before ours binds it: that one then answers on the port while
        ours exits, and a test would write to, kill and read a server that is not its own."""
        import psycopg

        try:
            with psycopg.connect(
                self.url, autocommit=True, connect_timeout=max(1, int(timeout))
            ) as connection:
                row = connection.execute("SHOW data_directory").fetchone()
        except Exception:  # any failure to connect means "not yet"
            return False
        return row is not None and os.path.realpath(row[0]) == os.path.realpath(self.data)

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


def _children_of(parent: int) -> list[int]:
    """The pids whose parent is `parent`, read from /proc (empty where there is none)."""
    found = []
    for stat_file in glob.glob("/proc/[0-9]*/stat"):
        pid = int(stat_file.split("/")[2])
        fields = stat_fields(pid)  # None: gone meanwhile
        if fields is not None and int(fields[1]) == parent:
            found.append(pid)
    return found


__all__ = [
    "MISSING",
    "REQUIRE_ENV",
    "PostgresServer",
    "PostgresServerMissing",
    "postgres_bindir",
    "postgres_required",
]
