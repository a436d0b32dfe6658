"""Reversions: an outside change that puts back what a commit of ours had replaced.

The pure rule first, on hand-made entries; then the file backend, where another program writes
back a copy of the task file it read before our commit (what the reference tool does).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from taskmaster.commands import AddTask, SetStatus, UpdateTask
from taskmaster.core import TaskMaster
from taskmaster.journal.reversions import reversions
from taskmaster.model import Document, TaskId
from taskmaster.storage import ProjectState
from taskmaster.storage.file import FileStorage
from taskmaster.storage.memory import MemoryStorage


def ours(revision: int, *changes: dict[str, Any]) -> dict[str, Any]:
    return {"revision": revision, "kind": "command", "changes": list(changes)}


def outside(revision: int, *changes: dict[str, Any]) -> dict[str, Any]:
    return {"revision": revision, "kind": "external", "changes": list(changes)}


def field(item: str, name: str, before: Any, after: Any) -> dict[str, Any]:
    return {"tag": "master", "id": item, "field": name, "before": before, "after": after}


def test_putting_back_the_value_a_commit_replaced_is_a_reversion() -> None:
    history = [ours(3, field("5", "status", "pending", "done"))]
    found = reversions([field("5", "status", "done", "pending")], history)
    assert found == [{"revision": 3, "tag": "master", "id": "5", "field": "status"}]


def test_a_new_value_is_an_edit_not_a_reversion() -> None:
    history = [ours(3, field("5", "status", "pending", "done"))]
    assert reversions([field("5", "status", "done", "review")], history) == []


def test_a_place_no_commit_of_ours_set_is_not_a_reversion() -> None:
    history = [ours(3, field("5", "status", "pending", "done"))]
    assert reversions([field("6", "status", "done", "pending")], history) == []
    assert reversions([field("5", "title", "b", "a")], history) == []


def test_going_back_past_several_commits_names_the_newest() -> None:
    history = [
        ours(3, field("5", "status", "pending", "in-progress")),
        ours(4, field("1", "title", "x", "y")),
        ours(5, field("5", "status", "in-progress", "done")),
    ]
    found = reversions([field("5", "status", "done", "pending")], history)
    assert [r["revision"] for r in found] == [5]


def test_an_outside_change_in_between_ends_the_chain() -> None:
    # The value the new outside change writes was replaced by another outside change, not by us.
    history = [
        ours(3, field("5", "status", "pending", "review")),
        outside(4, field("5", "status", "review", "blocked")),
        ours(5, field("5", "status", "blocked", "done")),
    ]
    assert reversions([field("5", "status", "done", "pending")], history) == []
    assert reversions([field("5", "status", "done", "blocked")], history)[0]["revision"] == 5


def test_a_task_we_added_and_an_outside_copy_drops_is_a_reversion() -> None:
    added = {"tag": "master", "id": "7", "field": None, "index": 6, "after": {"id": 7}}
    dropped = {"tag": "master", "id": "7", "field": None, "index": 6, "before": {"id": 7}}
    found = reversions([dropped], [ours(9, added)])
    assert found == [{"revision": 9, "tag": "master", "id": "7", "field": None}]


def test_stamps_never_count() -> None:
    stamp = {"tag": "master", "id": None, "field": "metadata.updated"}
    history = [ours(3, {**stamp, "before": "t1", "after": "t2"})]
    assert reversions([{**stamp, "before": "t2", "after": "t1"}], history) == []


# The file backend ------------------------------------------------------------------------------
@pytest.fixture
def project(tmp_path: Path) -> Iterator[TaskMaster]:
    storage = FileStorage(tmp_path / "tasks.json")
    storage.create(Document.empty(), ProjectState())
    facade = TaskMaster(storage)
    for title in ("one", "two", "three"):
        facade.execute(AddTask(values={"title": title}))
    yield facade
    facade.close()


def write_back(path: Path, stale: bytes, edit: dict[str, Any]) -> None:
    """What the reference tool does: its own change applied to a copy read earlier, written
    whole by temp file and rename."""
    data = orjson.loads(stale)
    for number, values in edit.items():
        data["master"]["tasks"][number - 1].update(values)
    temporary = path.with_name(path.name + ".tmp.1234")
    temporary.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    os.replace(temporary, path)


def test_a_stale_write_back_is_journaled_as_reverting_our_commits(project: TaskMaster) -> None:
    path = Path(project.storage.path)  # type: ignore[attr-defined]
    stale = path.read_bytes()  # the other program reads...
    lost_status = project.execute(SetStatus(ids=(TaskId(1),), status="done")).revision
    lost_title = project.execute(UpdateTask(id=TaskId(2), fields={"title": "TWO"})).revision
    write_back(path, stale, {3: {"status": "review"}})  # ...and writes back its copy
    project.execute(SetStatus(ids=(TaskId(3),), status="deferred"))  # the next write settles it
    external = next(e for e in project.history().value if e["kind"] == "external")
    assert sorted((r["id"], r["field"], r["revision"]) for r in external["reverts"]) == [
        ("1", "status", lost_status),
        ("2", "title", lost_title),
    ]
    # Its own change is an edit, not a reversion.
    assert ("3", "status") in {(c["id"], c["field"]) for c in external["changes"]}


def test_an_outside_edit_that_reverts_nothing_has_no_reversions(project: TaskMaster) -> None:
    path = Path(project.storage.path)  # type: ignore[attr-defined]
    project.execute(SetStatus(ids=(TaskId(1),), status="done"))
    write_back(path, path.read_bytes(), {2: {"title": "edited"}})  # read after our commit
    project.execute(SetStatus(ids=(TaskId(3),), status="deferred"))
    external = next(e for e in project.history().value if e["kind"] == "external")
    assert "reverts" not in external


def test_the_memory_backend_detects_the_same() -> None:
    store = MemoryStorage()
    store.create(Document.empty(), ProjectState())
    facade = TaskMaster(store)
    facade.execute(AddTask(values={"title": "one"}))
    stale = facade.snapshot().document
    lost = facade.execute(SetStatus(ids=(TaskId(1),), status="done")).revision
    store.outside_write(stale)
    external = store.history()[-1]
    reverted = {"revision": lost, "tag": "master", "id": "1", "field": "status"}
    assert external["reverts"] == [reverted]


def test_commits_far_apart_in_time_are_all_found(project: TaskMaster) -> None:
    """A file's revisions are derived from its change times (microseconds), so the lookback
    is counted in entries, not in revision numbers: commits seconds apart are all compared."""
    import time

    path = Path(project.storage.path)  # type: ignore[attr-defined]
    stale = path.read_bytes()
    lost_status = project.execute(SetStatus(ids=(TaskId(1),), status="done")).revision
    time.sleep(0.05)
    lost_title = project.execute(UpdateTask(id=TaskId(2), fields={"title": "TWO"})).revision
    assert lost_title - lost_status > 1_000  # further apart than any small number of entries
    write_back(path, stale, {3: {"status": "review"}})
    project.execute(SetStatus(ids=(TaskId(3),), status="deferred"))
    external = next(e for e in project.history().value if e["kind"] == "external")
    assert sorted((r["id"], r["field"], r["revision"]) for r in external["reverts"]) == [
        ("1", "status", lost_status),
        ("2", "title", lost_title),
    ]
