"""What the contract tests need of each backend beyond the contract itself.

The contract says what a store does; these say how a test gets one, a second handle on it, and
how another program would disturb it. Adding a backend to the suite is one more class here and
one more entry in `BACKENDS`: every contract test then runs against it.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest

from taskmaster.model import Document
from taskmaster.storage.base import ProjectState, Storage
from taskmaster.storage.memory import MemoryStorage

# Names of known gaps (see `Backend.known_gaps`).
OUTSIDE_STATE_REVISION = "an outside change of the state alone takes a new revision"
OUTSIDE_JOURNALED = "an outside change is journaled with its differences"


def empty_document() -> Document:
    """Two tags, so that switching the current tag has somewhere to go."""
    return Document(
        {"master": {"tasks": [], "metadata": {}}, "feature": {"tasks": [], "metadata": {}}}
    )


def changed_by_another_program(store: Storage) -> Document:
    """The store's document with one task more, as an editor would save it."""
    document = store.read().document
    tasks = document.tasks("master")
    tasks.append({"id": document.next_task_id("master"), "title": "changed outside"})
    return document


class Backend:
    """One backend as the contract tests see it; `close` releases every store it made."""

    name: str
    described: str = ""
    """What `describe()` names the backend (its `name` unless it says otherwise)."""
    # Whether separate OS processes share one store (so process tests apply).
    processes: bool
    # Whether the stored document can be made unreadable from outside.
    corruptible: bool
    # How long a notice that ought to come may take, and how long to wait for one that ought
    # not to come before concluding that it did not.
    notice_deadline: float = 5.0
    quiet_period: float = 0.0
    # What the backend is known not to do yet, by name, with why: the tests that check it are
    # expected to fail (strictly: they report when the gap closes).
    known_gaps: Mapping[str, str] = {}

    def __init__(self) -> None:
        self._made: list[Storage] = []

    def make(self, document: Document | None = None, state: ProjectState | None = None) -> Storage:
        """A new store, created from `document` and `state` (two empty tags, no current tag)."""
        store = self.blank()
        store.create(empty_document() if document is None else document, state or ProjectState())
        return store

    def blank(self) -> Storage:
        """A new store of which nothing has been created yet."""
        raise NotImplementedError

    def reopen(self, store: Storage) -> Storage:
        """A second handle on the same store, as another part of the program would open it."""
        raise NotImplementedError

    def outside_change(
        self,
        store: Storage,
        document: Document | None = None,
        state: ProjectState | None = None,
    ) -> None:
        """Another program replaces the document, the state, or both (given neither: adds a
        task to the document)."""
        raise NotImplementedError

    def expect_gap(self, gap: str, request: pytest.FixtureRequest) -> None:
        """Mark the running test as an expected failure if this backend has `gap`."""
        if gap in self.known_gaps:
            request.applymarker(pytest.mark.xfail(strict=True, reason=self.known_gaps[gap]))

    def corrupt(self, store: Storage) -> None:
        """Another program leaves the stored document unreadable."""
        pytest.skip(f"{self.name}: cannot be corrupted from outside")

    def stored_bytes(self, store: Storage) -> bytes:
        """The document exactly as stored, to check that a refused write left it alone."""
        pytest.skip(f"{self.name}: no stored bytes to compare")

    def opener(self, store: Storage) -> str:
        """Python source that binds `storage` to a handle on `store` in another process."""
        pytest.skip(f"{self.name}: a store is not shared across processes")

    def _track(self, store: Storage) -> Any:
        self._made.append(store)
        return store

    def close(self) -> None:
        for store in self._made:
            store.close()

    def __repr__(self) -> str:
        return f"<{self.name} backend>"


class FileBackend(Backend):
    name = "file"
    processes = True
    corruptible = True
    # The feed is a directory watch on another thread: some ms, more on a loaded machine.
    quiet_period = 0.3
    known_gaps: Mapping[str, str] = {
        OUTSIDE_STATE_REVISION: "the revision is derived from the task file alone: another "
        "program's write to state.json keeps the revision and is not announced",
    }

    keep_document = False
    """Whether its stores keep their document, as a long-lived process's do (and with it, on a
    local file system, a change gate)."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root

    def blank(self) -> Storage:
        from taskmaster.storage.file import FileStorage

        # A project of its own for each store, laid out as `tm init` lays one out, so that
        # whatever the backend keeps beside the task file stays inside it.
        project = Path(tempfile.mkdtemp(prefix="project-", dir=self.root))
        tasks = project / ".taskmaster" / "tasks" / "tasks.json"
        tasks.parent.mkdir(parents=True)
        return self._track(FileStorage(tasks, keep_document=self.keep_document))

    def reopen(self, store: Storage) -> Storage:
        from taskmaster.storage.file import FileStorage

        return self._track(FileStorage(self._path(store), keep_document=self.keep_document))

    def outside_change(
        self,
        store: Storage,
        document: Document | None = None,
        state: ProjectState | None = None,
    ) -> None:
        if document is None and state is None:
            document = changed_by_another_program(store)
        if state is not None:  # as the reference tool's `use-tag` writes it
            data = {} if state.current_tag is None else {"currentTag": state.current_tag}
            self._replace(store.state_path, orjson.dumps(data))  # type: ignore[attr-defined]
        if document is not None:
            self._replace(self._path(store), document.to_json())

    @staticmethod
    def _replace(path: Path, data: bytes) -> None:
        # As an editor saves: a new file renamed over the old one, without our lock.
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".editor-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)

    def corrupt(self, store: Storage) -> None:
        self._path(store).write_bytes(b"{")

    def stored_bytes(self, store: Storage) -> bytes:
        return self._path(store).read_bytes()

    def opener(self, store: Storage) -> str:
        path = str(self._path(store))
        return f"from taskmaster.storage.file import FileStorage\nstorage = FileStorage({path!r})"

    @staticmethod
    def _path(store: Storage) -> Path:
        path: Path = store.path  # type: ignore[attr-defined]
        return path


class KeptFileBackend(FileBackend):
    """The file backend as a long-lived process runs it: the document of its last commit kept
    in memory and written from while the file stays as it wrote it (`keep_document`)."""

    name = "file-kept"
    described = "file"
    keep_document = True

    def opener(self, store: Storage) -> str:
        path = str(self._path(store))
        return (
            "from taskmaster.storage.file import FileStorage\n"
            f"storage = FileStorage({path!r}, keep_document=True)"
        )


class MemoryBackend(Backend):
    name = "memory"
    processes = False
    corruptible = False

    def blank(self) -> Storage:
        return self._track(MemoryStorage())

    def reopen(self, store: Storage) -> Storage:
        return store  # one object is the whole store: there is no second handle to open

    def outside_change(
        self,
        store: Storage,
        document: Document | None = None,
        state: ProjectState | None = None,
    ) -> None:
        assert isinstance(store, MemoryStorage)
        if document is None and state is None:
            document = changed_by_another_program(store)
        store.outside_write(document, state)

    def corrupt(self, store: Storage) -> None:
        pytest.skip("memory: no bytes to corrupt (it only ever holds what it serialised)")


class PostgresBackend(Backend):
    """Stores in a real PostgreSQL cluster the tests started (`postgres_server`), a project
    key of their own each. Another program is another store object (in this process or
    another), writing through the database like any other instance; a corrupt row is one
    written with SQL, bypassing Task Master."""

    name = "postgresql"
    known_gaps: Mapping[str, str] = {
        OUTSIDE_JOURNALED: "a program that writes the tables directly leaves no journal entry: "
        "a project in PostgreSQL is written through tm, which journals every commit",
    }
    processes = True
    corruptible = True
    quiet_period = 0.3

    def __init__(self, server: Any) -> None:
        super().__init__()
        self.server = server

    def blank(self) -> Storage:
        from taskmaster.storage.postgres import PostgresStorage

        if not self.server.alive():
            self.server.restart()
        return self._track(PostgresStorage(f"{self.server.url}?project=c{secrets.token_hex(6)}"))

    def reopen(self, store: Storage) -> Storage:
        from taskmaster.storage.postgres import PostgresStorage

        return self._track(PostgresStorage(self._url(store)))

    def _url(self, store: Storage) -> str:
        return f"{self.server.url}?project={store.project}"  # type: ignore[attr-defined]

    def outside_change(
        self,
        store: Storage,
        document: Document | None = None,
        state: ProjectState | None = None,
    ) -> None:
        if document is None and state is None:
            document = changed_by_another_program(self.reopen(store))
        self._replace(store.project, document, state)  # type: ignore[attr-defined]

    def _replace(self, project: str, document: Document | None, state: ProjectState | None) -> None:
        """Another program's write, straight into the tables as the schema defines them: the
        old rows become tombstones, the new ones take fresh numbers, the revision goes up and
        the change is announced, in one transaction."""
        import psycopg

        from taskmaster.storage.pg_schema import NOTIFY_CHANNEL
        from taskmaster.storage.rows import rows_of

        with psycopg.connect(self.server.url) as connection, connection.transaction():
            pid, revision, current_tag, first = connection.execute(
                "SELECT id, revision, current_tag, next_number FROM tm_projects "
                "WHERE key = %s FOR UPDATE",
                (project,),
            ).fetchone()
            revision += 1
            if state is not None:
                current_tag = state.current_tag
            next_number = first
            flat = None
            if document is not None:
                entries, tasks = rows_of(document, first)
                next_number = first + len(entries) + len(tasks)
                flat = document.flat
                for table in ("tm_entries", "tm_tasks"):
                    connection.execute(
                        f"UPDATE {table} SET deleted = true, body = NULL, revision = %s "
                        "WHERE project = %s AND NOT deleted",
                        (revision, pid),
                    )
                for e in entries:
                    connection.execute(
                        "INSERT INTO tm_entries (project, number, name, position, is_tag, body, "
                        "revision) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                        (pid, e.number, e.name, e.position, e.is_tag, e.body.decode(), revision),
                    )
                for t in tasks:
                    connection.execute(
                        "INSERT INTO tm_tasks (project, number, entry, position, body, revision) "
                        "VALUES (%s, %s, %s, %s, %s, %s)",
                        (pid, t.number, t.entry, t.position, t.body.decode(), revision),
                    )
            connection.execute(
                "UPDATE tm_projects SET revision = %s, current_tag = %s, next_number = %s, "
                "flat = coalesce(%s, flat) WHERE id = %s",
                (revision, current_tag, next_number, flat, pid),
            )
            connection.execute("SELECT pg_notify(%s, %s)", (NOTIFY_CHANNEL, f"{pid}:{revision}"))

    def _sql(self, statement: str, *args: Any) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.server.url, autocommit=True) as connection:
            cursor = connection.execute(statement, args)  # type: ignore[call-overload]
            return list(cursor.fetchall()) if cursor.description else []

    def corrupt(self, store: Storage) -> None:
        project = store.project  # type: ignore[attr-defined]
        self._sql(
            "WITH p AS (UPDATE tm_projects SET revision = revision + 1 WHERE key = %s "
            "RETURNING id, revision) "
            "UPDATE tm_entries SET body = '{', revision = p.revision FROM p "
            "WHERE tm_entries.project = p.id AND tm_entries.number = "
            "(SELECT min(number) FROM tm_entries e WHERE e.project = p.id AND NOT e.deleted)",
            project,
        )

    def stored_bytes(self, store: Storage) -> bytes:
        project = store.project  # type: ignore[attr-defined]
        rows = self._sql(
            "SELECT p.revision, p.current_tag, e.number, e.body, t.number, t.body "
            "FROM tm_projects p JOIN tm_entries e ON e.project = p.id "
            "LEFT JOIN tm_tasks t ON t.project = p.id AND t.entry = e.number "
            "WHERE p.key = %s ORDER BY e.number, t.number",
            project,
        )
        return orjson.dumps([list(row) for row in rows])

    def opener(self, store: Storage) -> str:
        return (
            "from taskmaster.storage.postgres import PostgresStorage\n"
            f"storage = PostgresStorage({self._url(store)!r})"
        )


BACKENDS: dict[str, Callable[[Path, pytest.FixtureRequest], Backend]] = {
    "file": lambda root, _request: FileBackend(root),
    "file-kept": lambda root, _request: KeptFileBackend(root),
    "memory": lambda _root, _request: MemoryBackend(),
    "postgresql": lambda _root, request: PostgresBackend(
        request.getfixturevalue("postgres_server")
    ),
}
