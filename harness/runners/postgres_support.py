"""The PostgreSQL cluster of a harness run, shared by its PostgreSQL scenarios.

One throwaway cluster (`harness.postgres_server`: initdb in a temporary directory, a free port,
never the system server) is started the first time a scenario needs it and stopped when the
run ends; each (scenario, target) gets a database of its own in it, so nothing of one run
leaks into the next, and the cluster's start (~1 s) is paid once. Scenarios may SIGKILL the
postmaster and restart it (same port, same data): the next scenario finds it running again.
"""

from __future__ import annotations

import atexit
import re
import secrets

from harness.postgres_server import (
    MISSING,
    REQUIRE_ENV,
    PostgresServer,
    postgres_bindir,
    postgres_required,
)

PROJECT_KEY = "harness"

_shared: PostgresServer | None = None


class PostgresMissing(Exception):
    """No PostgreSQL server binaries here (and TM_REQUIRE_POSTGRES is not set)."""


def shared_server() -> PostgresServer:
    """The run's cluster, started (or restarted after a scenario killed it) as needed. Without
    PostgreSQL: PostgresMissing, or RuntimeError when TM_REQUIRE_POSTGRES=1."""
    global _shared
    if _shared is None:
        if postgres_bindir() is None:
            if postgres_required():
                raise RuntimeError(f"{MISSING}, and {REQUIRE_ENV}=1 requires it")
            raise PostgresMissing(MISSING)
        server = PostgresServer(name="harness-postgres", durable=True)
        server.start()
        _shared = server
        atexit.register(stop_shared)
    elif not _shared.alive():
        _shared.restart()
    return _shared


def stop_shared() -> None:
    global _shared
    server, _shared = _shared, None
    if server is not None:
        server.stop()


def new_project_url(server: PostgresServer, scenario: str, target: str) -> str:
    """A fresh database for one (scenario, target); the storage URL of its project."""
    name = re.sub(r"[^a-z0-9]+", "_", f"{scenario}_{target}".lower())[:40]
    database = server.create_database(f"h_{name}_{secrets.token_hex(3)}")
    # What earlier scenarios wrote is flushed now, so that a crash recovery later in this one
    # replays this scenario's writes only (the cluster is shared by the whole run).
    server.execute("CHECKPOINT")
    return f"{database}?project={PROJECT_KEY}"
