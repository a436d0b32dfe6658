"""The task file's bytes assembled from kept rows (`file_bytes.py`) are the whole dump's bytes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from taskmaster.commands.base import Command
from taskmaster.commands.moves import MoveToTag, PlaceBefore
from taskmaster.commands.tasks import AddTask, RemoveTask, SetStatus, UpdateTask
from taskmaster.model import Document, TaskId
from taskmaster.storage.base import ProjectState, Step
from taskmaster.storage.file import FileStorage
from taskmaster.storage.file_bytes import CHUNK
from taskmaster.storage.resident import Resident, run_steps
from taskmaster.storage.revision import Signature
from tests.contract.test_contract_group_commit import _applying, _commands
from tests.strategies import documents

_NO_FILE = Signature(0, 0, 0, 0, 0)


def _resident(document: Document) -> Resident:
    raw = document.to_json()
    return Resident(Document.from_json(raw), raw, 1, _NO_FILE)


def _commit(resident: Resident, commands: list[Any]) -> None:
    """What `FileStorage` does with a group: run the steps, move to the revision it wrote (a
    file's revisions jump: they follow its ctime)."""
    run = run_steps(
        resident,
        [Step(command if _plain(command) else _applying(command)) for command in commands],
        load_state=lambda: ProjectState("master"),
    )
    resident.revision += 1000 + run.changes


def _plain(command: Any) -> bool:
    """An operation written out in the test, not a command (nor the contract's undo)."""
    return callable(command) and not isinstance(command, Command)


def _assembled(resident: Resident) -> bytes | None:
    return resident.file_bytes.of(resident.image)


def _flat(document: Document) -> Document:
    return Document(document.data["master"], flat=True)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    document=documents(max_tasks=6, min_tasks=1),
    flat=st.booleans(),
    groups=st.lists(st.lists(_commands, min_size=1, max_size=4), min_size=1, max_size=6),
)
def test_the_assembled_file_is_the_whole_dump_after_any_commits(
    document: Document, flat: bool, groups: list[list[Any]]
) -> None:
    note(f"groups: {groups!r}")
    resident = _resident(_flat(document) if flat else document)
    assert _assembled(resident) is None  # the first write dumps the document whole
    for group in groups:
        _commit(resident, group)
        expected = resident.working.document.to_json()
        assert _assembled(resident) == expected
        assert resident.serialised() == expected


def _many() -> Resident:
    tasks = [{"id": i, "title": f"t{i}", "status": "pending"} for i in range(1, 3 * CHUNK)]
    resident = _resident(Document({"master": {"tasks": tasks}, "other": {"tasks": []}}))
    resident.serialised()
    return resident


def test_a_change_in_one_chunk_of_many_leaves_the_other_tasks_as_they_were() -> None:
    resident = _many()
    for task_id in (1, CHUNK + 5, 3 * CHUNK - 1, CHUNK + 5):
        _commit(resident, [SetStatus(ids=(TaskId(task_id),), status="done")])
        _commit(resident, [UpdateTask(id=TaskId(task_id + 1), fields={"title": 'é\n"x"'})])
        assert _assembled(resident) == resident.working.document.to_json()


@pytest.mark.parametrize(
    "commands",
    [
        [AddTask(values={"title": "appended"})],
        [RemoveTask(ids=(TaskId(1),))],
        [RemoveTask(ids=(TaskId(CHUNK),))],
        [RemoveTask(ids=(TaskId(CHUNK + 1),)), SetStatus(ids=(TaskId(2),), status="done")],
        [PlaceBefore(id=TaskId(3 * CHUNK - 1), before=TaskId(2))],
        [PlaceBefore(id=TaskId(2), before=TaskId(2 * CHUNK))],
        [MoveToTag(ids=(CHUNK + 3,), to_tag="other"), AddTask(values={"title": "x"}, tag="other")],
        [SetStatus(ids=(TaskId(CHUNK - 1),), status="done"), RemoveTask(ids=(TaskId(CHUNK),))],
    ],
    ids=lambda commands: "+".join(command.name for command in commands),
)
def test_tasks_added_removed_or_moved_among_many_keep_every_other_line(
    commands: list[Any],
) -> None:
    """A list laid out again around what it kept, across chunk boundaries, twice in a row
    (the second time from the lines the first left)."""
    resident = _many()
    for _ in range(2):
        _commit(resident, commands)
        assert _assembled(resident) == resident.working.document.to_json()
        _commit(resident, [SetStatus(ids=(TaskId(CHUNK + 7),), status="review")])
        assert _assembled(resident) == resident.working.document.to_json()


@pytest.mark.parametrize(("depth", "assembled"), [(251, True), (252, False)])
def test_a_task_nested_too_deep_for_the_file_is_not_assembled(depth: int, assembled: bool) -> None:
    """orjson writes 254 levels of containers, and in a tagged file a task's values start 4
    levels down: the task alone would dump at 252 levels too, but each task is dumped as
    deep as the file nests it."""
    value: Any = 1
    for _ in range(depth - 1):
        value = [value]
    task = {"id": 1, "title": "deep", "metadata": value}
    resident = _resident(Document({"master": {"tasks": [{"id": 2, "title": "flat"}]}}))
    resident.serialised()
    _commit(resident, [lambda draft: draft.document.tasks("master").append(task)])
    if assembled:
        assert _assembled(resident) == resident.working.document.to_json()
    else:
        assert _assembled(resident) is None
        with pytest.raises(orjson.JSONEncodeError):
            orjson.dumps(resident.working.document.data)
        orjson.dumps(task)  # what a dump of the task alone would have let through


def test_a_marker_found_in_the_document_itself_is_not_trusted() -> None:
    resident = _resident(Document({"master": {"tasks": [{"id": 1, "title": "a"}]}}))
    marker = resident.file_bytes._marker  # what a document would have to guess
    resident.serialised()
    _commit(resident, [lambda draft: draft.document.tag("master").update(note=f"{marker}-0")])
    assert _assembled(resident) is None
    assert resident.serialised() == resident.working.document.to_json()


def test_a_server_writing_again_and_again_leaves_the_file_as_the_whole_dump(
    tmp_path: Path,
) -> None:
    path = tmp_path / "tasks.json"
    tasks = [{"id": i, "title": f"t{i}", "status": "pending"} for i in range(1, 600)]
    store = FileStorage(path, keep_document=True)
    store.create(Document({"master": {"tasks": tasks}}), ProjectState("master"))
    changes = [(3, "done"), (300, "review"), (3, "deferred")]
    commands: list[Command[Any]] = [SetStatus(ids=(TaskId(i),), status=s) for i, s in changes]
    for command in commands:
        store.transact(_applying(command))
        raw = path.read_bytes()
        assert raw == Document.from_json(raw).to_json()
    statuses = [task["status"] for task in store.read().document.tasks("master")]
    assert (statuses[2], statuses[299], statuses[4]) == ("deferred", "review", "pending")
    # The later writes were assembled from the kept rows, not dumped whole.
    assert store._resident is not None
    assert store._resident.file_bytes.of(store._resident.image) == path.read_bytes()
    store.close()
