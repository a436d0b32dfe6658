"""`TaskMaster`: the one facade every front end (CLI, REST API, MCP) goes through.

It knows the storage contract and the bus, never a backend, Redis or a project's layout on disk
(`taskmaster.compose` wires those). A write is a command (`taskmaster.commands`), executed in
one storage transaction, so it always applies to the project as it is under the backend's
write exclusion, never to a snapshot some front end held on to; its commit is announced on the
bus. A read takes no lock and returns its value together with the revision it was answered from.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from taskmaster import ops
from taskmaster.bus import EventBus, LocalBus
from taskmaster.commands.base import Command, Work, current_tag_of
from taskmaster.errors import NotFound, TaskMasterError
from taskmaster.events import CHANGE_REVERTED, FILE_CHANGED, Event
from taskmaster.group_commit import GroupCommit, GroupStats
from taskmaster.journal.changes import Change
from taskmaster.journal.entry import Entry, Origin, default_actor, matches, new_entry
from taskmaster.journal.reversions import reverted_places
from taskmaster.model import DEFAULT_TAG, Document, Task, TaskId, check_status, parse_ids, status_of
from taskmaster.ops import claims as claim_ops
from taskmaster.storage.base import ChangeFeed, Commit, Draft, Snapshot, Step, Storage

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

    def __init__(
        self, storage: Storage, bus: EventBus | None = None, origin: Origin | None = None
    ) -> None:
        """`storage` and `bus` become the facade's own: `close()` closes them. `origin` is who
        writes through it and via which front end, as the journal records it (a server gives
        each request's own to `execute`)."""
        self.storage = storage
        self.origin = origin if origin is not None else Origin(default_actor(), "core")
        self.bus: EventBus = bus if bus is not None else LocalBus()
        self.instance_id = os.urandom(6).hex()  # not uuid: its import costs every `tm` run
        self._changes: ChangeFeed | None = None
        self._tag_checked: tuple[str, int, bool] | None = None
        """(current tag, revision, whether the tag exists in the document at that revision)."""
        self._tag_warned: str | None = None
        self._announced_outside = 0
        self._published: deque[int] = deque(maxlen=1024)
        """Revisions this facade committed and announced itself."""
        self._group = GroupCommit(lambda: self.storage)
        """Concurrent writes through this facade are committed together (`group_commit`)."""

    @property
    def key(self) -> str:
        return self.storage.key

    def write_groups(self) -> GroupStats:
        """How this facade's writes were grouped into commits so far (`group_commit`)."""
        return self._group.stats()

    # reads (no lock) ----------------------------------------------------------------------
    def revision(self) -> int:
        return self.storage.revision()

    def snapshot(self) -> Snapshot:
        return self.storage.read()

    def change_epoch(self) -> int | None:
        """`Storage.change_epoch`: while it stays the same, an answer built in it still holds."""
        return self.storage.change_epoch()

    def clock(self) -> float:
        """The storage's time now (seconds since the epoch): what leases are measured by, so
        that a front end's "time left" agrees with what a write would be judged by."""
        return self.storage.clock()

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

    def next_task(self, tag: str | None = None, *, unclaimed: bool = False) -> Read[Task | None]:
        """The task to work on next (the reference's choice); with `unclaimed`, the one it
        would be if every task a live claim holds were left out."""
        document, name, revision = self._read(tag)
        exclude: set[TaskId] = set()
        if unclaimed:
            exclude = claim_ops.excluded_by_claims(document, name, self.storage.clock())
        return Read(ops.next_task(document, name, exclude=exclude), revision)

    def claims(self, tag: str | None = None, *, ended: bool = False) -> Read[list[dict[str, Any]]]:
        """The tag's claims, each with its state by the storage's clock: live, or expired (its
        lease ran out); with `ended`, also released, expired and superseded ones."""
        document, name, revision = self._read(tag)
        return Read(
            claim_ops.list_claims(document, name, self.storage.clock(), ended=ended), revision
        )

    def claim(self, token: int) -> Read[dict[str, Any]]:
        """The claim with fencing token `token`, in any tag, with its state by the storage's
        clock; `NotFound` when no task keeps it (never given, or its record was dropped)."""
        snapshot = self.storage.read()
        found = claim_ops.show_claim(snapshot.document, token, self.storage.clock())
        if found is None:
            raise NotFound(f"no claim has token {token}", token=token)
        return Read(found, snapshot.revision)

    def live_claims(self, items: Iterable[Task], tag: str) -> dict[str, dict[str, Any]]:
        """The live claims among `items` (tasks or subtask views, as reads return them), by
        id: what a front end shows beside them."""
        now: float | None = None
        found: dict[str, dict[str, Any]] = {}
        for item in items:
            record = claim_ops.record_of(item)
            if record is None:
                continue
            if now is None:
                now = self.storage.clock()
            if claim_ops.is_live(record, now):
                found[str(item["id"])] = claim_ops.view_of(
                    record, tag, TaskId.parse(item["id"]), claim_ops.LIVE
                )
        return found

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
    def execute(
        self,
        command: Command[T],
        *,
        expected_revision: int | None = None,
        claim: int | None = None,
        origin: Origin | None = None,
    ) -> Commit[T]:
        """Run `command` in one transaction and announce its change, if any.

        With `expected_revision`, the write is refused (RevisionMismatch) unless the project
        is still at that revision, checked under the same exclusion as the write itself: how
        an HTTP client's `If-Match` reaches the storage. With `claim` (a fencing token), it is
        refused (ClaimLost) unless that token is still the live claim of what it writes,
        checked the same way: a zombie agent cannot write over its task's new holder.

        Writes that other threads make at the same moment may share the transaction (group
        commit, `taskmaster.group_commit`): each still has its own result, error, revision
        and journal entry, and a command that fails changes nothing and affects no other.
        """
        now = utc_now()
        works: list[Work] = []
        entries: list[Entry] = []
        who = origin if origin is not None else self.origin

        def run(draft: Draft) -> T:
            work = Work(draft, now)
            works[:] = [work]
            entries.clear()
            if claim is not None:
                command.fence(work, claim)
            result = command.apply(work)

            def journal(changes: list[Change]) -> Entry:
                entry = self._entry(command, work, result, changes, who, claim)
                entries[:] = [entry]
                return entry

            draft.journal = journal
            return result

        def announce(commit: Commit[Any]) -> None:
            if not commit.changed:
                return
            if entries:
                entry = {**entries[-1], "revision": commit.revision}
            else:  # a store that journals nothing (the benchmarks' baseline) still announces
                entry = self._entry(command, works[-1], commit.result, [], who, None)
                entry["revision"] = commit.revision
            self._published.append(commit.revision)
            for event in events_of(entry, self.instance_id):
                self.bus.publish(event)

        try:
            outcome = self._group.submit(Step(run, expected_revision), announce)
        finally:
            if works and works[0].missing_tag is not None:
                self._warn_missing(works[0].missing_tag)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def events_since(self, revision: int) -> list[Event]:
        """The events of every commit above `revision` the journal still holds, in revision
        order: what a client that was away missed (`Last-Event-ID` of the event stream)."""
        return [
            event
            for entry in self.storage.history(revision)
            for event in events_of(entry, JOURNAL_ORIGIN)
        ]

    def _entry(
        self,
        command: Command[Any],
        work: Work,
        result: object,
        changes: list[Change],
        origin: Origin,
        claim: int | None,
    ) -> Entry:
        ids = work.ids if work.ids is not None else _ids_of(result)
        if claim is not None:  # a fenced write is the claim's agent's, whoever relays it
            holder = claim_ops.find_claim(work.document, claim)
            if holder is not None:
                origin = origin.with_actor(str(holder.record.get("agent") or ""))
        entry = new_entry(
            origin=origin,
            time=work.now,
            changes=changes,
            command=command.name,
            args=command.to_args(),
            tag=work.tag,
            ids=ids,
            events=[(command.event, ids), *work.also],
            undoes=getattr(command, "undoes", None),
        )
        if claim is not None:
            entry["claim"] = claim
        return entry

    # history ------------------------------------------------------------------------------
    def settle_outside_change(self) -> None:
        """Journal another program's change to the project now, rather than at the next
        write, so that the history shows it (only a file has such changes). When that cannot
        be done (content that is no task file, a read-only directory, a writer holding the
        lock too long), nothing happens: reading the history needs no write."""
        settle = getattr(self.storage, "journal_outside_change", None)
        if settle is None:
            return
        with contextlib.suppress(TaskMasterError, OSError):
            settle()

    def history(
        self,
        item: str | None = None,
        *,
        since: int = 0,
        actor: str | None = None,
        tag: str | None = None,
        limit: int | None = None,
    ) -> Read[list[Entry]]:
        """Journal entries above revision `since`, oldest first, filtered by the task or
        subtask they changed, their actor or tag; with `limit`, the oldest `limit` of them
        (page on with `since` = the last revision returned)."""
        revision = self.storage.revision()
        if item is None and actor is None and tag is None:  # a page: read no further
            return Read(self.storage.history(since, limit), revision)
        found = [
            entry
            for entry in self.storage.history(since)
            if matches(entry, item=item, actor=actor, tag=tag)
        ]
        return Read(found[:limit] if limit is not None else found, revision)

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
        """A commit made elsewhere: its journal entries (a `tm` in another process, an
        editor's change the watcher journaled) announced with actor and places; a bare
        `file.changed` when the journal has none for it."""
        announced = self._announced_outside
        self._announced_outside = max(announced, revision)
        try:
            entries = [e for e in self.storage.history(announced) if e["revision"] <= revision]
        except Exception:  # the journal unreadable: the change is still worth announcing
            log.debug("journal unreadable for the announcement of %s", revision, exc_info=True)
            entries = []
        if announced == 0:  # the first notice since start: only what it announces
            entries = [e for e in entries if e["revision"] == revision]
        if not any(e["revision"] == revision for e in entries):
            self.bus.publish(Event(FILE_CHANGED, revision, self.instance_id))
            return
        for entry in entries:
            if entry["revision"] in self._published:
                continue  # ours: announced by `execute` already
            for event in events_of(entry, self.instance_id):
                self.bus.publish(event)

    def close(self) -> None:
        """Stop the change feed, release the storage and close the bus (a bus given to a
        facade is its own: a Redis bus holds a connection and a listener thread)."""
        if self._changes is not None:
            self._changes.stop()
        self.storage.close()
        self.bus.close()

    def __repr__(self) -> str:
        return f"TaskMaster({self.storage.key!r})"


JOURNAL_ORIGIN = "journal"
"""The origin of events replayed from the journal rather than published by a commit."""


def events_of(entry: Entry, origin: str) -> list[Event]:
    """The change events of one journal entry: those its commit announced (an outside change:
    one `file.changed`), each with the entry's actor and the places it changed."""
    places = tuple((c.get("tag"), c.get("id"), c.get("field")) for c in entry.get("changes") or ())
    kinds = entry.get("events") or [[FILE_CHANGED, entry.get("ids") or []]]
    events = [
        Event(
            str(kind),
            int(entry["revision"]),
            origin,
            tag=entry.get("tag"),
            ids=tuple(str(i) for i in ids),
            actor=entry.get("actor"),
            changes=places,
        )
        for kind, ids in kinds
    ]
    reverts = entry.get("reverts") or ()
    if reverts:
        reverted = reverted_places(entry)
        events.append(
            Event(
                CHANGE_REVERTED,
                int(entry["revision"]),
                origin,
                ids=tuple(dict.fromkeys(str(item) for _, item, _ in reverted if item is not None)),
                actor=entry.get("actor"),
                changes=tuple(reverted),
                reverts=tuple(sorted({int(r["revision"]) for r in reverts})),
            )
        )
    return events


def _ids_of(result: object) -> tuple[str, ...]:
    """The ids an operation's result names, for the change event."""
    items = result if isinstance(result, list) else [result]
    return tuple(str(item["id"]) for item in items if isinstance(item, dict) and "id" in item)
