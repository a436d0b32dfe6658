"""The TaskMaster facade: finding projects, the current tag, one transaction per write."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from taskmaster.commands import (
    AddDependency,
    AddSubtask,
    AddTag,
    AddTask,
    CopyTag,
    DeleteTag,
    Move,
    PlaceBefore,
    RenameTag,
    SetStatus,
    UseTag,
)
from taskmaster.compose import Project, Settings, init_project, open_project
from taskmaster.errors import (
    DependencyCycle,
    InvalidInput,
    ProjectNotFound,
    TagNotFound,
    TaskNotFound,
)
from taskmaster.model import TaskId
from taskmaster.storage.state_file import StateFile


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    opened, created = init_project(tmp_path)
    assert created
    yield opened
    opened.close()


def tasks_file(project: Project) -> Path:
    assert project.paths is not None
    return project.paths.tasks_file


def add(project: Project, title: str, **fields: object) -> dict:
    return project.core.execute(AddTask(values={"title": title, **fields})).result


def ids(*numbers: int) -> tuple[TaskId, ...]:
    return tuple(TaskId(number) for number in numbers)


def test_init_creates_the_task_file_and_state(tmp_path: Path) -> None:
    opened, created = init_project(tmp_path)
    try:
        assert created
        assert tasks_file(opened) == tmp_path / ".taskmaster" / "tasks.json"
        data = orjson.loads(tasks_file(opened).read_bytes())
        assert data["master"]["tasks"] == []
        assert orjson.loads((tmp_path / ".taskmaster" / "state.json").read_bytes()) == {
            "currentTag": "master"
        }
    finally:
        opened.close()


def test_init_leaves_an_existing_project_alone(project: Project) -> None:
    add(project, "keep me")
    before = tasks_file(project).read_bytes()
    again, created = init_project(project.root)
    try:
        assert not created
        assert tasks_file(again).read_bytes() == before
    finally:
        again.close()


def test_open_walks_up_from_a_subdirectory(project: Project) -> None:
    nested = project.root / "src" / "deep"
    nested.mkdir(parents=True)
    opened = open_project(nested)
    try:
        assert opened.root == project.root
    finally:
        opened.close()


def test_a_directory_outside_any_project_says_to_run_init(tmp_path: Path) -> None:
    with pytest.raises(ProjectNotFound, match="tm init") as caught:
        open_project(tmp_path)
    assert str(tmp_path) in str(caught.value)
    assert isinstance(caught.value, FileNotFoundError)


def test_the_reference_layout_wins_when_it_exists(tmp_path: Path) -> None:
    reference = tmp_path / ".taskmaster" / "tasks" / "tasks.json"
    reference.parent.mkdir(parents=True)
    reference.write_bytes(b'{"master": {"tasks": [{"id": 1, "title": "from node"}]}}')
    opened = open_project(tmp_path)
    try:
        assert tasks_file(opened) == reference
        assert [t["title"] for t in opened.core.list_tasks().value.tasks] == ["from node"]
    finally:
        opened.close()


def test_file_option_overrides_the_location(project: Project, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.json"
    other.write_bytes(b'{"tasks": [{"id": 7, "title": "flat"}], "metadata": {}}')
    opened = open_project(project.root, tasks_file=other)
    try:
        assert [t["id"] for t in opened.core.list_tasks().value.tasks] == [7]
    finally:
        opened.close()
    only_file = open_project(tasks_file=other)
    try:
        assert tasks_file(only_file) == other
    finally:
        only_file.close()


def test_a_flat_file_is_written_back_flat_until_a_second_tag_appears(tmp_path: Path) -> None:
    path = tmp_path / "tasks.json"
    path.write_bytes(b'{"tasks": [{"id": 1, "title": "a"}], "metadata": {"x": 1}}')
    opened = open_project(tasks_file=path)
    try:
        add(opened, "b")
        assert set(orjson.loads(path.read_bytes())) == {"tasks", "metadata"}
        opened.core.execute(AddTag(tag="feature"))
    finally:
        opened.close()
    data = orjson.loads(path.read_bytes())
    assert list(data) == ["master", "feature"]
    assert [t["title"] for t in data["master"]["tasks"]] == ["a", "b"]
    assert data["master"]["metadata"]["x"] == 1


def test_writes_return_what_they_created_or_changed(project: Project) -> None:
    core = project.core
    first = add(project, "one", priority="high")
    assert first["id"] == 1 and first["title"] == "one" and first["priority"] == "high"
    second = core.execute(AddTask.from_args({"title": "two", "dependencies": ["1"]})).result
    assert second["dependencies"] == [1]
    changed = core.execute(SetStatus(ids=ids(1, 2), status="done")).result
    assert [item["status"] for item in changed] == ["done", "done"]
    sub = core.execute(AddSubtask(parent=2, values={"title": "part"})).result
    assert sub["id"] == "2.1" and sub["parentId"] == 2
    assert core.show("2.1").value[0]["title"] == "part"


def test_each_write_is_its_own_transaction_with_a_new_revision(project: Project) -> None:
    revisions = [project.core.revision()]
    for title in ("a", "b", "c"):
        commit = project.core.execute(AddTask(values={"title": title}))
        assert commit.changed and commit.revision == project.core.revision()
        revisions.append(commit.revision)
    assert revisions == sorted(set(revisions))


def test_domain_errors_surface_and_change_nothing(project: Project) -> None:
    core = project.core
    add(project, "one")
    add(project, "two", dependencies=[1])
    before = tasks_file(project).read_bytes()
    revision = core.revision()
    with pytest.raises(DependencyCycle, match="1 -> 2 -> 1"):
        core.execute(AddDependency(id=TaskId(1), depends_on=TaskId(2)))
    with pytest.raises(TaskNotFound, match="task 9 not found in tag 'master'"):
        core.execute(SetStatus(ids=ids(9), status="done"))
    with pytest.raises(InvalidInput, match="invalid status"):
        core.execute(SetStatus(ids=ids(1), status="finished"))
    assert tasks_file(project).read_bytes() == before
    assert core.revision() == revision


def test_current_tag_lives_in_state_json(project: Project) -> None:
    core = project.core
    core.execute(AddTag(tag="feature", description="a branch"))
    core.execute(UseTag(tag="feature"))
    assert core.current_tag() == "feature"
    add(project, "in feature")
    assert [t["title"] for t in core.list_tasks().value.tasks] == ["in feature"]
    assert core.list_tasks(tag="master").value.tasks == []
    again = open_project(project.root)
    try:
        assert again.core.current_tag() == "feature"
    finally:
        again.close()
    with pytest.raises(TagNotFound):
        core.execute(UseTag(tag="nope"))


def test_renaming_or_deleting_the_current_tag_keeps_state_valid(project: Project) -> None:
    core = project.core
    core.execute(AddTag(tag="feature"))
    core.execute(UseTag(tag="feature"))
    core.execute(RenameTag(old="feature", new="feature-2"))
    assert core.current_tag() == "feature-2"
    core.execute(DeleteTag(tag="feature-2"))
    assert core.current_tag() == "master"


def test_the_tag_change_event_comes_after_state_json_names_the_new_tag(
    project: Project,
) -> None:
    assert project.paths is not None
    paths = project.paths
    seen_on_event: list[str | None] = []

    def on_event(event: object) -> None:
        # A fresh reader of the files, as another process would be.
        seen_on_event.append(StateFile(paths.state_file, paths.config_file).get().current_tag)

    project.core.bus.subscribe(on_event)
    core = project.core
    core.execute(AddTag(tag="feature"))
    core.execute(UseTag(tag="feature"))
    core.execute(RenameTag(old="feature", new="feature-2"))
    core.execute(DeleteTag(tag="feature-2"))
    assert seen_on_event == ["master", "feature", "feature-2", "master"]


def test_a_commit_is_announced_exactly_when_it_is_durable(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The state is part of the transaction: when writing it fails, nothing is committed
    and nothing announced; a commit that is durable is announced with its revision."""
    core = project.core
    events = []
    core.bus.subscribe(events.append)
    committed = core.execute(AddTag(tag="x"))
    assert [event.revision for event in events] == [committed.revision]
    assert committed.revision == core.storage.revision()
    assert "x" in [info["name"] for info in core.tags().value]

    def full_disk(self: StateFile, state: object) -> None:
        raise OSError("state.json: disk full")

    monkeypatch.setattr(StateFile, "write", full_disk)
    before = tasks_file(project).read_bytes()
    with pytest.raises(OSError, match="disk full"):
        core.execute(UseTag(tag="x"))
    assert [event.revision for event in events] == [committed.revision]
    assert core.storage.revision() == committed.revision
    assert tasks_file(project).read_bytes() == before
    assert core.current_tag() == "master"


def test_tag_answers_say_whether_the_tag_is_current(project: Project) -> None:
    core = project.core
    assert core.execute(AddTag(tag="feature")).result["current"] is False
    assert core.execute(CopyTag(source="feature", target="copy")).result["current"] is False
    core.execute(UseTag(tag="feature"))
    renamed = core.execute(RenameTag(old="feature", new="feature-2")).result
    assert (renamed["name"], renamed["current"]) == ("feature-2", True)
    assert core.execute(RenameTag(old="copy", new="copy-2")).result["current"] is False


def test_state_json_keeps_keys_it_does_not_know(project: Project) -> None:
    assert project.paths is not None
    state = project.paths.state_file
    state.write_bytes(b'{"currentTag": "master", "migrationNoticeShown": true}')
    project.core.execute(AddTag(tag="x"))
    project.core.execute(UseTag(tag="x"))
    assert orjson.loads(state.read_bytes()) == {"currentTag": "x", "migrationNoticeShown": True}


def test_reads_do_not_wait_for_a_writer_holding_the_lock(project: Project) -> None:
    add(project, "readable")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import sys, time
                from taskmaster.storage.file import FileStorage
                with FileStorage(sys.argv[1]).locked():
                    print("held", flush=True)
                    time.sleep(30)
                """
            ),
            str(tasks_file(project)),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        start = time.monotonic()
        reader = open_project(project.root, settings=Settings(lock_timeout=5))
        try:
            tasks = reader.core.list_tasks().value.tasks
        finally:
            reader.close()
        assert [t["title"] for t in tasks] == ["readable"]
        assert time.monotonic() - start < 4, "the read waited for the lock"
    finally:
        holder.kill()
        holder.wait()


def test_switching_tags_gives_a_new_revision_and_an_event(project: Project) -> None:
    core = project.core
    core.execute(AddTag(tag="feature"))
    seen = []
    core.bus.subscribe(seen.append)
    before = core.revision()
    commit = core.execute(UseTag(tag="feature"))
    assert commit.revision > before and commit.revision == core.revision()
    assert [(e.kind, e.tag, e.revision) for e in seen] == [
        ("tag.changed", "feature", core.revision())
    ]


def test_move_onto_an_existing_task_is_refused_and_place_before_reorders(
    project: Project,
) -> None:
    core = project.core
    for title in ("One", "Two", "Three"):
        add(project, title)
    before = tasks_file(project).read_bytes()
    with pytest.raises(InvalidInput, match="task 1 already exists"):
        core.execute(Move(sources=ids(3), targets=ids(1)))
    assert tasks_file(project).read_bytes() == before
    assert core.execute(PlaceBefore(id=TaskId(3), before=TaskId(1))).result["id"] == 3
    assert [task["id"] for task in core.list_tasks().value.tasks] == [3, 1, 2]


def test_a_store_that_journals_nothing_still_announces_each_commit(tmp_path: Path) -> None:
    from taskmaster.bus import LocalBus
    from taskmaster.commands import AddTask
    from taskmaster.core import TaskMaster
    from taskmaster.events import Event
    from taskmaster.model import Document
    from taskmaster.storage.base import ProjectState
    from taskmaster.storage.file import FileStorage

    storage = FileStorage(tmp_path / "tasks.json", journal=False)
    storage.create(Document.empty(), ProjectState())
    bus = LocalBus()
    seen: list[Event] = []
    bus.subscribe(seen.append)
    core = TaskMaster(storage, bus)
    commit = core.execute(AddTask(values={"title": "t"}))
    assert [(e.kind, e.revision, e.ids) for e in seen] == [
        ("task.created", commit.revision, ("1",))
    ]
    assert storage.history() == []
