"""`TaskMaster`: the one facade every front end (CLI, REST API, MCP) goes through.

It knows the storage contract and the bus, never a backend, Redis or a project's layout on disk
(`taskmaster.compose` wires those). A write is a command (`taskmaster.commands`), executed in
one storage transaction, so it always applies to the project as it is under the backend's
write exclusion, never to a snapshot some front end held on to; its commit is announced on the
bus. A read takes no lock and returns its value together with the revision it was answered from.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from taskmaster import ops
from taskmaster.bus import EventBus, LocalBus
from taskmaster.commands.base import Command, Work, current_tag_of
from taskmaster.events import FILE_CHANGED, Event
from taskmaster.model import DEFAULT_TAG, Document, Task, TaskId, check_status, parse_ids, status_of
from taskmaster.storage.base import ChangeFeed, Commit, Draft, Snapshot, Storage

if TYPE_CHECKING:
    from taskmaster.generate import GenerateResult

T = TypeVar("T")
log = logging.getLogger(__name__)
IdsArg = str | Iterable[str | int | TaskId]


@dataclass(frozen=True, slots=True)
class Read(Generic[T]):
    """A read's answer and the revision it was answered from (never older than the value)."""

    value: T
    revision: int


@dataclass(frozen=True, slots=True)
class TaskList:
    tag: str
    tasks: list[Task]
    tag_tasks: list[Task]
    """Every task of the tag, read with `tasks`, so a filtered view can describe the whole."""


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TaskMaster:
    """A project's tasks, its current tag, and every operation on them."""

    def __init__(self, storage: Storage, bus: EventBus | None = None) -> None:
        """`storage` and `bus` become the facade's own: `close()` closes them."""
        self.storage = storage
        self.bus: EventBus = bus if bus is not None else LocalBus()
        self.instance_id = os.urandom(6).hex()  # not uuid: its import costs every `tm` run
        self._changes: ChangeFeed | None = None
        self._tag_checked: tuple[str, int, bool] | None = None
        """(current tag, revision, whether the tag exists in the document at that revision)."""
        self._tag_warned: str | None = None

    @property
    def key(self) -> str:
        return self.storage.key

    # reads (no lock) ----------------------------------------------------------------------
    def revision(self) -> int:
        return self.storage.revision()

    def snapshot(self) -> Snapshot:
        return self.storage.read()

    def current_tag(self) -> str:
        """The tag commands without a tag work on: the project's, or master if that is gone.

        A tag deleted or renamed by another program (or a merge) must not make every command
        fail: like the reference tool, fall back to master, warn once, and leave the state
        alone (a read never writes). Master needs no check, and the check of another tag is
        remembered per revision (found or not), so a server asking on every request pays one
        revision check for it.
        """
        name = self.storage.state().current_tag or DEFAULT_TAG
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
        self._warn_missing(name)
        return DEFAULT_TAG

    def _warn_missing(self, name: str) -> None:
        if self._tag_warned != name:
            self._tag_warned = name
            log.warning(
                "Warning: the current tag '%s' does not exist; using '%s' "
                "(`tm tags use NAME` chooses another)",
                name,
                DEFAULT_TAG,
            )

    def _read(self, tag: str | None) -> tuple[Document, str, int]:
        snapshot = self.storage.read()
        document = snapshot.document
        if tag:
            name = tag
        else:
            name = current_tag_of(document, snapshot.state)
            wanted = snapshot.state.current_tag
            if wanted and wanted != name:
                self._warn_missing(wanted)
        document.tag(name)  # TagNotFound before anything else
        return document, name, snapshot.revision

    def list_tasks(
        self,
        tag: str | None = None,
        *,
        status: str | Sequence[str] | None = None,
        ready: bool = False,
    ) -> Read[TaskList]:
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
        return Read(TaskList(name, tasks, tag_tasks), revision)

    def show(self, ids: IdsArg, tag: str | None = None) -> Read[list[Task]]:
        """Tasks or subtasks by id, in the order given; subtasks as `{"id": "N.M", ...}`."""
        document, name, revision = self._read(tag)
        return Read([document.view(name, task_id) for task_id in parse_ids(ids)], revision)

    def next_task(self, tag: str | None = None) -> Read[Task | None]:
        document, name, revision = self._read(tag)
        return Read(ops.next_task(document, name), revision)

    def tags(self) -> Read[list[dict[str, Any]]]:
        snapshot = self.storage.read()
        current = current_tag_of(snapshot.document, snapshot.state)
        infos = [
            {**info, "current": info["name"] == current}
            for info in ops.list_tags(snapshot.document)
        ]
        return Read(infos, snapshot.revision)

    def validate_dependencies(self, tag: str | None = None) -> Read[list[ops.DependencyIssue]]:
        document, name, revision = self._read(tag)
        return Read(ops.validate_dependencies(document, name), revision)

    # writes (one transaction each) --------------------------------------------------------
    def execute(self, command: Command[T], *, expected_revision: int | None = None) -> Commit[T]:
        """Run `command` in one transaction and announce its change, if any.

        With `expected_revision`, the write is refused (RevisionMismatch) unless the project
        is still at that revision, checked under the same exclusion as the write itself: how
        an HTTP client's `If-Match` reaches the storage.
        """
        now = utc_now()
        announced: list[str | None] = [None]
        missing: list[str | None] = [None]

        def run(draft: Draft) -> T:
            work = Work(draft, now)
            try:
                return command.apply(work)
            finally:
                announced[0], missing[0] = work.tag, work.missing_tag

        try:
            commit = self.storage.transact(run, expected_revision=expected_revision)
        finally:
            if missing[0] is not None:
                self._warn_missing(missing[0])
        if commit.changed:
            self.bus.publish(
                Event(
                    command.event,
                    commit.revision,
                    self.instance_id,
                    tag=announced[0],
                    ids=_ids_of(commit.result),
                )
            )
        return commit

    # derived files ----------------------------------------------------------------------
    def generate(
        self,
        output_dir: Path | str,
        tag: str | None = None,
        *,
        expected_revision: int | None = None,
    ) -> Commit[GenerateResult]:
        """Write one markdown file per task of the tag into `output_dir`.

        Runs inside a transaction that changes nothing, so the files match one version of the
        document and two concurrent runs cannot delete each other's fresh files as stale.
        """
        from taskmaster.generate import write_task_files

        def run(draft: Draft) -> GenerateResult:
            name = tag or current_tag_of(draft.document, draft.state)
            draft.document.tag(name)
            return write_task_files(draft.document.tasks(name), name, Path(output_dir))

        return self.storage.transact(run, expected_revision=expected_revision)

    # change notification ----------------------------------------------------------------
    def watch(self) -> ChangeFeed:
        """Start (once) the storage's feed of outside changes, announced on the bus."""
        if self._changes is None:
            self._changes = self.storage.changes(self._announce_outside_change)
        self._changes.start()
        return self._changes

    def _announce_outside_change(self, revision: int) -> None:
        self.bus.publish(Event(FILE_CHANGED, revision, self.instance_id))

    def close(self) -> None:
        """Stop the change feed, release the storage and close the bus (a bus given to a
        facade is its own: a Redis bus holds a connection and a listener thread)."""
        if self._changes is not None:
            self._changes.stop()
        self.storage.close()
        self.bus.close()

    def __repr__(self) -> str:
        return f"TaskMaster({self.storage.key!r})"


def _ids_of(result: object) -> tuple[str, ...]:
    """The ids an operation's result names, for the change event."""
    items = result if isinstance(result, list) else [result]
    return tuple(str(item["id"]) for item in items if isinstance(item, dict) and "id" in item)
