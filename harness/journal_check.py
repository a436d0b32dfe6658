"""`journal-agrees`: the change journal and the task document tell the same story (pure).

At the end of a run the runner records, in one `observe` op on channel ``journal``, the
journal's entries and the final document (`journal_record`: long strings replaced by their
digest, the same way on both sides, so the record stays small and equality is kept). The check
then asks, for a taskmaster target:

- every acknowledged write has its entry: the entry at the revision the write reported (when
  it reported one) adds the write's task, and some entry adds every acknowledged task;
- no entry for a commit that never happened: every task an entry adds is in the document, and
  no two entries share a revision (revisions strictly increase);
- no commit without its entry: every task of the document that the run added (not one of the
  initial tasks) was added by an entry;
- replaying the entries' field-level changes gives the document's values: for every place an
  entry wrote last (a task's field, a whole task, a tag's key), the document holds that value
  (a field of a task a later entry removed or replaced is not asked).

The naive baseline keeps no journal: the check does not apply to it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterable
from typing import Any

from harness.history import OBSERVE, OK, WRITE, Op
from harness.violations import Violation

JOURNAL_CHANNEL = "journal"
ANOMALY = "journal-mismatch"
_LONG = 64
_ABSENT: Any = object()


def digest(value: Any) -> Any:
    """`value` with every string longer than 64 characters replaced by its sha256."""
    if isinstance(value, str) and len(value) > _LONG:
        return "sha256:" + hashlib.sha256(value.encode()).hexdigest()
    if isinstance(value, dict):
        return {key: digest(item) for key, item in value.items()}
    if isinstance(value, list):
        return [digest(item) for item in value]
    return value


def journal_record(
    entries: Iterable[dict[str, Any]], document: dict[str, Any], initial_ids: Iterable[int]
) -> dict[str, Any]:
    """What the check needs, digested: entries (revision, kind, command, changes) and the
    document."""
    kept = [
        {
            "revision": entry["revision"],
            "kind": entry.get("kind"),
            "command": entry.get("command"),
            "unknown": bool(entry.get("unknown")),
            "changes": digest(entry.get("changes") or []),
        }
        for entry in entries
    ]
    return {
        "entries": kept,
        "document": digest(document),
        "initial_ids": [str(i) for i in initial_ids],
    }


def _tag_of(document: dict[str, Any], tag: str | None) -> dict[str, Any] | None:
    if "tasks" in document and tag in (None, "master"):
        return document  # the legacy format: one tag
    found = document.get(tag or "master")
    return found if isinstance(found, dict) else None


def _task_of(document: dict[str, Any], tag: str | None, task_id: str) -> dict[str, Any] | None:
    tag_data = _tag_of(document, tag)
    if tag_data is None:
        return None
    parent, _, sub = task_id.partition(".")
    for task in tag_data.get("tasks") or ():
        if str(task.get("id")) == parent:
            if not sub:
                return task if isinstance(task, dict) else None
            for subtask in task.get("subtasks") or ():
                if str(subtask.get("id")) == sub:
                    return subtask if isinstance(subtask, dict) else None
            return None
    return None


def _value_at(document: dict[str, Any], change: dict[str, Any]) -> Any:
    """The document's value at a change's place (`_ABSENT` when the place does not exist)."""
    tag, task_id, field = change.get("tag"), change.get("id"), change.get("field")
    if task_id is not None:
        task = _task_of(document, tag, str(task_id))
        if task is None:
            return _ABSENT
        if field is None:
            return {k: v for k, v in task.items() if k != "subtasks"}
        return task.get(field, _ABSENT)
    if field is None or tag is None or field.startswith("#"):
        return None  # whole tags, the current tag, the order: not asked here
    tag_data = _tag_of(document, tag)
    value: Any = tag_data
    for part in field.split("."):
        if not isinstance(value, dict) or part not in value:
            return _ABSENT
        value = value[part]
    return value


def _title(change: dict[str, Any]) -> str | None:
    after = change.get("after")
    if change.get("id") is not None and change.get("field") is None and isinstance(after, dict):
        title = after.get("title")
        return str(title) if title is not None else None
    return None


def check_journal(ops: list[Op], config: dict[str, Any]) -> list[Violation]:
    if config.get("target") == "baseline":
        return []
    records = [op for op in ops if op.kind == OBSERVE and op.channel == JOURNAL_CHANNEL]
    if not records:
        return [Violation(ANOMALY, "the run recorded no journal to check", ())]
    record = records[-1]
    value = record.value or {}
    if value.get("error"):
        return [Violation(ANOMALY, f"the journal could not be read: {value['error']}", (record,))]
    entries: list[dict[str, Any]] = value.get("entries") or []
    document: dict[str, Any] = value.get("document") or {}
    initial = set(value.get("initial_ids") or ())
    found: list[Violation] = []

    revisions = [int(e["revision"]) for e in entries]
    for before, after in itertools.pairwise(revisions):
        if after <= before:
            found.append(
                Violation(ANOMALY, f"journal revision {after} follows {before}", (record,))
            )

    # which entry added which task (by title: the run's titles are unique tokens)
    adder: dict[str, int] = {}
    added_ids: set[tuple[str | None, str]] = set()
    for entry in entries:
        for change in entry["changes"]:
            title = _title(change)
            if title is not None:
                adder[title] = int(entry["revision"])
                added_ids.add((change.get("tag"), str(change["id"])))

    for op in ops:
        if op.kind != WRITE or op.outcome != OK or not (op.key or "").startswith("add/"):
            continue
        title = (op.key or "").removeprefix("add/")
        if title not in adder:
            found.append(
                Violation(ANOMALY, f"acknowledged add-task {title!r} has no journal entry", (op,))
            )
        elif op.revision is not None and adder[title] != op.revision:
            found.append(
                Violation(
                    ANOMALY,
                    f"acknowledged add-task {title!r} committed revision {op.revision}, but its "
                    f"journal entry is at {adder[title]}",
                    (op,),
                )
            )

    tag_names = [n for n in document if isinstance(document.get(n), dict)]
    for name in tag_names if "tasks" not in document else ["master"]:
        tag_data = _tag_of(document, name) or {}
        for task in tag_data.get("tasks") or ():
            task_id = str(task.get("id"))
            if task_id in initial or (name, task_id) in added_ids:
                continue
            found.append(
                Violation(
                    ANOMALY,
                    f"task {task_id} ({task.get('title')!r}) is in the document, but no journal "
                    "entry added it: a commit without its entry",
                    (record,),
                )
            )

    # the last value the journal wrote at each place, replayed in revision order
    last: dict[tuple[Any, ...], tuple[int, dict[str, Any]]] = {}
    for entry in entries:
        if entry.get("unknown"):
            continue  # the before-content was lost: its changes are not field-level
        for change in entry["changes"]:
            tag, task_id, field = change.get("tag"), change.get("id"), change.get("field")
            if task_id is not None and field is None:
                # a whole task added or removed: what was said of its fields before is moot
                for place in [p for p in last if p[:2] == (tag, str(task_id))]:
                    del last[place]
            last[(tag, None if task_id is None else str(task_id), field)] = (
                int(entry["revision"]),
                change,
            )
    for (tag, task_id, field), (revision, change) in last.items():
        expected = change.get("after", _ABSENT)
        if task_id is not None and field is None and isinstance(expected, dict):
            expected = {k: v for k, v in expected.items() if k != "subtasks"}
            later = {
                p[2]: c.get("after", _ABSENT)
                for p, (_, c) in last.items()
                if p[:2] == (tag, task_id) and p[2] is not None
            }
            expected = {**expected, **later}
            expected = {k: v for k, v in expected.items() if v is not _ABSENT}
        actual = _value_at(document, change)
        if actual is None and task_id is None:
            continue  # a place this check does not read
        if actual is _ABSENT and expected is _ABSENT:
            continue
        if actual != expected:
            where = f"{tag} {task_id or ''} {field or '(whole)'}".strip()
            found.append(
                Violation(
                    ANOMALY,
                    f"{where}: the journal's last change (revision {revision}) leaves "
                    f"{_shown(expected)}, the document holds {_shown(actual)}",
                    (record,),
                )
            )
    return found


def _shown(value: Any) -> str:
    if value is _ABSENT:
        return "nothing"
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 120 else text[:117] + "..."
