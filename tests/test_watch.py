"""The directory watcher on real files: what other programs do becomes `file.changed`."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from taskmaster.commands import AddTask
from taskmaster.compose import init_project, open_project
from taskmaster.events import CHANGE_REVERTED, FILE_CHANGED, TASK_CREATED, Event
from taskmaster.storage import watch
from taskmaster.storage.base import Draft
from taskmaster.storage.file import FileStorage

WAIT = 5.0


@pytest.fixture(params=["inotify", "watchdog"], autouse=True)
def source(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs on both event sources: Linux's own inotify reader and watchdog, which
    other systems use (and Linux does where inotify refuses)."""
    monkeypatch.setattr(watch, "USE_INOTIFY", request.param == "inotify")
    return str(request.param)


SOURCES = {"inotify": "InotifySource", "watchdog": "WatchdogSource"}


@pytest.fixture
def watched(tmp_path: Path, source: str):
    project, _ = init_project(tmp_path)
    events: queue.Queue[Event] = queue.Queue()
    project.core.bus.subscribe(events.put)
    watcher = project.core.watch()
    assert type(watcher._source).__name__ == SOURCES[source]  # type: ignore[attr-defined]
    yield project, events
    project.close()


def _next_file_change(events: queue.Queue[Event], at_least: int) -> Event:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        try:
            event = events.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if event.kind == FILE_CHANGED and event.revision >= at_least:
            return event
    raise AssertionError(f"no file.changed event for revision >= {at_least} within {WAIT} s")


def _add(title: str):
    def operation(draft: Draft) -> None:
        document = draft.document
        document.tasks("master").append({"id": document.next_task_id("master"), "title": title})

    return operation


def test_another_writers_atomic_replace_is_announced(watched) -> None:
    project, events = watched
    other = FileStorage(project.paths.tasks_file)  # another process's handle on the same file
    revision = other.transact(_add("from elsewhere")).revision
    event = _next_file_change(events, revision)
    assert event.revision == revision
    assert event.origin == project.core.instance_id


REPLACER = """
import sys
from taskmaster.storage import watch
from taskmaster.storage.file import FileStorage
storage = FileStorage(sys.argv[1], durable=False)
for i in range(int(sys.argv[2])):
    storage.transact(lambda draft: draft.document.tasks("master").append({"id": i, "title": "t"}))
print(storage.revision())
"""


def test_it_keeps_working_after_thousands_of_replacements(watched) -> None:
    project, events = watched
    done = subprocess.run(
        [sys.executable, "-c", REPLACER, str(project.paths.tasks_file), "2000"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    final = int(done.stdout)
    assert _next_file_change(events, final).revision == final
    other = FileStorage(project.paths.tasks_file)
    last = other.transact(_add("one more")).revision
    assert _next_file_change(events, last).revision == last


def test_an_in_place_editor_write_is_announced(watched) -> None:
    project, events = watched
    before = project.core.revision()
    with open(project.paths.tasks_file, "r+b") as handle:
        content = handle.read()
        handle.seek(0)
        handle.truncate()
        handle.write(content.replace(b'"tasks": []', b'"tasks": [{"id": 1, "title": "vim"}]'))
    event = _next_file_change(events, before + 1)
    assert project.core.storage.revision() >= event.revision
    assert [t["title"] for t in project.core.list_tasks().value.tasks] == ["vim"]


def test_delete_and_recreate_is_announced(watched) -> None:
    project, events = watched
    content = project.paths.tasks_file.read_bytes()
    before = project.core.revision()
    os.unlink(project.paths.tasks_file)
    time.sleep(0.05)
    project.paths.tasks_file.write_bytes(content.replace(b'"tasks": []', b'"tasks": [{"id": 1}]'))
    assert _next_file_change(events, before + 1).revision > before


def test_own_commits_are_announced_once_by_the_facade_not_the_watcher(watched) -> None:
    project, events = watched
    for i in range(20):
        project.core.execute(AddTask(values={"title": f"mine {i}"}))
    time.sleep(0.3)  # give the watcher time to (wrongly) announce our own renames
    kinds = []
    while not events.empty():
        kinds.append(events.get_nowait().kind)
    assert kinds == [TASK_CREATED] * 20


def test_the_watcher_starts_lazily_and_leaves_no_thread(tmp_path: Path) -> None:
    baseline = threading.active_count()
    project, _ = init_project(tmp_path)
    project.core.execute(AddTask(values={"title": "no watcher needed"}))
    assert threading.active_count() == baseline
    watcher = project.core.watch()
    assert watcher.running and threading.active_count() > baseline
    assert project.core.watch() is watcher  # idempotent
    project.close()
    deadline = time.monotonic() + WAIT
    while threading.active_count() > baseline and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == baseline


def test_a_symlinked_task_file_is_watched_where_it_really_lives(tmp_path: Path) -> None:
    init_project(tmp_path)[0].close()
    link = tmp_path / ".taskmaster" / "tasks.json"
    shared = tmp_path / "shared"
    shared.mkdir()
    link.rename(shared / "tasks.json")
    link.with_name("tasks.json.tm-rev").unlink()
    link.symlink_to(shared / "tasks.json")
    project = open_project(tmp_path)
    events: queue.Queue[Event] = queue.Queue()
    project.core.bus.subscribe(events.put)
    project.core.watch()
    try:
        # Another writer naming the real file: its rename happens in `shared`, not beside the link.
        revision = FileStorage(shared / "tasks.json").transact(_add("elsewhere")).revision
        assert _next_file_change(events, revision).revision == revision
    finally:
        project.close()


def test_a_stale_write_back_is_announced_as_a_reversion(watched) -> None:
    project, events = watched
    path = project.paths.tasks_file
    project.core.execute(AddTask(values={"title": "one"}))
    stale = path.read_bytes()  # another program reads, then we commit, then it writes back
    ours = project.core.execute(AddTask(values={"title": "two"})).revision
    temporary = path.with_name(path.name + ".tmp.99")
    temporary.write_bytes(stale)
    os.replace(temporary, path)
    deadline = time.monotonic() + WAIT
    while True:
        event = events.get(timeout=max(0.01, deadline - time.monotonic()))
        if event.kind == CHANGE_REVERTED:
            break
    assert event.reverts == (ours,)
    assert event.ids == ("2",) and event.changes == (("master", "2", None),)
    assert Event.from_dict(event.to_dict()) == event  # as it travels over Redis and SSE
