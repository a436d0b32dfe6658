"""A task document as rows, and the rows a command changed.

A backend that keeps a project in a database stores it as rows: one per top-level entry of the
document (a tag with its own keys, its task list left out; or any other top-level value) and
one per task (with its subtasks and everything nested in it). `RowImage` is the rows as the
database holds them at one revision, kept in memory by a long-lived process; `Working` is the
document built from them that commands change, made of tracked containers (`tracking.py`), so
that after a command only the rows it marked are looked at: a write costs what it changed,
not what the project holds. Everything here is pure: no database, no I/O.

Bytes are kept exactly as orjson writes them, and key order is kept everywhere (a tag's
``tasks`` key stays where it was, as an empty-list placeholder in the entry's row), so the
document rebuilt from rows serialises byte for byte as the file backend would write it.

Order: entries and tasks carry a position (a float). A command that inserts or moves tasks
keeps the positions of the longest run of tasks still in order and gives the others positions
between their neighbours, so removing the first of 10,000 tasks writes one row, not 10,000.
"""

from __future__ import annotations

import bisect
import itertools
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from taskmaster.journal.entry import Entry
from taskmaster.model import DEFAULT_TAG, Document
from taskmaster.shape import is_tag
from taskmaster.storage.base import Draft, ProjectState
from taskmaster.storage.tracking import Mark, Marks, TrackedDict, TrackedList, track, tracked_list

STRUCTURE = 0
"""The entry number that stands for the document's top level (which entries, in which order)."""
_DELTA_LOG = 64


@dataclass(slots=True)
class EntryRow:
    number: int
    name: str
    position: float
    is_tag: bool
    body: bytes
    """A tag: its object with an empty ``tasks`` list in place of its tasks. Else the value."""


@dataclass(slots=True)
class TaskRow:
    number: int
    entry: int
    position: float
    body: bytes


@dataclass(slots=True)
class RowChanges:
    """What one commit writes: rows to insert or replace, rows to delete."""

    entries: list[EntryRow] = field(default_factory=list)
    tasks: list[TaskRow] = field(default_factory=list)
    deleted_entries: list[int] = field(default_factory=list)
    deleted_tasks: list[int] = field(default_factory=list)
    flat: bool | None = None
    """The document's new layout, when it changed (a flat file becoming tagged)."""

    @classmethod
    def merged(cls, parts: Iterable[RowChanges]) -> RowChanges:
        """The changes of several commits applied in order, as one commit writes them: the last
        word on each row wins (in each part deletions come before replacements, as `apply`
        takes them)."""
        entries: dict[int, EntryRow] = {}
        tasks: dict[int, TaskRow] = {}
        deleted_entries: dict[int, None] = {}
        deleted_tasks: dict[int, None] = {}
        flat: bool | None = None
        for part in parts:
            for number in part.deleted_tasks:
                tasks.pop(number, None)
                deleted_tasks[number] = None
            for number in part.deleted_entries:
                entries.pop(number, None)
                deleted_entries[number] = None
            for entry in part.entries:
                deleted_entries.pop(entry.number, None)
                entries[entry.number] = entry
            for task in part.tasks:
                deleted_tasks.pop(task.number, None)
                tasks[task.number] = task
            if part.flat is not None:
                flat = part.flat
        return cls(
            list(entries.values()),
            list(tasks.values()),
            list(deleted_entries),
            list(deleted_tasks),
            flat,
        )

    def __bool__(self) -> bool:
        return bool(
            self.entries
            or self.tasks
            or self.deleted_entries
            or self.deleted_tasks
            or self.flat is not None
        )


def dumps(value: Any) -> bytes:
    return orjson.dumps(value)


def entry_body(value: Any) -> bytes:
    if is_tag(value):
        return dumps({key: ([] if key == "tasks" else item) for key, item in value.items()})
    return dumps(value)


class RowImage:
    """The rows of one project at one revision, as a long-lived process keeps them.

    Mutable, but only through `apply`; whoever shares one guards it with a lock. `log` remembers
    which rows the last revisions changed, so that a `Working` document a few revisions behind
    can catch up by reloading those rows alone.
    """

    def __init__(self, revision: int, current_tag: str | None, flat: bool) -> None:
        self.revision = revision
        self.current_tag = current_tag
        self.flat = flat
        self.entries: dict[int, EntryRow] = {}
        self.entry_order: list[int] = []
        self.tasks: dict[int, TaskRow] = {}
        self.members: dict[int, list[int]] = {}
        """Each tag entry's task rows, in order."""
        self.log: deque[tuple[int, frozenset[int], frozenset[int], bool]] = deque(maxlen=_DELTA_LOG)
        """(revision, task rows changed, entries changed, whether anything moved) per revision."""

    # building ---------------------------------------------------------------------------------
    @classmethod
    def from_rows(
        cls,
        revision: int,
        current_tag: str | None,
        flat: bool,
        entries: Iterable[EntryRow],
        tasks: Iterable[TaskRow],
    ) -> RowImage:
        image = cls(revision, current_tag, flat)
        for entry in entries:
            image.entries[entry.number] = entry
            if entry.is_tag:
                image.members[entry.number] = []
        for task in tasks:
            image.tasks[task.number] = task
            image.members.setdefault(task.entry, []).append(task.number)
        image._sort(image.members)
        image.entry_order = sorted(image.entries, key=lambda n: (image.entries[n].position, n))
        return image

    def copy(self) -> RowImage:
        """An image that `apply` can move on while this one stays as it is: the rows are
        shared (`apply` replaces rows, it never changes one), the lists it edits are not."""
        image = RowImage(self.revision, self.current_tag, self.flat)
        image.entries = dict(self.entries)
        image.entry_order = list(self.entry_order)
        image.tasks = dict(self.tasks)
        image.members = {number: list(rows) for number, rows in self.members.items()}
        image.log = deque(self.log, maxlen=self.log.maxlen)
        return image

    def _sort(self, entries: Iterable[int]) -> None:
        for entry in entries:
            rows = self.members.get(entry)
            if rows:
                tasks = self.tasks
                rows.sort(key=lambda n: (tasks[n].position, n))

    def apply(
        self,
        revision: int,
        current_tag: str | None,
        flat: bool,
        changes: RowChanges,
    ) -> None:
        """Move to `revision` by applying what changed since the image's revision."""
        moved = bool(changes.deleted_entries or changes.deleted_tasks) or flat != self.flat
        resort_entries = bool(changes.deleted_entries)
        resort_members: set[int] = set()
        for number in changes.deleted_tasks:
            old = self.tasks.pop(number, None)
            if old is not None and old.entry in self.members:
                self.members[old.entry].remove(number)
        for number in changes.deleted_entries:
            self.entries.pop(number, None)
            for row in self.members.pop(number, ()):
                self.tasks.pop(row, None)
        for entry in changes.entries:
            old_entry = self.entries.get(entry.number)
            self.entries[entry.number] = entry
            if old_entry is None or old_entry.position != entry.position:
                resort_entries = True
                moved = True
            if (
                old_entry is None
                or old_entry.name != entry.name
                or old_entry.is_tag != entry.is_tag
            ):
                moved = True
            if entry.is_tag:
                self.members.setdefault(entry.number, [])
            elif entry.number in self.members:
                for row in self.members.pop(entry.number):
                    self.tasks.pop(row, None)
        for task in changes.tasks:
            old = self.tasks.get(task.number)
            self.tasks[task.number] = task
            if old is not None and old.entry == task.entry and old.position == task.position:
                continue
            moved = True
            if old is not None and old.entry in self.members:
                self.members[old.entry].remove(task.number)
            rows = self.members.setdefault(task.entry, [])
            tasks = self.tasks
            if not rows or (tasks[rows[-1]].position, rows[-1]) < (task.position, task.number):
                rows.append(task.number)  # appended at the end: no sort needed
            else:
                resort_members.add(task.entry)
                rows.append(task.number)
        self._sort(resort_members)
        if resort_entries:
            self.entry_order = sorted(self.entries, key=lambda n: (self.entries[n].position, n))
        self.log.append(
            (
                revision,
                frozenset(task.number for task in changes.tasks),
                frozenset(entry.number for entry in changes.entries),
                moved,
            )
        )
        self.revision = revision
        self.current_tag = current_tag
        self.flat = flat

    def changed_since(self, revision: int) -> tuple[set[int], set[int]] | None:
        """The task rows and entries changed after `revision`, if only content changed (no row
        added, removed or moved) and the log reaches back that far; else None."""
        if revision == self.revision:
            return set(), set()
        steps = [step for step in self.log if step[0] > revision]
        if not steps or steps[0][0] != revision + 1 or len(steps) != self.revision - revision:
            return None
        tasks: set[int] = set()
        entries: set[int] = set()
        for _, changed_tasks, changed_entries, moved in steps:
            if moved:
                return None
            tasks |= changed_tasks
            entries |= changed_entries
        return tasks, entries

    # reading ----------------------------------------------------------------------------------
    def parts(self) -> list[tuple[str, bool, bytes, list[bytes]]]:
        """Everything a reader needs to rebuild the document, as immutable bytes: cheap to
        take under a lock, parsed outside it."""
        tasks = self.tasks
        return [
            (
                entry.name,
                entry.is_tag,
                entry.body,
                [tasks[row].body for row in self.members.get(number, ())] if entry.is_tag else [],
            )
            for number in self.entry_order
            for entry in (self.entries[number],)
        ]

    def max_number(self) -> int:
        return max(max(self.entries, default=0), max(self.tasks, default=0))


def document_from_parts(parts: list[tuple[str, bool, bytes, list[bytes]]], flat: bool) -> Any:
    """The document's top-level JSON value, rebuilt from `RowImage.parts()`."""
    data: dict[str, Any] = {}
    for name, tag, body, task_bodies in parts:
        value = orjson.loads(body)
        if tag:
            value["tasks"] = orjson.loads(b"[" + b",".join(task_bodies) + b"]")
        if flat:
            return value
        data[name] = value
    return data


def rows_of(document: Document, first_number: int = 1) -> tuple[list[EntryRow], list[TaskRow]]:
    """Every row of `document`, numbered from `first_number` in document order."""
    entries: list[EntryRow] = []
    tasks: list[TaskRow] = []
    number = first_number
    for index, (name, value) in enumerate(_top_level(document)):
        entry = EntryRow(number, name, float(index), is_tag(value), entry_body(value))
        entries.append(entry)
        number += 1
        if entry.is_tag:
            for position, task in enumerate(value["tasks"]):
                tasks.append(TaskRow(number, entry.number, float(position), dumps(task)))
                number += 1
    return entries, tasks


def _top_level(document: Document) -> Iterator[tuple[str, Any]]:
    if document.flat:
        yield DEFAULT_TAG, document.data
    else:
        yield from document.data.items()


class TrackedDraft(Draft):
    """A draft of a `Working` document: it answers `watch_tasks` from the marks."""

    __slots__ = ("working",)

    def __init__(
        self,
        working: Working,
        state: ProjectState | Callable[[], ProjectState],
        revision: int,
        clock: Callable[[], float] = time.time,
        history: Callable[[int], list[Entry]] | None = None,
    ) -> None:
        super().__init__(working.document, state, revision, clock, history)
        self.working = working

    def watch_tasks(self, tag: str) -> Callable[[], bool]:
        if self.document is self.working.document:
            check = self.working.watch_tasks(tag)
            if check is not None:
                return check
        return super().watch_tasks(tag)


class Working:
    """The document commands change, built from a `RowImage` out of tracked containers."""

    def __init__(self, image: RowImage) -> None:
        self.image = image
        self.revision = image.revision
        self.marks = Marks()
        self.task_marks: dict[int, Mark] = {}
        self.objects: dict[int, Any] = {}
        self.values: dict[int, Any] = {}
        self.lists: dict[int, TrackedList] = {}
        self.entry_of_name: dict[str, int] = {}
        self._pending: tuple[bool, list[int]] = (False, [])
        self._id_positions: dict[int, dict[Any, int]] = {}
        data: dict[str, Any] | None = None
        top = TrackedDict()
        top._mark = Mark(self.marks.entries, STRUCTURE)
        for number in image.entry_order:
            entry = image.entries[number]
            value = self._entry_value(image, entry)
            self.values[number] = value
            self.entry_of_name[entry.name] = number
            if image.flat:
                data = value
            else:
                dict.__setitem__(top, entry.name, value)
        self.top = top if data is None else data
        self.document = Document(self.top, flat=image.flat)

    def _entry_value(self, image: RowImage, entry: EntryRow) -> Any:
        value = track(orjson.loads(entry.body), Mark(self.marks.entries, entry.number))
        if entry.is_tag:
            tasks = [self._task_object(image.tasks[row]) for row in image.members[entry.number]]
            members = tracked_list(tasks, Mark(self.marks.members, entry.number))
            dict.__setitem__(value, "tasks", members)
            self._adopt(entry.number, members)
        return value

    def _task_object(self, row: TaskRow) -> Any:
        mark = self.task_marks.get(row.number)
        if mark is None:
            mark = self.task_marks[row.number] = Mark(self.marks.tasks, row.number)
        obj = track(orjson.loads(row.body), mark)
        self.objects[row.number] = obj
        return obj

    def watch_tasks(self, tag: str) -> Callable[[], bool] | None:
        """Whether the tasks of `tag` will have changed, judged from the marks (the rows
        marked, compared with what their rows hold); None when the marks cannot tell (the
        document changed already, or the tag is not one of the image's)."""
        image = self.image
        number = self.entry_of_name.get(tag)
        if (
            number is None
            or number not in self.lists
            or self.touched
            or self.document.data is not self.top
        ):
            return None
        tasks_list = self.lists[number]
        marks = self.marks

        def changed() -> bool:
            document = self.document
            if document.data is not self.top or STRUCTURE in marks.entries:
                value = document.data if document.flat else document.data.get(tag)
                if value is not self.values.get(number):
                    return True  # the tag itself was replaced or removed
            current = self.values[number].get("tasks")
            if current is not tasks_list or number in marks.members:
                old = b"[" + b",".join(image.tasks[r].body for r in image.members[number]) + b"]"
                try:
                    return dumps(current) != old
                except orjson.JSONEncodeError:
                    return False  # the write itself is refused when it is serialised
            for row in marks.tasks:
                task = image.tasks.get(row)
                if task is not None and task.entry == number:
                    try:
                        if dumps(self.objects[row]) != task.body:
                            return True
                    except orjson.JSONEncodeError:
                        return False
            return False

        return changed

    def before(self, image: RowImage) -> Document:
        """The document as `image` holds it, for the journal's differences: rows the marks
        say were not changed are this document's own objects (so comparing them costs a
        pointer check), only the changed rows are parsed again."""
        if self.document.data is not self.top or STRUCTURE in self.marks.entries:
            return Document(document_from_parts(image.parts(), image.flat), flat=image.flat)
        marks = self.marks
        data: dict[str, Any] = {}
        for number in image.entry_order:
            entry = image.entries[number]
            current = self.values.get(number)
            if number in marks.entries or current is None:
                value = orjson.loads(entry.body)
            else:
                value = dict(current) if entry.is_tag else current
            if entry.is_tag:
                value["tasks"] = self._tasks_before(image, number)
            if image.flat:
                return Document(value, flat=True)
            data[entry.name] = value
        return Document(data, flat=False)

    def changed_positions(self, image: RowImage) -> dict[str, list[int]] | None:
        """For each tag whose task list kept its tasks (none added, removed or moved), the
        positions of the tasks the marks say changed: all the journal's difference needs to
        compare (see `changes.diff`). None when the document's structure changed."""
        if self.document.data is not self.top or STRUCTURE in self.marks.entries:
            return None
        by_entry: dict[int, list[int]] = {}
        for row in self.marks.tasks:
            task = image.tasks.get(row)
            if task is not None:
                by_entry.setdefault(task.entry, []).append(row)
        found: dict[str, list[int]] = {}
        for name, number in self.entry_of_name.items():
            current = self.lists.get(number)
            value = self.values.get(number)
            rows = image.members.get(number, [])
            if (
                current is None
                or number in self.marks.members
                or len(rows) != len(current)
                or not isinstance(value, dict)
                or value.get("tasks") is not current
            ):
                continue
            dirty = by_entry.get(number, [])
            if len(dirty) > 16:  # many rows changed: one pass instead of one search each
                where = {row: index for index, row in enumerate(rows)}
                found[name] = [where[row] for row in dirty]
            else:
                found[name] = [rows.index(row) for row in dirty]
        return found

    def _tasks_before(self, image: RowImage, number: int) -> list[Any]:
        """Tag `number`'s tasks as `image` holds them. Unchanged membership: a copy of this
        document's list (at C speed) with the changed rows parsed again; else rebuilt row by
        row."""
        rows = image.members.get(number, [])
        current = self.lists.get(number)
        marks = self.marks
        if current is not None and number not in marks.members and len(current) == len(rows):
            tasks = list(current)
            for row in marks.tasks:
                task = image.tasks.get(row)
                if task is not None and task.entry == number:
                    tasks[rows.index(row)] = orjson.loads(task.body)
            return tasks
        return [
            orjson.loads(image.tasks[row].body)
            if row in marks.tasks or row not in self.objects
            else self.objects[row]
            for row in rows
        ]

    @property
    def touched(self) -> bool:
        """Whether anything changed the document since it was built or last committed."""
        return bool(self.marks) or self.document.data is not self.top

    def catch_up(self, image: RowImage) -> bool:
        """Reload the rows changed since this document's revision; False when that is not
        possible (rows were added, removed or moved meanwhile): then build a new one."""
        if self.touched:
            return False
        changed = image.changed_since(self.revision)
        if changed is None:
            return False
        tasks, entries = changed
        for number in entries:
            entry = image.entries.get(number)
            if entry is None or number not in self.values:
                return False
        for number in tasks:
            row = image.tasks.get(number)
            if row is None or number not in self.objects:
                return False
        for number in entries:
            self._reload_entry(image, image.entries[number])
        for number in tasks:
            row = image.tasks[number]
            members = self.lists[row.entry]
            index = image.members[row.entry].index(number)
            list.__setitem__(members, index, self._task_object(row))
            self._id_positions.pop(row.entry, None)  # another program may have renumbered it
        self.revision = image.revision
        self.image = image
        return True

    def _reload_entry(self, image: RowImage, entry: EntryRow) -> None:
        value = track(orjson.loads(entry.body), Mark(self.marks.entries, entry.number))
        if entry.is_tag:
            dict.__setitem__(value, "tasks", self.lists[entry.number])
        self.values[entry.number] = value
        if image.flat:
            self.top = value
            self.document.data = value
        else:
            dict.__setitem__(self.top, entry.name, value)

    # committing -------------------------------------------------------------------------------
    def changes(self, image: RowImage, allocate: Iterator[int]) -> RowChanges:
        """The rows that differ between this document and `image` (the revision it was built
        from or caught up to); new rows take numbers from `allocate`. Nothing here changes
        until `committed`."""
        changes = RowChanges()
        document = self.document
        if document.flat != image.flat:
            changes.flat = document.flat
        structure = (
            STRUCTURE in self.marks.entries
            or document.data is not self.top
            or document.flat != image.flat
        )
        top = list(_top_level(document))
        if structure:
            numbers = self._match_entries(image, top, allocate)
        else:
            numbers = [self.entry_of_name[name] for name, _ in top]
        pairs = list(zip(numbers, top, strict=True))
        changed_lists = [
            (number, value)
            for number, (_, value) in pairs
            if is_tag(value)
            and (
                number in self.marks.members
                or number not in image.members
                or value["tasks"] is not self.lists.get(number)
            )
        ]
        self._pending = (structure, [number for number, _ in changed_lists])
        # Identity tells which tasks are the rows they were: a task moved to another tag is the
        # same object in another list, a new one is an object no row knows.
        known = {
            id(self.objects[row]): row
            for number in {*self.marks.members, *(n for n, _ in changed_lists)}
            for row in image.members.get(number, ())
            if row in self.objects
        }
        for index, (number, (name, value)) in enumerate(pairs):
            old = image.entries.get(number)
            tag = is_tag(value)
            body = (
                entry_body(value)
                if old is None or structure or number in self.marks.entries
                else old.body
            )
            position = float(index) if structure or old is None else old.position
            if old is None or (old.name, old.position, old.is_tag, old.body) != (
                name,
                position,
                tag,
                body,
            ):
                changes.entries.append(EntryRow(number, name, position, tag, body))
        kept: set[int] = set()
        for number, value in changed_lists:
            self._list_changes(image, number, value["tasks"], known, kept, allocate, changes)
        listed = {number for number, _ in changed_lists}
        alive = set(numbers)
        tags_now = {number for number, (_, value) in pairs if is_tag(value)}
        for row in self.marks.tasks:
            task = image.tasks.get(row)
            if task is None or task.entry in listed or task.entry not in tags_now:
                continue  # new, written with its list, or gone with its tag
            body = dumps(self.objects[row])
            if body != task.body:
                changes.tasks.append(TaskRow(row, task.entry, task.position, body))
        changes.deleted_entries = [number for number in image.entry_order if number not in alive]
        dropped = listed | {number for number in image.members if number not in tags_now}
        changes.deleted_tasks = sorted(
            row for number in dropped for row in image.members.get(number, ()) if row not in kept
        )
        return changes

    def _match_entries(
        self, image: RowImage, top: list[tuple[str, Any]], allocate: Iterator[int]
    ) -> list[int]:
        """The entry number of each top-level value: the same object keeps its number (a
        renamed tag is one row renamed), a scalar keeps its name's, anything else is new."""
        by_object = {id(value): number for number, value in self.values.items()}
        used: set[int] = set()
        numbers = []
        for name, value in top:
            number = by_object.get(id(value))
            if number is None or number in used or number not in image.entries:
                candidate = self.entry_of_name.get(name)
                same_kind = (
                    candidate is not None
                    and candidate not in used
                    and candidate in image.entries
                    and not isinstance(value, dict | list)
                    and not image.entries[candidate].is_tag
                )
                number = candidate if same_kind and candidate is not None else next(allocate)
            used.add(number)
            numbers.append(number)
        return numbers

    def _list_changes(
        self,
        image: RowImage,
        entry: int,
        items: list[Any],
        known: dict[int, int],
        kept: set[int],
        allocate: Iterator[int],
        changes: RowChanges,
    ) -> None:
        rows: list[int | None] = []
        for item in items:
            row = known.get(id(item))
            if row is None or row in kept:
                rows.append(None)  # new (or the same object listed twice: a copy)
            else:
                kept.add(row)
                rows.append(row)
        positions = _positions([None if row is None else image.tasks[row].position for row in rows])
        for item, row, position in zip(items, rows, positions, strict=True):
            if row is None:
                changes.tasks.append(TaskRow(next(allocate), entry, position, dumps(item)))
                continue
            old = image.tasks[row]
            body = dumps(item) if row in self.marks.tasks else old.body
            if (old.entry, old.position, old.body) != (entry, position, body):
                changes.tasks.append(TaskRow(row, entry, position, body))

    def committed(self, image: RowImage) -> None:
        """The changes were committed and `image` now holds them: track whatever the command
        put in, and start the next transaction with no marks. A change of the top level (tags
        added, removed, renamed) rebuilds the document; anything else costs what it changed."""
        structure, changed_lists = self._pending
        self._pending = (False, [])
        if structure:
            self.__init__(image)  # type: ignore[misc]
            return
        marks = self.marks
        document = self.document
        for number in marks.entries:
            entry = image.entries[number]
            value = document.data if document.flat else document.data[entry.name]
            fresh = self._retracked_value(value, number)
            self.values[number] = fresh
            if document.flat:
                self.top = document.data = fresh
            else:
                dict.__setitem__(self.top, entry.name, fresh)
        for number in changed_lists:
            value = self.values[number]
            tasks = [
                self._retracked_task(row, item, marks)
                for row, item in zip(image.members[number], value["tasks"], strict=True)
            ]
            members = tracked_list(tasks, Mark(marks.members, number))
            dict.__setitem__(value, "tasks", members)
            self._adopt(number, members)
        listed = set(changed_lists)
        for row in marks.tasks:
            task = image.tasks.get(row)
            if task is None or task.entry in listed:
                continue
            members = self.lists[task.entry]
            index = image.members[task.entry].index(row)
            fresh = self._retracked_task(row, members[index], marks)
            list.__setitem__(members, index, fresh)
            positions = self._id_positions.get(task.entry)
            if positions is not None and positions.get(fresh.get("id")) != index:
                del self._id_positions[task.entry]  # its id changed: index it anew when asked
        if changed_lists:
            for row in [row for row in self.objects if row not in image.tasks]:
                del self.objects[row]
                self.task_marks.pop(row, None)
        marks.clear()
        self.revision = image.revision
        self.image = image

    def _adopt(self, number: int, members: TrackedList) -> None:
        """Make `members` the task list of entry `number`, able to say where each id is."""
        self.lists[number] = members
        self._id_positions.pop(number, None)
        members.id_positions = lambda: self._positions_of(number, members)

    def _positions_of(self, number: int, members: TrackedList) -> dict[Any, int] | None:
        """Task id -> its index in the list (-1: several tasks share it), while nothing in the
        list changed since its last commit; None when something may have (then the caller
        looks for itself). Built once, kept across transactions until the list changes."""
        marks = self.marks
        if number in marks.members or self.lists.get(number) is not members:
            return None
        tasks = self.image.tasks
        for row in marks.tasks:
            task = tasks.get(row)
            if task is not None and task.entry == number:
                return None
        positions = self._id_positions.get(number)
        if positions is None:
            positions = {}
            for index, task in enumerate(members):
                task_id = task.get("id")
                positions[task_id] = -1 if task_id in positions else index
            self._id_positions[number] = positions
        return positions

    def _retracked_value(self, value: Any, number: int) -> Any:
        """A tag's object (or another top-level value) tracked anew; a tag keeps its task
        list object, which its own marks track."""
        mark = Mark(self.marks.entries, number)
        if not is_tag(value):
            return track(value, mark)
        fresh = TrackedDict()
        fresh._mark = mark
        for key, item in value.items():
            dict.__setitem__(fresh, key, item if key == "tasks" else track(item, mark))
        return fresh

    def _retracked_task(self, row: int, item: Any, marks: Marks) -> Any:
        mark = self.task_marks.get(row)
        if mark is None:
            mark = self.task_marks[row] = Mark(marks.tasks, row)
        # Rebuilt if new, another row's, or changed (the command may have put plain
        # containers inside it); else it is still exactly what its row holds.
        if not isinstance(item, TrackedDict) or item._mark is not mark or row in marks.tasks:
            item = track(item, mark)
        self.objects[row] = item
        return item


def _positions(old: list[float | None]) -> list[float]:
    """Positions for a list whose items had the `old` positions (None: new here). The longest
    increasing run keeps its positions; the rest go evenly between their kept neighbours, and
    when no room is left between two floats, everything is renumbered."""
    keep = _longest_increasing(old)
    result: list[float] = [0.0] * len(old)
    index = 0
    previous: float | None = None
    while index < len(old):
        if index in keep:
            value = old[index]
            assert value is not None
            result[index] = previous = value
            index += 1
            continue
        run_end = index
        while run_end < len(old) and run_end not in keep:
            run_end += 1
        upper = old[run_end] if run_end < len(old) else None
        count = run_end - index
        low = (
            previous if previous is not None else (upper - count - 1 if upper is not None else -1.0)
        )
        high = upper if upper is not None else low + count + 1
        step = (high - low) / (count + 1)
        for offset in range(count):
            result[index + offset] = low + step * (offset + 1)
        previous = result[run_end - 1]
        index = run_end
    if any(b <= a for a, b in itertools.pairwise(result)):
        return [float(i) for i in range(len(old))]
    return result


def _longest_increasing(values: list[float | None]) -> set[int]:
    """Indexes of a longest strictly increasing subsequence of the non-None values."""
    tails: list[float] = []
    tail_index: list[int] = []
    parent: list[int] = [-1] * len(values)
    for index, value in enumerate(values):
        if value is None:
            continue
        at = bisect.bisect_left(tails, value)
        if at == len(tails):
            tails.append(value)
            tail_index.append(index)
        else:
            tails[at] = value
            tail_index[at] = index
        parent[index] = tail_index[at - 1] if at > 0 else -1
    chosen: set[int] = set()
    current = tail_index[-1] if tail_index else -1
    while current != -1:
        chosen.add(current)
        current = parent[current]
    return chosen


__all__ = [
    "STRUCTURE",
    "EntryRow",
    "RowChanges",
    "RowImage",
    "TaskRow",
    "TrackedDraft",
    "Working",
    "document_from_parts",
    "dumps",
    "entry_body",
    "rows_of",
]
