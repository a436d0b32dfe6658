"""The PostgreSQL schema of Task Master projects: its versions and how one is brought up to date.

Several projects share one database, each a row of `tm_projects` named by its key. A project's
document is kept as rows (see `rows.py`): `tm_entries` (its top-level entries: tags without
their tasks, and any other top-level value) and `tm_tasks` (one row per task); `tm_journal`
holds one journal entry per commit (see `taskmaster.journal`). Every row
carries the revision that last wrote it, and a deleted row stays as a tombstone for a while, so
that a process holding the rows of revision R reads only what changed since
(`revision > R`). Tombstones older than the project's `horizon` are purged; a process further
behind than that reloads everything.

`tm_schema` holds the version. `ensure` creates or upgrades the schema in place, one
migration at a time, under an advisory lock so that two `tm init` runs never race; opening a
project only checks the version (`check`).
"""

from __future__ import annotations

from typing import Any

SCHEMA_VERSION = 2
NOTIFY_CHANNEL = "tm_changes"
_SCHEMA_LOCK = 0x746D5F736368  # an arbitrary advisory-lock key: "tm_sch"

MIGRATIONS: dict[int, list[str]] = {
    1: [
        """
        CREATE TABLE tm_projects (
            id          bigserial PRIMARY KEY,
            key         text NOT NULL UNIQUE,
            revision    bigint NOT NULL,
            current_tag text,
            flat        boolean NOT NULL DEFAULT false,
            next_number bigint NOT NULL DEFAULT 1,
            horizon     bigint NOT NULL DEFAULT 0,
            created_at  timestamptz NOT NULL DEFAULT now()
        )
        """,
        """
        CREATE TABLE tm_entries (
            project  bigint NOT NULL REFERENCES tm_projects (id) ON DELETE CASCADE,
            number   bigint NOT NULL,
            name     text NOT NULL,
            position double precision NOT NULL,
            is_tag   boolean NOT NULL,
            body     text,
            revision bigint NOT NULL,
            deleted  boolean NOT NULL DEFAULT false,
            PRIMARY KEY (project, number)
        )
        """,
        """
        CREATE TABLE tm_tasks (
            project  bigint NOT NULL REFERENCES tm_projects (id) ON DELETE CASCADE,
            number   bigint NOT NULL,
            entry    bigint NOT NULL,
            position double precision NOT NULL,
            body     text,
            revision bigint NOT NULL,
            deleted  boolean NOT NULL DEFAULT false,
            PRIMARY KEY (project, number)
        )
        """,
        "CREATE INDEX tm_entries_changes ON tm_entries (project, revision)",
        "CREATE INDEX tm_tasks_changes ON tm_tasks (project, revision)",
    ],
    # the change journal: one entry per commit, written in the commit's own transaction
    2: [
        """
        CREATE TABLE tm_journal (
            project  bigint NOT NULL REFERENCES tm_projects (id) ON DELETE CASCADE,
            revision bigint NOT NULL,
            at       timestamptz NOT NULL DEFAULT now(),
            entry    text NOT NULL,
            PRIMARY KEY (project, revision)
        )
        """,
    ],
}


class SchemaError(Exception):
    """The database holds no schema of ours, or one this version cannot use."""


def installed_version(connection: Any) -> int | None:
    """The schema version in the database, or None when it has none."""
    exists = connection.execute("SELECT to_regclass('tm_schema') IS NOT NULL").fetchone()[0]
    if not exists:
        return None
    row = connection.execute("SELECT version FROM tm_schema").fetchone()
    return None if row is None else int(row[0])


def check(connection: Any) -> None:
    """Refuse a database whose schema is missing, older or newer than this version's."""
    version = installed_version(connection)
    if version == SCHEMA_VERSION:
        return
    if version is None:
        raise SchemaError("it holds no Task Master schema")
    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"its schema is version {version}, newer than this tm understands "
            f"({SCHEMA_VERSION}): upgrade tm"
        )
    raise SchemaError(f"its schema is version {version}: run `tm init` on it to upgrade it")


def ensure(connection: Any) -> list[str]:
    """Create or upgrade the schema, inside the caller's transaction; what was done."""
    connection.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
    version = installed_version(connection)
    if version is not None and version > SCHEMA_VERSION:
        check(connection)
    done: list[str] = []
    if version is None:
        connection.execute("CREATE TABLE tm_schema (version integer NOT NULL)")
        connection.execute("INSERT INTO tm_schema VALUES (0)")
        version = 0
    for target in range(version + 1, SCHEMA_VERSION + 1):
        for statement in MIGRATIONS[target]:
            connection.execute(statement)
        connection.execute("UPDATE tm_schema SET version = %s", (target,))
        done.append(f"schema version {target}")
    return done


__all__ = [
    "MIGRATIONS",
    "NOTIFY_CHANNEL",
    "SCHEMA_VERSION",
    "SchemaError",
    "check",
    "ensure",
    "installed_version",
]
