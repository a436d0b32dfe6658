"""`TaskMaster`: the one facade every front end (CLI, REST API, MCP) goes through.

Each write runs one pure domain operation inside one storage transaction, so it always applies
to the file as it is under the lock, never to a snapshot some front end held on to. Reads take
no lock and return what the file holds now.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from taskmaster import ops
from taskmaster.bus import EventBus, LocalBus
from taskmaster.errors import InvalidInput, RevisionMismatch, TagNotFound
from taskmaster.events import TAG_CHANGED, TASK_CREATED, TASK_DELETED, TASK_UPDATED, Event
from taskmaster.model import (
    DEFAULT_TAG,
    Document,
    Task,
    TaskId,
    check_status,
    parse_ids,
    status_of,
)
from taskmaster.project import (
    PROJECT_DIR,
    CurrentTag,
    ProjectPaths,
    ignore_sidecars,
    locate,
    set_current_tag,
)
from taskmaster.storage import DEFAULT_LOCK_TIMEOUT, Commit, FileStorage, Snapshot

if TYPE_CHECKING:
    from taskmaster.generate import GenerateResult
    from taskmaster.watch import FileWatcher

T = TypeVar("T")
log = logging.getLogger(__name__)
IdsArg = str | Iterable[str | int | TaskId]


@dataclass(frozen=True, slots=True)
class TaskList:
    tag: str
    tasks: list[Task]
    revision: int
    tag_tasks: list[Task] | None = None
    """Every task of the tag, read with `tasks`, so a filtered view can describe the whole."""


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TaskMaster:
    """A project: its task file, its current tag, and every operation on them."""

    def __init__(
        self,
        paths: ProjectPaths,
        *,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        bus: EventBus | None = None,
        redis_url: str | None = None,
    ) -> None:
        """`bus` defaults to an in-process one, or with `redis_url` to the project's channel on
        that Redis (imported only then: most `tm` runs never need it)."""
        self.paths = paths
        self.storage = FileStorage(paths.tasks_file, lock_timeout=lock_timeout)
        if bus is None and redis_url:
            from taskmaster.redis import redis_bus

            bus = redis_bus(redis_url, paths.tasks_file)
        self.bus: EventBus = bus if bus is not None else LocalBus()
        self.instance_id = os.urandom(6).hex()  # not uuid: its import costs every `tm` run
        self._local = threading.local()
        self._watcher: FileWatcher | None = None
        self._current_tag = CurrentTag(paths)
        self._tag_checked: tuple[str, int, bool] | None = None
        """(current tag, revision, whether the tag exists in the file at that revision)."""
        self._tag_warned: str | None = None

    # opening ------------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        start: Path | str | None = None,
        *,
        tasks_file: Path | str | None = None,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        bus: EventBus | None = None,
        redis_url: str | None = None,
    ) -> TaskMaster:
        """Open the project at or above `start` (the current directory by default)."""
        return cls(
            locate(start, tasks_file=tasks_file),
            lock_timeout=lock_timeout,
            bus=bus,
            redis_url=redis_url,
        )

    @classmethod
    def init(
        cls, directory: Path | str, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    ) -> tuple[TaskMaster, list[Path]]:
        """Create `.taskmaster/` with an empty task file; an existing project is left alone.

        Whatever is missing is added: the task file, `state.json`, and the `.gitignore` lines
        for the lock and revision files. Returns the project and the paths created or changed
        (empty when nothing was).
        """
        root = Path(directory).absolute()
        config_dir = root / PROJECT_DIR
        changed: list[Path] = [] if config_dir.is_dir() else [config_dir]
        config_dir.mkdir(parents=True, exist_ok=True)
        project = cls(locate(root), lock_timeout=lock_timeout)
        now = utc_now()
        document = Document(
            {DEFAULT_TAG: {"tasks": [], "metadata": {"created": now, "updated": now}}}
        )
        if project.storage.create(document):
            changed.append(project.tasks_file)
        if not project.paths.state_file.exists():
            with project.storage.locked():
                set_current_tag(project.paths, DEFAULT_TAG)
            changed.append(project.paths.state_file)
        gitignore = ignore_sidecars(project.paths)
        if gitignore is not None:
            changed.append(gitignore)
        return project, changed

    @property
    def root(self) -> Path:
        return self.paths.root

    @property
    def tasks_file(self) -> Path:
        return self.paths.tasks_file

    # reads (no lock) ----------------------------------------------------------------------
    def current_tag(self) -> str:
        """The tag commands without a tag work on: state.json's, or master if that tag is gone.

        A tag deleted or renamed by another program (or a merge) must not make every command
        fail: like the reference tool, fall back to master, warn once, and leave state.json
        alone (a read never writes). Master needs no check, and the check of another tag is
        remembered per revision of the file (found or not), so a server asking on every request
        pays one stat for it.
        """
        name = self._current_tag.get()
        if name == DEFAULT_TAG:
            return name
        revision = self.storage.revision()
        checked = self._tag_checked
        if checked is None or checked[:2] != (name, revision):
            snapshot = self.storage.read()
            checked = (name, snapshot.revision, snapshot.document.has_tag(name))
            self._tag_checked = checked
        if checked[2]:
            return name
        if self._tag_warned != name:
            self._tag_warned = name
            log.warning(
                "Warning: the current tag '%s' (%s) does not exist; using '%s' "
                "(`tm tags use NAME` chooses another)",
                name,
                self.paths.state_file,
                DEFAULT_TAG,
            )
        return DEFAULT_TAG

    def revision(self) -> int:
        return self.storage.revision()

    def snapshot(self) -> Snapshot:
        return self.storage.read()

    def _snapshot(self) -> Snapshot:
        snapshot = self.storage.read()
        self._local.last_read = snapshot.revision
        return snapshot

    def _read(self, tag: str | None) -> tuple[Document, str, int]:
        snapshot = self._snapshot()
        name = tag or self.current_tag()
        snapshot.document.tag(name)  # TagNotFound before anything else
        return snapshot.document, name, snapshot.revision

    def list_tasks(
        self,
        tag: str | None = None,
        *,
        status: str | Sequence[str] | None = None,
        ready: bool = False,
    ) -> TaskList:
        """The tag's tasks (subtasks inside), optionally filtered by status or readiness."""
        document, name, revision = self._read(tag)
        tasks = tag_tasks = document.tasks(name)
        if status:
            wanted = {status} if isinstance(status, str) else set(status)
            for value in wanted:
                check_status(value)
            tasks = [task for task in tasks if status_of(task) in wanted]
        if ready:
            ready_ids = ops.ready_ids(document, name)
            tasks = [task for task in tasks if TaskId(task["id"]) in ready_ids]
        return TaskList(name, tasks, revision, tag_tasks)

    def show(self, ids: IdsArg, tag: str | None = None) -> list[Task]:
        """Tasks or subtasks by id, in the order given; subtasks as `{"id": "N.M", ...}`."""
        document, name, _ = self._read(tag)
        return [document.view(name, task_id) for task_id in parse_ids(ids)]

    def next_task(self, tag: str | None = None) -> Task | None:
        document, name, _ = self._read(tag)
        return ops.next_task(document, name)

    def tags(self) -> list[dict[str, Any]]:
        document = self._snapshot().document
        current = self.current_tag()
        return [{**info, "current": info["name"] == current} for info in ops.list_tags(document)]

    def _marked_current(self, info: dict[str, Any]) -> dict[str, Any]:
        """A tag's answer in the shape `tags()` gives it, so every front end can show it alike."""
        return {**info, "current": info["name"] == self.current_tag()}

    def validate_dependencies(self, tag: str | None = None) -> list[ops.DependencyIssue]:
        document, name, _ = self._read(tag)
        return ops.validate_dependencies(document, name)

    # writes (one transaction each) --------------------------------------------------------
    @contextmanager
    def condition(self, expected_revision: int | None) -> Iterator[None]:
        """Writes in this block (this thread) fail with RevisionMismatch unless the file is
        still at `expected_revision`: how an HTTP client's `If-Match` reaches the lock."""
        previous = getattr(self._local, "expected", None)
        self._local.expected = expected_revision
        try:
            yield
        finally:
            self._local.expected = previous

    def last_read_revision(self) -> int | None:
        """The exact revision this thread's latest read (show, next, tags...) was answered from."""
        return getattr(self._local, "last_read", None)

    def last_commit(self) -> Commit[Any] | None:
        """The commit of this thread's latest write (for the revision a response reports)."""
        return getattr(self._local, "last_commit", None)

    def transact(
        self,
        operation: Callable[[Document], T],
        *,
        kind: str = TASK_UPDATED,
        tag: str | None = None,
        before_announce: Callable[[], None] | None = None,
    ) -> T:
        """Run any document operation in one transaction and announce the change, if any.

        Every write of the facade goes through here: one lock, one durable commit, then one
        event on the bus carrying the new revision. `before_announce` runs after a commit that
        changed the file and before its event (the caller holds the lock across both): what a
        subscriber reads on the event must already include every file the change touches.
        """
        commit = self.storage.transact(
            operation, expected_revision=getattr(self._local, "expected", None)
        )
        self._local.last_commit = commit
        if commit.changed:
            try:
                if before_announce is not None:
                    before_announce()
            finally:
                # The commit is durable: it is announced even if the step before failed.
                self.bus.publish(
                    Event(
                        kind, commit.revision, self.instance_id, tag=tag, ids=_ids_of(commit.result)
                    )
                )
        return commit.result

    def _write(
        self,
        tag: str | None,
        operation: Callable[[Document, str], T],
        kind: str = TASK_UPDATED,
        *,
        also: str | None = None,
    ) -> T:
        """Run a task operation on one tag (`also`: a second tag it may change, as a move to
        another tag does); each tag whose tasks changed gets `metadata.updated` set to now."""
        name = tag or self.current_tag()
        touched = (name,) if also is None or also == name else (name, also)

        def run(document: Document) -> T:
            if name == DEFAULT_TAG and not document.has_tag(name):
                document.put_tag(name, {"tasks": [], "metadata": {}})
            document.tag(name)
            before = [_tasks_bytes(document, each) for each in touched]
            result = operation(document, name)
            now: str | None = None
            for each, old in zip(touched, before, strict=True):
                if _tasks_bytes(document, each) != old:
                    now = now or utc_now()
                    _stamp_updated(document, each, now)
            return result

        return self.transact(run, kind=kind, tag=name)

    def add_task(
        self,
        title: str,
        *,
        description: str = "",
        details: str = "",
        test_strategy: str = "",
        dependencies: IdsArg = (),
        priority: str = "medium",
        status: str = "pending",
        tag: str | None = None,
    ) -> Task:
        deps = _optional_ids(dependencies)
        return self._write(
            tag,
            lambda doc, name: ops.add_task(
                doc,
                name,
                title=title,
                description=description,
                details=details,
                test_strategy=test_strategy,
                dependencies=deps,
                priority=priority,
                status=status,
            ),
            kind=TASK_CREATED,
        )

    def update_task(
        self, task_id: str | TaskId, fields: Mapping[str, Any], *, tag: str | None = None
    ) -> Task:
        target = TaskId.parse(task_id)
        if not fields:
            raise InvalidInput("nothing to update: give at least one field")
        return self._write(tag, lambda doc, name: ops.update_task(doc, name, target, fields))

    def append_subtask_details(
        self, subtask_id: str | TaskId, text: str, *, tag: str | None = None
    ) -> Task:
        """Append a timestamped note to a subtask's details (claude-task-master's format)."""
        target = TaskId.parse(subtask_id)
        now = utc_now()
        return self._write(
            tag, lambda doc, name: ops.append_subtask_details(doc, name, target, text, now=now)
        )

    def set_status(self, ids: IdsArg, status: str, *, tag: str | None = None) -> list[Task]:
        targets = parse_ids(ids)
        check_status(status)
        return self._write(tag, lambda doc, name: ops.set_status(doc, name, targets, status))

    def remove_task(self, ids: IdsArg, *, tag: str | None = None) -> list[Task]:
        targets = parse_ids(ids)
        return self._write(
            tag, lambda doc, name: ops.remove_task(doc, name, targets), kind=TASK_DELETED
        )

    def add_subtask(
        self,
        parent: str | int,
        title: str,
        *,
        description: str = "",
        details: str = "",
        dependencies: IdsArg = (),
        status: str = "pending",
        tag: str | None = None,
    ) -> Task:
        parent_id = _task_only(parent, "parent")
        deps = _optional_ids(dependencies)
        return self._write(
            tag,
            lambda doc, name: ops.add_subtask(
                doc,
                name,
                parent_id,
                title=title,
                description=description,
                details=details,
                dependencies=deps,
                status=status,
            ),
            kind=TASK_CREATED,
        )

    def convert_to_subtask(
        self, task_id: str | int, parent: str | int, *, tag: str | None = None
    ) -> Task:
        source, parent_id = _task_only(task_id, "task"), _task_only(parent, "parent")
        return self._write(
            tag, lambda doc, name: ops.convert_task_to_subtask(doc, name, source, parent_id)
        )

    def remove_subtask(
        self, ids: IdsArg, *, convert: bool = False, tag: str | None = None
    ) -> list[Task]:
        targets = parse_ids(ids)
        for target in targets:
            if not target.is_subtask:
                raise InvalidInput(f"{target} is not a subtask id (expected N.M, such as 3.2)")
        return self._write(
            tag,
            lambda doc, name: ops.remove_subtask(doc, name, targets, convert=convert),
            kind=TASK_DELETED,
        )

    def clear_subtasks(self, ids: IdsArg | None = None, *, tag: str | None = None) -> list[Task]:
        """Remove all subtasks of the given tasks, or of every task when `ids` is None."""
        targets = None if ids is None else [_task_only(t, "task") for t in parse_ids(ids)]
        return self._write(tag, lambda doc, name: ops.clear_subtasks(doc, name, targets))

    def add_dependency(
        self, task_id: str | TaskId, depends_on: str | TaskId, *, tag: str | None = None
    ) -> Task:
        source, target = TaskId.parse(task_id), TaskId.parse(depends_on)
        return self._write(tag, lambda doc, name: ops.add_dependency(doc, name, source, target))

    def remove_dependency(
        self, task_id: str | TaskId, depends_on: str | TaskId, *, tag: str | None = None
    ) -> Task:
        source, target = TaskId.parse(task_id), TaskId.parse(depends_on)
        return self._write(tag, lambda doc, name: ops.remove_dependency(doc, name, source, target))

    def fix_dependencies(self, *, tag: str | None = None) -> list[ops.DependencyIssue]:
        return self._write(tag, ops.fix_dependencies)

    def move(self, from_ids: IdsArg, to_ids: IdsArg, *, tag: str | None = None) -> list[Task]:
        sources, targets = parse_ids(from_ids), parse_ids(to_ids)
        return self._write(tag, lambda doc, name: ops.move_tasks(doc, name, sources, targets))

    def place_before(
        self, task_id: str | int | TaskId, before: str | int | TaskId, *, tag: str | None = None
    ) -> Task:
        """Reorder: put a task just before another one; no id changes (`move` renumbers)."""
        source, anchor = TaskId.parse(task_id), TaskId.parse(before)
        return self._write(tag, lambda doc, name: ops.place_before(doc, name, source, anchor))

    def move_to_tag(
        self,
        ids: IdsArg,
        from_tag: str | None,
        to_tag: str,
        *,
        with_dependencies: bool = False,
        ignore_dependencies: bool = False,
    ) -> list[Task]:
        sources = [_task_only(t, "task") for t in parse_ids(ids)]
        return self._write(
            from_tag,
            lambda doc, name: ops.move_to_tag(
                doc,
                sources,
                name,
                to_tag,
                with_dependencies=with_dependencies,
                ignore_dependencies=ignore_dependencies,
            ),
            kind=TAG_CHANGED,
            also=to_tag,
        )

    # tags -------------------------------------------------------------------------------------
    def add_tag(
        self, name: str, *, description: str = "", copy_from: str | None = None
    ) -> dict[str, Any]:
        now = utc_now()
        info = self.transact(
            lambda doc: ops.add_tag(
                doc, name, description=description, copy_from=copy_from, now=now
            ),
            kind=TAG_CHANGED,
            tag=name,
        )
        return self._marked_current(info)

    def copy_tag(self, source: str, dest: str, *, description: str | None = None) -> dict[str, Any]:
        now = utc_now()
        info = self.transact(
            lambda doc: ops.copy_tag(doc, source, dest, description=description, now=now),
            kind=TAG_CHANGED,
            tag=dest,
        )
        return self._marked_current(info)

    def rename_tag(self, old: str, new: str) -> dict[str, Any]:
        with self.storage.locked():
            info = self.transact(
                lambda doc: ops.rename_tag(doc, old, new),
                kind=TAG_CHANGED,
                tag=new,
                before_announce=self._current_tag_follows(old, new),
            )
            return self._marked_current(info)

    def delete_tag(self, name: str) -> dict[str, Any]:
        with self.storage.locked():
            return self.transact(
                lambda doc: ops.delete_tag(doc, name),
                kind=TAG_CHANGED,
                tag=name,
                before_announce=self._current_tag_follows(name, DEFAULT_TAG),
            )

    def _current_tag_follows(self, gone: str, replacement: str) -> Callable[[], None]:
        """When the tag in use is renamed or deleted, state.json must name its replacement
        before the change is announced, or a client refreshing on the event would ask for a
        tag that no longer exists and hear of no later change."""

        def update_state() -> None:
            # What state.json names, not current_tag(): the tag is gone from the file already.
            if self._current_tag.get() == gone:
                set_current_tag(self.paths, replacement)

        return update_state

    def _check_condition(self) -> None:
        """For a write that is not a document transaction (the current tag, generated files):
        the `condition()` of this thread, checked by the caller under the write lock."""
        expected = getattr(self._local, "expected", None)
        if expected is not None:
            current = self.storage.revision()
            if current != expected:
                raise RevisionMismatch.between(expected, current)

    def use_tag(self, name: str) -> dict[str, Any]:
        with self.storage.locked():
            self._check_condition()
            document = self.storage.read().document
            if not document.has_tag(name):
                raise TagNotFound.named(name)
            set_current_tag(self.paths, name)
            # Answers for "the current tag" change with it: a new revision tells every cache
            # and every HTTP client (ETag) in every process, as any other change would.
            revision = self.storage.mark_changed()
        self.bus.publish(Event(TAG_CHANGED, revision, self.instance_id, tag=name))
        return next(info for info in self.tags() if info["name"] == name)

    # derived files ----------------------------------------------------------------------
    def generate(
        self, output_dir: Path | str | None = None, tag: str | None = None
    ) -> GenerateResult:
        """Write one markdown file per task of the tag (default: into `.taskmaster/tasks/`).

        Runs under the write lock, so the files match one version of the task file and two
        concurrent runs cannot delete each other's fresh files as stale.
        """
        from taskmaster.generate import write_task_files

        directory = Path(output_dir) if output_dir is not None else self.paths.config_dir / "tasks"
        with self.storage.locked():
            self._check_condition()
            document, name, _ = self._read(tag)
            return write_task_files(document.tasks(name), name, directory)

    # change notification ----------------------------------------------------------------
    def watch(self) -> FileWatcher:
        """Start (once) the watcher that announces other programs' changes on the bus."""
        if self._watcher is None:
            from taskmaster.watch import FileWatcher

            self._watcher = FileWatcher(self.storage, self.bus, origin=self.instance_id)
        self._watcher.start()
        return self._watcher

    def close(self) -> None:
        """Stop the watcher, release the files and close the bus (a bus given to a facade is
        its own: a Redis bus holds a connection and a listener thread)."""
        if self._watcher is not None:
            self._watcher.stop()
        self.storage.close()
        self.bus.close()

    def __repr__(self) -> str:
        return f"TaskMaster({str(self.root)!r})"


def _tasks_bytes(document: Document, tag: str) -> bytes | None:
    """The tag's tasks in compact JSON (None: no such tag), to see whether a write changed them."""
    if not document.has_tag(tag):
        return None
    try:
        return orjson.dumps(document.tag(tag).get("tasks"))
    except orjson.JSONEncodeError:
        # Nested deeper than JSON can be written: the write itself is refused with a clear
        # error when the document is serialised, so there is nothing to stamp.
        return None


def _stamp_updated(document: Document, tag: str, now: str) -> None:
    """Record when the tag's tasks last changed, where the reference tool keeps it."""
    value = document.tag(tag)
    metadata = value.get("metadata")
    if metadata is None and document.flat:
        return  # an old flat file without metadata keeps its shape
    if not isinstance(metadata, dict):
        metadata = value["metadata"] = {}
    metadata["updated"] = now


def _ids_of(result: object) -> tuple[str, ...]:
    """The ids an operation's result names, for the change event."""
    items = result if isinstance(result, list) else [result]
    return tuple(str(item["id"]) for item in items if isinstance(item, dict) and "id" in item)


def _optional_ids(ids: IdsArg) -> list[TaskId]:
    if isinstance(ids, str) and not ids.strip():
        return []
    ids = list(ids) if not isinstance(ids, str) else ids
    return parse_ids(ids) if ids else []


def _task_only(value: str | int | TaskId, what: str) -> int:
    task_id = TaskId.parse(value)
    if task_id.is_subtask:
        raise InvalidInput(f"the {what} must be a task id, not the subtask id {task_id}")
    return task_id.task
