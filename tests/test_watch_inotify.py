"""Linux's event source: inotify read by one thread, passing on only the task file's events.

On real directories and files, except where the kernel cannot be made to do it on demand (an
overflowing event queue), which is fed to the reading code as the kernel would report it."""

from __future__ import annotations

import errno
import os
import queue
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

if sys.platform != "linux":
    pytest.skip("inotify is Linux's", allow_module_level=True)

from inotify_simple import Event, flags

from taskmaster.compose import init_project
from taskmaster.events import FILE_CHANGED
from taskmaster.storage import watch
from taskmaster.storage.base import Draft
from taskmaster.storage.file import FileStorage
from taskmaster.storage.watch_inotify import InotifySource, kind_of

WAIT = 5.0


@pytest.fixture
def task_file(tmp_path: Path) -> Path:
    path = tmp_path / "tasks.json"
    path.write_bytes(b'{"master": {"tasks": []}}')
    return path


@pytest.fixture
def delivered(task_file: Path) -> Iterator[tuple[InotifySource, queue.Queue[str]]]:
    kinds: queue.Queue[str] = queue.Queue()
    source = InotifySource(task_file, kinds.put)
    source.start()
    yield source, kinds
    source.stop()


def _kinds(kinds: queue.Queue[str], count: int) -> list[str]:
    """The next `count` delivered kinds, then a short wait to show that no more arrive."""
    got = [kinds.get(timeout=WAIT) for _ in range(count)]
    time.sleep(0.05)
    while not kinds.empty():
        got.append(kinds.get_nowait())
    return got


def test_only_the_task_files_own_events_are_passed_on(task_file: Path, delivered) -> None:
    _, kinds = delivered
    (task_file.parent / "notes.md").write_text("a neighbour")  # created and closed: not ours
    (task_file.parent / "tasks.json.lock").touch()
    temporary = task_file.with_name(".tasks.json.tmp")
    temporary.write_bytes(b'{"master": {"tasks": []}}')
    os.replace(temporary, task_file)
    assert _kinds(kinds, 1) == ["moved"]
    with open(task_file, "r+b") as handle:  # an editor writing in place
        handle.write(b"{ }")
    assert _kinds(kinds, 1) == ["closed"]
    task_file.unlink()
    assert _kinds(kinds, 1) == ["deleted"]
    task_file.write_bytes(b"{}")
    assert _kinds(kinds, 2) == ["created", "closed"]
    os.rename(task_file, task_file.with_name("elsewhere.json"))
    assert _kinds(kinds, 1) == ["moved"]


def test_of_a_commits_events_one_reaches_the_watcher(
    tmp_path: Path, task_file: Path, delivered
) -> None:
    _, kinds = delivered
    storage = FileStorage(task_file)

    def add(draft: Draft) -> None:
        draft.document.tasks("master").append({"id": 1, "title": "t"})

    storage.transact(add)
    assert _kinds(kinds, 1) == ["moved"]


def test_its_directory_removed_ends_the_watch(tmp_path: Path) -> None:
    directory = tmp_path / "project"
    directory.mkdir()
    kinds: queue.Queue[str] = queue.Queue()
    source = InotifySource(directory / "tasks.json", kinds.put)
    source.start()
    assert source.running
    shutil.rmtree(directory)
    deadline = time.monotonic() + WAIT
    while source.running and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not source.running  # reported as such: `GET /api/v1/health` says `watcher: false`
    source.stop()


def test_stop_joins_its_thread_and_closes_what_it_opened(task_file: Path) -> None:
    before = set(os.listdir("/proc/self/fd"))
    source = InotifySource(task_file, lambda kind: None)
    source.start()
    assert len(set(os.listdir("/proc/self/fd")) - before) == 3  # inotify, and a wake-up pipe
    source.stop()
    assert not source.running
    assert set(os.listdir("/proc/self/fd")) <= before
    source.stop()  # idempotent


def test_a_failing_handler_does_not_deafen_it(task_file: Path) -> None:
    kinds: queue.Queue[str] = queue.Queue()

    def deliver(kind: str) -> None:
        kinds.put(kind)
        if kinds.qsize() == 1:
            raise RuntimeError("a bug in handling the first event")

    source = InotifySource(task_file, deliver)
    source.start()
    try:
        task_file.write_bytes(b"{ }")
        assert kinds.get(timeout=WAIT) == "closed"
        task_file.write_bytes(b"{  }")
        assert kinds.get(timeout=WAIT) == "closed"
        assert source.running
    finally:
        source.stop()


def test_an_overflowing_queue_is_taken_as_a_change_of_the_file(task_file: Path) -> None:
    kinds: list[str] = []
    source = InotifySource(task_file, kinds.append)
    overflow = Event(wd=-1, mask=flags.Q_OVERFLOW, cookie=0, name="")
    neighbour = Event(wd=1, mask=flags.CLOSE_WRITE, cookie=0, name="notes.md")
    assert source._pass_on([neighbour, overflow]) is True
    assert kinds == ["closed"]  # the watcher gives the file a new revision on "closed"


def test_the_kinds_of_the_kernels_masks() -> None:
    assert kind_of(flags.CLOSE_WRITE) == "closed"
    assert kind_of(flags.MOVED_TO) == kind_of(flags.MOVED_FROM) == "moved"
    assert kind_of(flags.CREATE) == "created"
    assert kind_of(flags.DELETE) == "deleted"
    assert kind_of(flags.CREATE | flags.ISDIR) == "created"
    assert kind_of(flags.ATTRIB) is None


def test_a_watcher_falls_back_to_watchdog_when_inotify_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: InotifySource) -> None:
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(watch, "USE_INOTIFY", True)
    monkeypatch.setattr(InotifySource, "start", refuse)
    project, _ = init_project(tmp_path)
    events: queue.Queue[object] = queue.Queue()
    project.core.bus.subscribe(events.put)
    try:
        watcher = project.core.watch()
        assert type(watcher._source).__name__ == "WatchdogSource"  # type: ignore[attr-defined]
        assert watcher.running

        def add(draft: Draft) -> None:
            draft.document.tasks("master").append({"id": 1, "title": "from elsewhere"})

        revision = FileStorage(project.paths.tasks_file).transact(add).revision
        deadline = time.monotonic() + WAIT
        while True:
            event = events.get(timeout=max(0.01, deadline - time.monotonic()))
            if getattr(event, "kind", None) == FILE_CHANGED:
                break
        assert getattr(event, "revision", None) == revision
    finally:
        project.close()


def test_on_linux_a_watcher_reads_inotify_itself(tmp_path: Path) -> None:
    project, _ = init_project(tmp_path)
    try:
        watcher = project.core.watch()
        assert type(watcher._source).__name__ == "InotifySource"  # type: ignore[attr-defined]
    finally:
        project.close()


def test_a_handler_failing_on_an_overflow_does_not_stop_the_batch(task_file: Path) -> None:
    kinds: list[str] = []

    def deliver(kind: str) -> None:
        kinds.append(kind)
        if len(kinds) == 1:
            raise RuntimeError("a bug in handling the overflow")

    source = InotifySource(task_file, deliver)
    overflow = Event(wd=-1, mask=flags.Q_OVERFLOW, cookie=0, name="")
    replaced = Event(wd=1, mask=flags.MOVED_TO, cookie=7, name="tasks.json")
    assert source._pass_on([overflow, replaced]) is True
    assert kinds == ["closed", "moved"]
