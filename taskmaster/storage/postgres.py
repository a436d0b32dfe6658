"""PostgresStorage: a project kept in a PostgreSQL database, with the file backend's guarantees.

A project is rows (see `rows.py` and `pg_schema.py`): one per task, one per top-level entry,
and the project's own row with its revision and current tag. Several projects share one
database, each named by its key (``?project=KEY`` in the storage URL; ``default`` if none).

Writes: every transaction locks the project's row (``SELECT ... FOR UPDATE``), which serialises
the writers of one project on every machine; it loads only the rows changed since the revision
this process last saw, runs the command on the document it keeps, writes only the rows the
command changed, bumps the revision and sends a NOTIFY, all in one database transaction. So a
write costs what it changes, not what the project holds, and no writer ever applies a command
to an older document than the committed one (no lost update). Nothing is half-applied: a
failure anywhere rolls the transaction back.

Reads take no lock: one round trip for the project's revision, and the rows changed since the
revision this process holds, read in one REPEATABLE READ snapshot. Events (LISTEN/NOTIFY) only
make a reader's invalidation early; every read checks the revision.

A server that cannot be reached, or that goes away mid-call, is `StorageUnavailable`; pooled
connections that died are replaced on the next call, so a process recovers by itself.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson

from taskmaster.errors import (
    CorruptTaskFile,
    InvalidInput,
    LockTimeout,
    RevisionMismatch,
    StorageError,
    StorageUnavailable,
    TaskFileMissing,
)
from taskmaster.journal.entry import DEFAULT_KEEP, Entry, encode
from taskmaster.model import Document
from taskmaster.shape import is_clean_task, json_type_name, normalise_tag
from taskmaster.storage import pg_schema
from taskmaster.storage.base import (
    DEFAULT_LOCK_TIMEOUT,
    Commit,
    Draft,
    Outcome,
    ProjectState,
    Snapshot,
    Step,
    journal_entry,
    transact_each,
)
from taskmaster.storage.resident import run_steps
from taskmaster.storage.rows import (
    EntryRow,
    RowChanges,
    RowImage,
    TaskRow,
    TrackedDraft,
    Working,
    document_from_parts,
    rows_of,
)
from taskmaster.storage.tracking import detached

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool

    from taskmaster.storage.base import Storage

T = TypeVar("T")
R = TypeVar("R")
log = logging.getLogger(__name__)
# The pool reports every failed connection attempt as a warning; the caller gets the error as
# StorageUnavailable, so a CLI run must not also print the pool's log lines.
logging.getLogger("psycopg.pool").addHandler(logging.NullHandler())

DEFAULT_PROJECT = "default"
DEFAULT_POOL_SIZE = 4
CONNECT_TIMEOUT = 3.0
"""Seconds to wait for a connection before the server counts as unavailable."""
RETRY_AFTER = 2
TOMBSTONE_WINDOW = 1000
JOURNAL_TRIM_EVERY = 100
"""Every this many revisions, a commit drops journal entries beyond the retention."""
"""Deleted rows are kept this many revisions, for processes catching up with deltas."""
_LISTEN_POLL = 0.25


def split_url(url: str) -> tuple[str, str, str]:
    """(the libpq URL without our `project` parameter, the project key, host:port/db)."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise InvalidInput(f"not a PostgreSQL URL: {url!r}")
    query = parse_qsl(parts.query, keep_blank_values=True)
    projects = [value for key, value in query if key == "project"]
    project = projects[-1] if projects else DEFAULT_PROJECT
    if not project.strip():
        raise InvalidInput(f"empty project key in storage URL {_redacted(url)!r}")
    rest = urlencode([(key, value) for key, value in query if key != "project"])
    conninfo = urlunsplit((parts.scheme, parts.netloc, parts.path, rest, ""))
    try:
        port = parts.port or 5432
    except ValueError:
        raise InvalidInput(f"bad port in storage URL {_redacted(url)!r}") from None
    host = parts.hostname or "localhost"
    database = parts.path.lstrip("/") or parts.username or "postgres"
    return conninfo, project, f"{host}:{port}/{database}"


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class _Project:
    __slots__ = ("current_tag", "flat", "horizon", "id", "next_number", "revision")

    def __init__(self, row: tuple[Any, ...]) -> None:
        self.id, self.revision, self.current_tag, self.flat, self.next_number, self.horizon = row


_PROJECT_COLUMNS = "id, revision, current_tag, flat, next_number, horizon"


class PostgresStorage:
    """One project of a PostgreSQL database, shared safely by every process and machine."""

    def __init__(
        self,
        url: str,
        *,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        pool_size: int | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
        journal_keep: int = DEFAULT_KEEP,
        journal_max_age_s: float | None = None,
        journal: bool = True,
    ) -> None:
        self._conninfo, self.project, self.location = split_url(url)
        # `journal=False` only measures what the journal costs (the benchmarks' baseline).
        self.journal_enabled = journal
        self.journal_keep = journal_keep
        self.journal_max_age_s = journal_max_age_s
        self.lock_timeout = lock_timeout
        self.pool_size = max(1, pool_size or DEFAULT_POOL_SIZE)
        self.connect_timeout = connect_timeout
        self._pool: ConnectionPool[Any] | None = None
        self._pool_lock = threading.Lock()
        self._owner_pid = os.getpid()
        self._checked = False
        # Serialises this process's transactions: they share the document kept in `_working`.
        self._transaction_lock = threading.RLock()
        self._image_lock = threading.Lock()
        self._image: RowImage | None = None
        self._working: Working | None = None
        self._project_id: int | None = None
        self._committed: deque[int] = deque(maxlen=256)
        self._closed = False
        # Probed before the pool's first use, so that a process started while the server is
        # away fails at once instead of after the pool's whole connect timeout.
        self._down = True

    # identity ---------------------------------------------------------------------------------
    @property
    def key(self) -> str:
        return f"postgresql://{self.location}#{self.project}"

    def describe(self) -> Mapping[str, str]:
        return {"backend": "postgresql", "location": f"{self.location} project {self.project}"}

    @property
    def conninfo(self) -> str:
        """The libpq URL (our `project` parameter removed), for programs that connect too."""
        return self._conninfo

    # connections ------------------------------------------------------------------------------
    def _pool_now(self) -> ConnectionPool[Any]:
        if self._owner_pid != os.getpid():  # a forked child: the parent's pool is not ours
            self._owner_pid = os.getpid()
            self._pool = None
            self._image = None
            self._working = None
            self._transaction_lock = threading.RLock()
        with self._pool_lock:
            if self._pool is None:
                from psycopg_pool import ConnectionPool

                pool: ConnectionPool[Any] = ConnectionPool(
                    self._conninfo,
                    min_size=1,
                    max_size=self.pool_size,
                    kwargs={"autocommit": True, "connect_timeout": int(self.connect_timeout)},
                    open=False,
                    name=f"tm-{self.project}",
                    timeout=self.connect_timeout,
                )
                pool.open(wait=False)
                self._pool = pool
            return self._pool

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        """A pooled connection; connection failures become StorageUnavailable. A connection
        that broke is discarded by the pool when it comes back."""
        import psycopg
        from psycopg_pool import PoolTimeout

        if self._closed:
            raise StorageError(f"storage {self.key} is closed")
        try:
            if self._down:
                self._probe()
            with self._pool_now().connection() as connection:
                self._down = False
                if not self._checked:
                    self._check_schema(connection)
                yield connection
        except PoolTimeout as err:
            # No connection in time: the server is down or unreachable. Not worth repeating
            # at once, unlike a pooled connection that died (see `_retrying`).
            self._down = True
            raise _ServerDown(self._unavailable(err)) from None
        except psycopg.errors.LockNotAvailable:
            raise LockTimeout.on(
                f"the row of project {self.project!r}", self.lock_timeout
            ) from None
        except psycopg.errors.UndefinedTable:
            raise self._missing("it holds no Task Master schema") from None
        except psycopg.OperationalError as err:
            self._down = True  # the next call probes the server instead of trusting the pool
            raise self._unavailable(err) from None

    def _probe(self) -> None:
        """While the server is known to be away: one direct connection attempt instead of a
        wait for the pool, whose own reconnect attempts back off for seconds. A refused
        connection fails at once (the client gets its 503 now, not after the connect
        timeout); once one succeeds, a fresh pool serves from the very next call."""
        import psycopg

        try:
            psycopg.connect(self._conninfo, connect_timeout=int(self.connect_timeout)).close()
        except psycopg.OperationalError as err:
            raise _ServerDown(self._unavailable(err)) from None
        with self._pool_lock:
            stale, self._pool = self._pool, None
        if stale is not None:
            with contextlib.suppress(Exception):
                stale.close(timeout=0.5)
        self._down = False

    def _check_schema(self, connection: Any) -> None:
        try:
            pg_schema.check(connection)
        except pg_schema.SchemaError as err:
            raise self._missing(str(err)) from None
        self._checked = True

    def _unavailable(
        self, err: BaseException, *, outcome_unknown: bool = False
    ) -> StorageUnavailable:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        reason = reason.removeprefix("connection failed: ")
        return StorageUnavailable.at(
            f"postgresql://{self.location}",
            reason,
            retry_after=RETRY_AFTER,
            outcome_unknown=outcome_unknown,
        )

    def _missing(self, reason: str | None = None) -> TaskFileMissing:
        why = f" ({reason})" if reason else ""
        return TaskFileMissing(
            f"project {self.project!r} does not exist in postgresql://{self.location}{why}; "
            "run `tm init --storage URL` to create it",
            path=self.key,
        )

    def _retrying(self, action: Callable[[Any], T]) -> T:
        """Run a read on a pooled connection, once more on a new one if the first had died
        (the server restarted since it was pooled): a read is safe to repeat."""
        for attempt in (1, 2):
            try:
                with self._connection() as connection:
                    return action(connection)
            except _ServerDown as err:
                raise err.error from None
            except StorageUnavailable:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    # reading ----------------------------------------------------------------------------------
    def _project_row(self, connection: Any, *, lock: bool = False) -> _Project:
        suffix = " FOR UPDATE" if lock else ""
        row = connection.execute(
            f"SELECT {_PROJECT_COLUMNS} FROM tm_projects WHERE key = %s{suffix}", (self.project,)
        ).fetchone()
        if row is None:
            raise self._missing()
        project = _Project(row)
        self._project_id = project.id
        return project

    def revision(self) -> int:
        """The project's revision: one round trip."""
        revision: int = self._retrying(lambda connection: self._project_row(connection).revision)
        return revision

    def state(self) -> ProjectState:
        return self._retrying(
            lambda connection: ProjectState(self._project_row(connection).current_tag)
        )

    def change_epoch(self) -> int | None:
        return None  # only the database can tell: its revision check is the round trip

    def clock(self) -> float:
        """The database server's clock (one round trip): leases are judged by one clock
        however many machines share the project."""
        seconds: float = self._retrying(_server_clock)
        return seconds

    def schema_version(self) -> int | None:
        """The version of the schema the database holds (None: none), for `tm storage info`."""
        version: int | None = self._retrying(pg_schema.installed_version)
        return version

    def exists(self) -> bool:
        """Whether the database holds the schema and this project."""
        try:
            self.revision()
        except TaskFileMissing:
            return False
        return True

    def read(self) -> Snapshot:
        """The document at the current revision: the rows changed since this process's copy
        are read in one snapshot; the document is rebuilt for this caller alone."""

        def current(connection: Any) -> tuple[RowImage, list[Any], str | None, int, bool]:
            project = self._project_row(connection)
            with self._image_lock:
                image = self._image
                if image is None or image.revision != project.revision:
                    connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    try:
                        project = self._project_row(connection)
                        image = self._refresh_locked(connection, project)
                    finally:
                        connection.execute("COMMIT")
                return image, image.parts(), image.current_tag, image.revision, image.flat

        _, parts, current_tag, revision, flat = self._retrying(current)
        # Every row was checked when it was read from the database (`_verified_task`), so the
        # document needs no second shape check.
        document = Document(document_from_parts(parts, flat), flat=flat)
        return Snapshot(document, ProjectState(current_tag), revision)

    def _refresh_locked(
        self,
        connection: Any,
        project: _Project,
        since: int | None = None,
        delta: RowChanges | None = None,
    ) -> RowImage:
        """The image at `project.revision`, from the rows changed since the one held (or all
        rows, when none is held or it is older than the tombstones reach). Under the image
        lock, inside a transaction that sees `project` as it is. `delta` is what changed
        after revision `since`, read already in that transaction."""
        image = self._image
        if image is not None and image.revision == project.revision:
            return image
        if image is None or image.revision < project.horizon or image.revision > project.revision:
            image = self._load_all(connection, project)
        else:
            if delta is None or since != image.revision:
                delta = self._delta(connection, project.id, image.revision)
            image.apply(project.revision, project.current_tag, project.flat, delta)
        self._image = image
        return image

    def _load_all(self, connection: Any, project: _Project) -> RowImage:
        entries = [
            self._verified_entry(number, name, position, is_tag, body)
            for number, name, position, is_tag, body in connection.execute(
                "SELECT number, name, position, is_tag, body FROM tm_entries "
                "WHERE project = %s AND NOT deleted",
                (project.id,),
            )
        ]
        tasks = [
            self._verified_task(number, entry, position, body)
            for number, entry, position, body in connection.execute(
                "SELECT number, entry, position, body FROM tm_tasks "
                "WHERE project = %s AND NOT deleted",
                (project.id,),
            )
        ]
        return RowImage.from_rows(
            project.revision, project.current_tag, project.flat, entries, tasks
        )

    def _verified_task(self, number: int, entry: int, position: float, body: str | None) -> TaskRow:
        """A task row as read, refused (CorruptTaskFile) unless it holds a task: another
        program may have written anything into the table, and a write is never built on it."""
        where = f"task row {number}"
        raw, value = self._parsed(body, where)
        if not isinstance(value, dict):
            raise CorruptTaskFile.at(
                self.key, f"a task must be an object, found {json_type_name(value)}", where=where
            )
        if not is_clean_task(value):
            # As the file backend reads a file: what can be normalised is (a string id), and
            # the row is kept as it would be written; what cannot is refused.
            normalise_tag({"tasks": [value]}, self.key, where=f"{where}: ")
            raw = orjson.dumps(value)
        return TaskRow(number, entry, position, raw)

    def _verified_entry(
        self, number: int, name: str, position: float, is_tag: bool, body: str | None
    ) -> EntryRow:
        where = f"entry {name!r}"
        raw, value = self._parsed(body, where)
        if is_tag and not (isinstance(value, dict) and value.get("tasks") == []):
            raise CorruptTaskFile.at(self.key, "a tag's row must be an object", where=where)
        if is_tag:
            normalise_tag(value, self.key, where=f"{where}: ")  # 'metadata' must be an object
        return EntryRow(number, name, position, is_tag, raw)

    def _parsed(self, body: str | None, where: str) -> tuple[bytes, Any]:
        raw = (body or "").encode()
        try:
            return raw, orjson.loads(raw)
        except orjson.JSONDecodeError as err:
            raise CorruptTaskFile.at(self.key, str(err).split(": line")[0], where=where) from None

    def _delta(self, connection: Any, project_id: int, since: int) -> RowChanges:
        entries = connection.execute(
            "SELECT number, name, position, is_tag, body, deleted FROM tm_entries "
            "WHERE project = %s AND revision > %s",
            (project_id, since),
        ).fetchall()
        tasks = connection.execute(
            "SELECT number, entry, position, body, deleted FROM tm_tasks "
            "WHERE project = %s AND revision > %s",
            (project_id, since),
        ).fetchall()
        return self._changes_of(entries, tasks)

    def _changes_of(self, entries: list[Any], tasks: list[Any]) -> RowChanges:
        """Changed rows as read (tombstones included), as changes to apply to an image."""
        changes = RowChanges()
        for number, name, position, is_tag, body, deleted in entries:
            if deleted:
                changes.deleted_entries.append(number)
            else:
                changes.entries.append(self._verified_entry(number, name, position, is_tag, body))
        for number, entry, position, body, deleted in tasks:
            if deleted:
                changes.deleted_tasks.append(number)
            else:
                changes.tasks.append(self._verified_task(number, entry, position, body))
        return changes

    # writing ----------------------------------------------------------------------------------
    def transact_all(self, steps: Sequence[Step[Any]]) -> list[Outcome]:
        """Group commit: the steps in one database transaction. The project's row is locked
        once, the steps run in order on a copy of the rows this process keeps (`run_steps`:
        each its own outcome, revision and journal entry, a failing one leaving no trace), and
        the rows they changed are written with one COMMIT. A lone step is `transact`."""
        if len(steps) <= 1:
            return transact_each(self, steps)
        return self._write_transaction(
            lambda connection, attempt: self._group(connection, attempt, steps)
        )

    def transact(
        self, operation: Callable[[Draft], T], *, expected_revision: int | None = None
    ) -> Commit[T]:
        """Lock the project's row, catch up with what others committed, run `operation` on the
        document, write the rows it changed and the new revision, commit; all or nothing."""
        return self._write_transaction(
            lambda connection, attempt: self._one(connection, attempt, operation, expected_revision)
        )

    def _write_transaction(self, body: Callable[[Any, _Attempt], Callable[[], R]]) -> R:
        """Run `body` in a write transaction; it returns what to do once the connection is
        back in the pool (update the image, give the outcome).

        A connection that turns out dead before anything was sent to commit is replaced and
        the transaction run once more (the server rolled the first one back). A failure before
        the COMMIT rolls back; a connection lost once the COMMIT was sent is StorageUnavailable
        with `outcome_unknown`."""
        import psycopg

        with self._transaction_lock:
            for tries in (1, 2):
                attempt = _Attempt()
                try:
                    with self._connection() as connection:
                        try:
                            finish = body(connection, attempt)
                        except BaseException:
                            if not attempt.committing:
                                with contextlib.suppress(psycopg.Error):
                                    connection.execute("ROLLBACK")
                            raise
                except _ServerDown as err:
                    self._working = None
                    raise err.error from None
                except StorageUnavailable as err:
                    self._working = None
                    if attempt.committing:  # the COMMIT was sent: whether it took is unknown
                        with self._image_lock:
                            self._image = None
                        raise StorageUnavailable.at(
                            f"postgresql://{self.location}",
                            str(err.details.get("reason", "")),
                            retry_after=RETRY_AFTER,
                            outcome_unknown=True,
                        ) from None
                    if tries == 2:
                        raise
                    continue
                return finish()
        raise AssertionError("unreachable")

    def _about_to_commit(self, attempt: _Attempt, revisions: Sequence[int]) -> None:
        # Known as ours before the commit: its NOTIFY may reach our own feed before this
        # thread gets past the COMMIT. From here the writes and the COMMIT go in one round trip.
        self._committed.extend(revisions)
        attempt.committing = True

    def _one(
        self,
        connection: Any,
        attempt: _Attempt,
        operation: Callable[[Draft], T],
        expected_revision: int | None,
    ) -> Callable[[], Commit[T]]:
        project, since, delta = self._lock_project(connection)
        if expected_revision is not None and expected_revision != project.revision:
            raise RevisionMismatch.between(expected_revision, project.revision)
        with self._image_lock:
            image = self._refresh_locked(connection, project, since, delta)
        working = self._working_at(image)
        state = ProjectState(project.current_tag)
        draft = TrackedDraft(
            working,
            state,
            project.revision,
            lambda: _server_clock(connection),
            lambda after: self._entries(connection, project.id, after),
        )
        try:
            # Detached: the kept document's objects go on changing with later commits.
            result = detached(operation(draft))
            if draft.document is not working.document:  # replaced wholesale
                working.document.data = draft.document.data
                working.document.flat = draft.document.flat
            numbers = itertools.count(project.next_number)
            changes = working.changes(image, numbers)
        except BaseException:
            if working.touched:  # half-changed: build a fresh one next time
                self._working = None
            raise
        state_changed = draft.state_assigned and draft.state != state
        if not changes and not state_changed:
            connection.execute("ROLLBACK")
            if working.touched:  # changed, then changed back: nothing to write
                working.committed(image)
            return lambda: Commit(result, project.revision, changed=False)
        revision = project.revision + 1
        next_number = next(numbers)
        entries: list[Entry] = []
        if self.journal_enabled:
            entry = journal_entry(draft, working.before(image), working.changed_positions(image))
            entry["revision"] = revision
            entries.append(entry)
        self._about_to_commit(attempt, [revision])
        self._write(connection, project, changes, draft.state, revision, next_number, entries)

        def finish() -> Commit[T]:
            with self._image_lock:
                if self._image is image and image.revision == project.revision:
                    flat = image.flat if changes.flat is None else changes.flat
                    image.apply(revision, draft.state.current_tag, flat, changes)
                if self._image is image and image.revision == revision:
                    working.committed(image)
                else:
                    self._working = None
            return Commit(result, revision, changed=True)

        return finish

    def _group(
        self, connection: Any, attempt: _Attempt, steps: Sequence[Step[Any]]
    ) -> Callable[[], list[Outcome]]:
        project, since, delta = self._lock_project(connection)
        with self._image_lock:
            image = self._refresh_locked(connection, project, since, delta)
        # The steps move a copy: readers of this process keep the image, which must not show
        # a row before its COMMIT (nor keep one of a group that never committed).
        kept = _KeptRows(image.copy(), self._working_at(image), project)
        try:
            run = run_steps(
                kept,
                steps,
                load_state=lambda: ProjectState(project.current_tag),
                clock=lambda: _server_clock(connection),
                history=lambda after: self._entries(connection, project.id, after),
                journal=self.journal_enabled,
            )
        except BaseException:
            self._working = None
            raise
        base = project.revision
        if not run.changes:
            connection.execute("ROLLBACK")
            self._working = kept.working
            return lambda: run.resolve(base, base)
        committed = base + run.changes
        state = run.state if run.state is not None else ProjectState(project.current_tag)
        self._about_to_commit(attempt, range(base + 1, committed + 1))
        self._write(
            connection,
            project,
            RowChanges.merged(run.row_changes),
            state,
            committed,
            next(kept.numbers),
            run.entries if self.journal_enabled else [],
            base=base,
        )

        def finish() -> list[Outcome]:
            moved = kept.image
            moved.revision = committed  # a last step that changed only the state moved no row
            moved.current_tag = state.current_tag
            with self._image_lock:
                if self._image is image and image.revision == base:
                    self._image = moved
                    self._working = kept.working
                else:
                    self._working = None
            return run.resolve(base, committed)

        return finish

    def _lock_project(self, connection: Any) -> tuple[_Project, int | None, RowChanges | None]:
        """Begin, lock the project's row and read the rows changed since the revision this
        process holds, in one round trip (a pipeline): the row lock is what serialises the
        writers of a project, so every round trip made while holding it costs every writer.
        The changed rows are read after the lock is held, so they are all there is."""
        with self._image_lock:
            since = self._image.revision if self._image is not None else None
        with connection.pipeline():
            connection.execute("BEGIN")
            connection.execute(f"SET LOCAL lock_timeout = {max(1, int(self.lock_timeout * 1000))}")
            locked = connection.execute(
                f"SELECT {_PROJECT_COLUMNS} FROM tm_projects WHERE key = %s FOR UPDATE",
                (self.project,),
            )
            if since is not None:
                entries = connection.execute(
                    "SELECT e.number, e.name, e.position, e.is_tag, e.body, e.deleted "
                    "FROM tm_entries e JOIN tm_projects p ON p.id = e.project "
                    "WHERE p.key = %s AND e.revision > %s",
                    (self.project, since),
                )
                tasks = connection.execute(
                    "SELECT t.number, t.entry, t.position, t.body, t.deleted "
                    "FROM tm_tasks t JOIN tm_projects p ON p.id = t.project "
                    "WHERE p.key = %s AND t.revision > %s",
                    (self.project, since),
                )
            row = locked.fetchone()
            if row is None:
                raise self._missing()
            project = _Project(row)
            self._project_id = project.id
            if since is None:
                return project, None, None
            return project, since, self._changes_of(entries.fetchall(), tasks.fetchall())

    def _working_at(self, image: RowImage) -> Working:
        working = self._working
        if working is None or not working.catch_up(image):
            working = self._working = Working(image)
        return working

    def _write(
        self,
        connection: Any,
        project: _Project,
        changes: RowChanges,
        state: ProjectState,
        revision: int,
        next_number: int,
        entries: Sequence[Entry],
        *,
        base: int | None = None,
    ) -> None:
        """Write one commit: its rows, the project's new `revision`, the journal `entries` of
        the revisions after `base` (the one before; by default `revision - 1`), a NOTIFY, and
        the COMMIT, in one round trip."""
        from taskmaster.storage.pg_schema import NOTIFY_CHANNEL

        before = revision - 1 if base is None else base

        pid = project.id
        flat = project.flat if changes.flat is None else changes.flat
        with connection.pipeline():
            cursor = connection.cursor()
            if changes.entries:
                cursor.executemany(
                    "INSERT INTO tm_entries (project, number, name, position, is_tag, body, "
                    "revision, deleted) VALUES (%s, %s, %s, %s, %s, %s, %s, false) "
                    "ON CONFLICT (project, number) DO UPDATE SET name = EXCLUDED.name, "
                    "position = EXCLUDED.position, is_tag = EXCLUDED.is_tag, "
                    "body = EXCLUDED.body, revision = EXCLUDED.revision, deleted = false",
                    [
                        (pid, e.number, e.name, e.position, e.is_tag, e.body.decode(), revision)
                        for e in changes.entries
                    ],
                )
            if changes.tasks:
                cursor.executemany(
                    "INSERT INTO tm_tasks (project, number, entry, position, body, revision, "
                    "deleted) VALUES (%s, %s, %s, %s, %s, %s, false) "
                    "ON CONFLICT (project, number) DO UPDATE SET entry = EXCLUDED.entry, "
                    "position = EXCLUDED.position, body = EXCLUDED.body, "
                    "revision = EXCLUDED.revision, deleted = false",
                    [
                        (pid, t.number, t.entry, t.position, t.body.decode(), revision)
                        for t in changes.tasks
                    ],
                )
            if changes.deleted_entries:
                connection.execute(
                    "UPDATE tm_entries SET deleted = true, body = NULL, revision = %s "
                    "WHERE project = %s AND number = ANY(%s)",
                    (revision, pid, changes.deleted_entries),
                )
            if changes.deleted_tasks:
                connection.execute(
                    "UPDATE tm_tasks SET deleted = true, body = NULL, revision = %s "
                    "WHERE project = %s AND number = ANY(%s)",
                    (revision, pid, changes.deleted_tasks),
                )
            horizon = project.horizon
            if revision // TOMBSTONE_WINDOW != before // TOMBSTONE_WINDOW:
                horizon = revision // TOMBSTONE_WINDOW * TOMBSTONE_WINDOW - TOMBSTONE_WINDOW
                for table in ("tm_entries", "tm_tasks"):
                    connection.execute(
                        f"DELETE FROM {table} WHERE project = %s AND deleted AND revision <= %s",
                        (pid, horizon),
                    )
            connection.execute(
                "UPDATE tm_projects SET revision = %s, current_tag = %s, flat = %s, "
                "next_number = %s, horizon = %s WHERE id = %s",
                (revision, state.current_tag, flat, next_number, horizon, pid),
            )
            # The entries commit with the rows or not at all: exact by construction.
            if entries:
                cursor.executemany(
                    "INSERT INTO tm_journal (project, revision, entry) VALUES (%s, %s, %s)",
                    [(pid, entry["revision"], encode(entry).decode()) for entry in entries],
                )
            if entries and revision // JOURNAL_TRIM_EVERY != before // JOURNAL_TRIM_EVERY:
                connection.execute(
                    "DELETE FROM tm_journal WHERE project = %s AND revision <= %s",
                    (pid, revision - self.journal_keep),
                )
            connection.execute("SELECT pg_notify(%s, %s)", (NOTIFY_CHANNEL, f"{pid}:{revision}"))
            connection.execute("COMMIT")

    # journal --------------------------------------------------------------------------------
    def _entries(self, connection: Any, project_id: int, after: int) -> list[Entry]:
        rows = connection.execute(
            "SELECT entry FROM tm_journal WHERE project = %s AND revision > %s ORDER BY revision",
            (project_id, after),
        ).fetchall()
        return [orjson.loads(row[0]) for row in rows]

    def history(self, after: int = 0, limit: int | None = None) -> list[Entry]:
        # Through `_retrying`, as every read: it turns "no connection at all" (the server
        # known to be down) into StorageUnavailable, and retries a connection that died.
        rows = self._retrying(
            lambda connection: connection.execute(
                "SELECT j.entry FROM tm_journal j JOIN tm_projects p ON p.id = j.project "
                "WHERE p.key = %s AND j.revision > %s ORDER BY j.revision LIMIT %s",
                (self.project, after, limit),
            ).fetchall()
        )
        return [orjson.loads(row[0]) for row in rows]

    def journal_stats(self) -> dict[str, Any]:
        count, size, oldest, newest = self._retrying(
            lambda connection: connection.execute(
                "SELECT count(*), coalesce(sum(octet_length(j.entry)), 0), min(j.revision), "
                "max(j.revision) FROM tm_journal j JOIN tm_projects p ON p.id = j.project "
                "WHERE p.key = %s",
                (self.project,),
            ).fetchone()
        )
        return {
            "entries": int(count),
            "bytes": int(size),
            "oldest": oldest,
            "newest": newest,
            "keep": self.journal_keep,
            "max_age_s": self.journal_max_age_s,
        }

    def compact_journal(self, keep: int | None = None, max_age_s: float | None = None) -> int:
        keep = self.journal_keep if keep is None else keep
        max_age_s = self.journal_max_age_s if max_age_s is None else max_age_s
        try:
            with self._connection() as connection, connection.transaction():
                dropped = connection.execute(
                    "DELETE FROM tm_journal j USING tm_projects p WHERE p.id = j.project "
                    "AND p.key = %s AND (j.revision <= p.revision - %s "
                    "OR (%s::double precision IS NOT NULL "
                    "AND j.at < now() - make_interval(secs => %s::double precision)))",
                    (self.project, keep, max_age_s, max_age_s),
                ).rowcount
        except _ServerDown as err:
            raise err.error from None
        return int(dropped or 0)

    def create(self, document: Document, state: ProjectState) -> list[str]:
        """Create or upgrade the schema and create the project from `document` and `state`,
        each only if missing; what was created."""
        canonical = Document.from_json(document.to_json(), self.key)
        entries, tasks = rows_of(canonical)
        with self._connection_unchecked() as connection, connection.transaction():
            done = [
                f"{step} in postgresql://{self.location}" for step in pg_schema.ensure(connection)
            ]
            exists = connection.execute(
                "SELECT 1 FROM tm_projects WHERE key = %s", (self.project,)
            ).fetchone()
            if exists is None:
                next_number = max([0, *(e.number for e in entries), *(t.number for t in tasks)]) + 1
                pid = connection.execute(
                    "INSERT INTO tm_projects (key, revision, current_tag, flat, next_number) "
                    "VALUES (%s, 1, %s, %s, %s) RETURNING id",
                    (self.project, state.current_tag, canonical.flat, next_number),
                ).fetchone()[0]
                cursor = connection.cursor()
                cursor.executemany(
                    "INSERT INTO tm_entries (project, number, name, position, is_tag, body, "
                    "revision) VALUES (%s, %s, %s, %s, %s, %s, 1)",
                    [
                        (pid, e.number, e.name, e.position, e.is_tag, e.body.decode())
                        for e in entries
                    ],
                )
                if tasks:
                    cursor.executemany(
                        "INSERT INTO tm_tasks (project, number, entry, position, body, revision) "
                        "VALUES (%s, %s, %s, %s, %s, 1)",
                        [(pid, t.number, t.entry, t.position, t.body.decode()) for t in tasks],
                    )
                done.append(f"project {self.project!r} in postgresql://{self.location}")
        self._checked = True
        return done

    @contextmanager
    def _connection_unchecked(self) -> Iterator[Any]:
        """A connection without the schema check (`create` makes the schema)."""
        checked, self._checked = self._checked, True
        try:
            with self._connection() as connection:
                yield connection
        finally:
            self._checked = checked or self._checked

    # change feed ------------------------------------------------------------------------------
    def changes(self, on_change: Callable[[int], None]) -> PostgresChangeFeed:
        return PostgresChangeFeed(self, on_change)

    def committed_here(self, revision: int) -> bool:
        return revision in self._committed

    def close(self) -> None:
        self._closed = True
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None and self._owner_pid == os.getpid():
            with contextlib.suppress(Exception):
                pool.close(timeout=1.0)

    def __repr__(self) -> str:
        return f"PostgresStorage({self.key!r})"


class _Attempt:
    """One try of a write transaction: whether its COMMIT was sent (from then on, whether it
    took is unknown until the server answers)."""

    __slots__ = ("committing",)

    def __init__(self) -> None:
        self.committing = False


class _KeptRows:
    """What `run_steps` moves through a group: a copy of the image, the tracked document on
    it, and the numbers new rows take (from the project's counter)."""

    __slots__ = ("image", "numbers", "revision", "working")

    def __init__(self, image: RowImage, working: Working, project: _Project) -> None:
        self.image = image
        self.working = working
        self.revision = project.revision
        self.numbers: Iterator[int] = itertools.count(project.next_number)

    def rebuild(self) -> None:
        self.working = Working(self.image)


def _server_clock(connection: Any) -> float:
    """The server's time now (``clock_timestamp()``: not the transaction's start, which a
    transaction that waited for the row lock would give from before its wait)."""
    row = connection.execute("SELECT extract(epoch FROM clock_timestamp())::float8").fetchone()
    return float(row[0])


class _ServerDown(Exception):
    """No connection could be had at all: the caller gets `error` without a second try."""

    def __init__(self, error: StorageUnavailable) -> None:
        super().__init__(str(error))
        self.error = error


class PostgresChangeFeed:
    """LISTEN on the database: each NOTIFY of another store object's commit of this project
    becomes `on_change(revision)`. The connection is its own; when it drops, the feed
    reconnects with backoff and then reports the current revision if it moved meanwhile (the
    notices sent while it was away are lost, which only costs early invalidation)."""

    def __init__(self, storage: PostgresStorage, on_change: Callable[[int], None]) -> None:
        self._storage = storage
        self._on_change = on_change
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._baseline: int | None = None
        self.connected = threading.Event()
        """Set while the feed is listening (tests wait for it)."""

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        # The revision when the feed was asked for: a change committed before LISTEN took
        # effect is then still reported, as the first thing the feed does once it listens.
        try:
            self._baseline = self._storage.revision()
        except StorageError:
            self._baseline = None
        self._thread = threading.Thread(target=self._run, name="tm-pg-listen", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5.0)
        self.connected.clear()

    def _run(self) -> None:
        import psycopg

        from taskmaster.storage.pg_schema import NOTIFY_CHANNEL

        storage = self._storage
        backoff = 0.05
        last_seen: int | None = self._baseline
        while not self._stop.is_set():
            try:
                with psycopg.connect(
                    storage.conninfo, autocommit=True, connect_timeout=int(storage.connect_timeout)
                ) as connection:
                    connection.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    row = connection.execute(
                        "SELECT id, revision FROM tm_projects WHERE key = %s", (storage.project,)
                    ).fetchone()
                    if row is None:
                        raise psycopg.OperationalError("the project does not exist")
                    project_id, revision = row
                    self.connected.set()
                    backoff = 0.05
                    if last_seen is not None and revision != last_seen:
                        self._deliver(revision)
                    last_seen = revision
                    while not self._stop.is_set():
                        for notice in connection.notifies(timeout=_LISTEN_POLL):
                            pid, _, number = notice.payload.partition(":")
                            if pid == str(project_id) and number.isdigit():
                                last_seen = max(last_seen, int(number))
                                self._deliver(int(number))
            except Exception as err:  # any failure: reconnect after a pause
                self.connected.clear()
                log.debug("change feed of %s lost its connection: %s", storage.key, err)
                self._stop.wait(backoff)
                backoff = min(2.0, backoff * 2)

    def _deliver(self, revision: int) -> None:
        if self._storage.committed_here(revision):
            return
        try:
            self._on_change(revision)
        except Exception:  # a listener's failure must not end the feed
            log.exception("change listener failed")


if TYPE_CHECKING:  # the structural check that PostgresStorage fulfils the contract, for mypy

    def _conforms(storage: PostgresStorage) -> Storage:
        return storage


__all__ = ["DEFAULT_PROJECT", "PostgresChangeFeed", "PostgresStorage", "split_url"]
