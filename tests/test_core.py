"""The TaskMaster facade: finding projects, the current tag, one transaction per write."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import orjson
import pytest

from taskmaster.core import TaskMaster
from taskmaster.errors import (
    DependencyCycle,
    InvalidInput,
    ProjectNotFound,
    TagNotFound,
    TaskNotFound,
)
from taskmaster.project import current_tag


@pytest.fixture
def project(tmp_path: Path) -> TaskMaster:
    tm, created = TaskMaster.init(tmp_path)
    assert created
    yield tm
    tm.close()


def test_init_creates_the_task_file_and_state(tmp_path: Path) -> None:
    tm, created = TaskMaster.init(tmp_path)
    assert created
    assert tm.tasks_file == tmp_path / ".taskmaster" / "tasks.json"
    data = orjson.loads(tm.tasks_file.read_bytes())
    assert data["master"]["tasks"] == []
    assert orjson.loads((tmp_path / ".taskmaster" / "state.json").read_bytes()) == {
        "currentTag": "master"
    }


def test_init_leaves_an_existing_project_alone(project: TaskMaster) -> None:
    project.add_task("keep me")
    before = project.tasks_file.read_bytes()
    again, created = TaskMaster.init(project.root)
    assert not created
    assert again.tasks_file.read_bytes() == before


def test_open_walks_up_from_a_subdirectory(project: TaskMaster) -> None:
    nested = project.root / "src" / "deep"
    nested.mkdir(parents=True)
    assert TaskMaster.open(nested).root == project.root


def test_a_directory_outside_any_project_says_to_run_init(tmp_path: Path) -> None:
    with pytest.raises(ProjectNotFound, match="tm init") as caught:
        TaskMaster.open(tmp_path)
    assert str(tmp_path) in str(caught.value)
    assert isinstance(caught.value, FileNotFoundError)


def test_the_reference_layout_wins_when_it_exists(tmp_path: Path) -> None:
    reference = tmp_path / ".taskmaster" / "tasks" / "tasks.json"
    reference.parent.mkdir(parents=True)
    reference.write_bytes(b'{"master": {"tasks": [{"id": 1, "title": "from node"}]}}')
    tm = TaskMaster.open(tmp_path)
    assert tm.tasks_file == reference
    assert [t["title"] for t in tm.list_tasks().tasks] == ["from node"]


def test_file_option_overrides_the_location(project: TaskMaster, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.json"
    other.write_bytes(b'{"tasks": [{"id": 7, "title": "flat"}], "metadata": {}}')
    tm = TaskMaster.open(project.root, tasks_file=other)
    assert [t["id"] for t in tm.list_tasks().tasks] == [7]
    only_file = TaskMaster.open(tasks_file=other)
    assert only_file.tasks_file == other


def test_a_flat_file_is_written_back_flat_until_a_second_tag_appears(tmp_path: Path) -> None:
    path = tmp_path / "tasks.json"
    path.write_bytes(b'{"tasks": [{"id": 1, "title": "a"}], "metadata": {"x": 1}}')
    tm = TaskMaster.open(tasks_file=path)
    tm.add_task("b")
    assert set(orjson.loads(path.read_bytes())) == {"tasks", "metadata"}
    tm.add_tag("feature")
    data = orjson.loads(path.read_bytes())
    assert list(data) == ["master", "feature"]
    assert [t["title"] for t in data["master"]["tasks"]] == ["a", "b"]
    assert data["master"]["metadata"]["x"] == 1


def test_writes_return_what_they_created_or_changed(project: TaskMaster) -> None:
    first = project.add_task("one", priority="high")
    assert first["id"] == 1 and first["title"] == "one" and first["priority"] == "high"
    second = project.add_task("two", dependencies="1")
    assert second["dependencies"] == [1]
    changed = project.set_status("1,2", "done")
    assert [item["status"] for item in changed] == ["done", "done"]
    sub = project.add_subtask(2, "part")
    assert sub["id"] == "2.1" and sub["parentId"] == 2
    assert project.show("2.1")[0]["title"] == "part"


def test_each_write_is_its_own_transaction_with_a_new_revision(project: TaskMaster) -> None:
    revisions = [project.revision()]
    for title in ("a", "b", "c"):
        project.add_task(title)
        revisions.append(project.revision())
    assert revisions == sorted(set(revisions))


def test_domain_errors_surface_and_change_nothing(project: TaskMaster) -> None:
    project.add_task("one")
    project.add_task("two", dependencies=[1])
    before = project.tasks_file.read_bytes()
    with pytest.raises(DependencyCycle, match="1 -> 2 -> 1"):
        project.add_dependency("1", "2")
    with pytest.raises(TaskNotFound, match="task 9 not found in tag 'master'"):
        project.set_status("9", "done")
    with pytest.raises(InvalidInput, match="invalid status"):
        project.set_status("1", "finished")
    assert project.tasks_file.read_bytes() == before


def test_current_tag_lives_in_state_json(project: TaskMaster) -> None:
    project.add_tag("feature", description="a branch")
    project.use_tag("feature")
    assert project.current_tag() == "feature"
    project.add_task("in feature")
    assert [t["title"] for t in project.list_tasks().tasks] == ["in feature"]
    assert project.list_tasks(tag="master").tasks == []
    assert TaskMaster.open(project.root).current_tag() == "feature"
    with pytest.raises(TagNotFound):
        project.use_tag("nope")


def test_renaming_or_deleting_the_current_tag_keeps_state_valid(project: TaskMaster) -> None:
    project.add_tag("feature")
    project.use_tag("feature")
    project.rename_tag("feature", "feature-2")
    assert project.current_tag() == "feature-2"
    project.delete_tag("feature-2")
    assert project.current_tag() == "master"


def test_the_tag_change_event_comes_after_state_json_names_the_new_tag(
    project: TaskMaster,
) -> None:
    seen_on_event: list[str] = []
    project.bus.subscribe(lambda event: seen_on_event.append(current_tag(project.paths)))
    project.add_tag("feature")
    project.use_tag("feature")
    project.rename_tag("feature", "feature-2")
    project.delete_tag("feature-2")
    assert seen_on_event == ["master", "feature", "feature-2", "master"]


def test_a_durable_commit_is_announced_even_if_the_step_before_its_event_fails(
    project: TaskMaster,
) -> None:
    events = []
    project.bus.subscribe(events.append)

    def failing_step() -> None:
        raise OSError("state.json: disk full")

    with pytest.raises(OSError, match="disk full"):
        project.transact(lambda doc: doc.put_tag("x", {"tasks": []}), before_announce=failing_step)
    assert [event.revision for event in events] == [project.storage.revision()]
    assert "x" in [info["name"] for info in project.tags()]


def test_tag_answers_say_whether_the_tag_is_current(project: TaskMaster) -> None:
    assert project.add_tag("feature")["current"] is False
    assert project.copy_tag("feature", "copy")["current"] is False
    project.use_tag("feature")
    renamed = project.rename_tag("feature", "feature-2")
    assert (renamed["name"], renamed["current"]) == ("feature-2", True)
    assert project.rename_tag("copy", "copy-2")["current"] is False


def test_state_json_keeps_keys_it_does_not_know(project: TaskMaster) -> None:
    state = project.paths.state_file
    state.write_bytes(b'{"currentTag": "master", "migrationNoticeShown": true}')
    project.add_tag("x")
    project.use_tag("x")
    assert orjson.loads(state.read_bytes()) == {"currentTag": "x", "migrationNoticeShown": True}


def test_reads_do_not_wait_for_a_writer_holding_the_lock(project: TaskMaster) -> None:
    project.add_task("readable")
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
            str(project.tasks_file),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        start = time.monotonic()
        tasks = TaskMaster.open(project.root, lock_timeout=5).list_tasks().tasks
        assert [t["title"] for t in tasks] == ["readable"]
        assert time.monotonic() - start < 4, "the read waited for the lock"
    finally:
        holder.kill()
        holder.wait()


def test_switching_tags_gives_a_new_revision_and_an_event(project: TaskMaster) -> None:
    project.add_tag("feature")
    seen = []
    project.bus.subscribe(seen.append)
    before = project.revision()
    project.use_tag("feature")
    assert project.revision() > before
    assert [(e.kind, e.tag, e.revision) for e in seen] == [
        ("tag.changed", "feature", project.revision())
    ]


def test_move_onto_an_existing_task_is_refused_and_place_before_reorders(
    project: TaskMaster,
) -> None:
    for title in ("One", "Two", "Three"):
        project.add_task(title)
    before = project.tasks_file.read_bytes()
    with pytest.raises(InvalidInput, match="task 1 already exists"):
        project.move("3", "1")
    assert project.tasks_file.read_bytes() == before
    assert project.place_before("3", "1")["id"] == 3
    assert [task["id"] for task in project.list_tasks().tasks] == [3, 1, 2]
