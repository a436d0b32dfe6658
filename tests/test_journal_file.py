"""The file journal's crash resolution and outside changes, with writers really killed.

Each crash is a `tm`-library process that runs a real set-status on the project and SIGKILLs
itself at one moment of the commit: while appending its entry line, after the entry line and
before the rename, after the rename and before the commit line. The next reader and writer
must then agree with the task file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from taskmaster.commands import AddTask, SetStatus
from taskmaster.core import TaskMaster
from taskmaster.journal import file as journal_file
from taskmaster.journal.file import JOURNAL_SUFFIX, LAST_SUFFIX
from taskmaster.model import Document, TaskId
from taskmaster.storage import ProjectState
from taskmaster.storage.file import FileStorage

# Where the child kills itself: a patch of one step of the commit.
KILL = {
    "mid-entry-line": """
        from taskmaster.journal import file as journal_file
        real = journal_file.FileJournal._append
        def torn(self, data, *, sync=False):
            if b'"entry"' in data:
                with open(self.path, "ab") as handle:
                    handle.write(data[: len(data) // 2])
                os.kill(os.getpid(), signal.SIGKILL)
            return real(self, data, sync=sync)
        journal_file.FileJournal._append = torn
    """,
    "before-rename": """
        from taskmaster.storage.file import FileStorage
        FileStorage._write_locked = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
    """,
    "before-commit-line": """
        from taskmaster.journal.file import FileJournal
        FileJournal.finish = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
    """,
}


def killed_write(path: Path, moment: str, status: str = "done") -> None:
    """A process that sets task 1's status on the task file at `path`, killed at `moment`."""
    script = textwrap.dedent(
        """
        import os, signal, sys
        from taskmaster.commands import SetStatus
        from taskmaster.core import TaskMaster
        from taskmaster.model import TaskId
        from taskmaster.storage.file import FileStorage
        """
    )
    script += textwrap.dedent(KILL[moment])
    script += textwrap.dedent(
        f"""
        facade = TaskMaster(FileStorage(sys.argv[1]))
        facade.execute(SetStatus(ids=(TaskId(1),), status={status!r}))
        print("not killed")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == -signal.SIGKILL, (done.returncode, done.stdout, done.stderr)


def two_tasks(storage: FileStorage) -> TaskMaster:
    """A new project in `storage` with tasks "one" and "two", each written by its own commit."""
    storage.create(Document.empty(), ProjectState())
    facade = TaskMaster(storage)
    facade.execute(AddTask(values={"title": "one"}))
    facade.execute(AddTask(values={"title": "two"}))
    return facade


@pytest.fixture
def project(tmp_path: Path) -> Iterator[TaskMaster]:
    facade = two_tasks(FileStorage(tmp_path / "tasks.json"))
    yield facade
    facade.close()


def journal_of(facade: TaskMaster) -> Path:
    path = Path(facade.storage.path)  # type: ignore[attr-defined]
    return path.with_name(path.name + JOURNAL_SUFFIX)


def records(facade: TaskMaster) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in journal_of(facade).read_bytes().splitlines()]


def status_of(facade: TaskMaster, number: int) -> str:
    return str(facade.snapshot().document.tasks("master")[number - 1].get("status"))


def task_changes(entry: dict[str, object]) -> list[tuple[object, ...]]:
    """The entry's changes of tasks (not the tag's `updated` stamp)."""
    changes = entry["changes"]
    assert isinstance(changes, list)
    return [
        (c["id"], c["field"], c.get("before"), c.get("after"))
        for c in changes
        if c["id"] is not None
    ]


def revisions(facade: TaskMaster) -> list[int]:
    return [entry["revision"] for entry in facade.history().value]


def test_a_writer_killed_mid_entry_line_leaves_a_torn_line_that_is_cut(
    project: TaskMaster,
) -> None:
    before, kept = project.revision(), revisions(project)
    killed_write(Path(project.storage.path), "mid-entry-line")  # type: ignore[attr-defined]
    assert not journal_of(project).read_bytes().endswith(b"\n")  # torn
    assert status_of(project, 1) == "pending" and project.revision() == before
    assert revisions(project) == kept  # readers skip the torn line
    commit = project.execute(SetStatus(ids=(TaskId(2),), status="done"))
    assert revisions(project) == [*kept, commit.revision]
    raw = journal_of(project).read_bytes()
    assert raw.endswith(b"\n")
    assert all(isinstance(r, dict) for r in records(project))  # every line whole again


def test_an_entry_without_its_rename_is_ignored_by_readers_and_cut_by_the_next_writer(
    project: TaskMaster,
) -> None:
    before, kept = project.revision(), revisions(project)
    killed_write(Path(project.storage.path), "before-rename")  # type: ignore[attr-defined]
    # The entry line is there, whole, but the task file never changed.
    assert sum("entry" in r for r in records(project)) == 3
    assert status_of(project, 1) == "pending" and project.revision() == before
    assert revisions(project) == kept
    commit = project.execute(SetStatus(ids=(TaskId(2),), status="blocked"))
    entries = project.history().value
    assert revisions(project) == [*kept, commit.revision]
    assert task_changes(entries[-1]) == [("2", "status", "pending", "blocked")]
    # Cut, not only skipped: no entry of task 1's status remains anywhere in the file.
    assert sum("entry" in r for r in records(project)) == 3
    assert b'"after":"done"' not in journal_of(project).read_bytes()


def test_a_rename_without_its_commit_line_counts_at_the_right_revision(
    project: TaskMaster,
) -> None:
    before, kept = project.revision(), revisions(project)
    killed_write(Path(project.storage.path), "before-commit-line")  # type: ignore[attr-defined]
    assert status_of(project, 1) == "done"
    committed = project.revision()
    assert committed > before
    assert "entry" in records(project)[-1]  # no commit line after it
    # Readers count it, at the task file's revision.
    entries = project.history().value
    assert [e["revision"] for e in entries] == [*kept, committed]
    assert task_changes(entries[-1]) == [("1", "status", "pending", "done")]
    # The next writer appends the missing commit line before its own entry.
    commit = project.execute(SetStatus(ids=(TaskId(2),), status="done"))
    assert revisions(project) == [*kept, committed, commit.revision]
    lines = records(project)
    assert {"commit": committed, "sha": lines[-4]["sha"]} == lines[-3]


def test_an_editors_change_becomes_an_external_entry_with_its_differences(
    project: TaskMaster,
) -> None:
    path = Path(project.storage.path)  # type: ignore[attr-defined]
    data = orjson.loads(path.read_bytes())
    data["master"]["tasks"][1]["title"] = "two, edited"
    data["master"]["tasks"][0]["priority"] = "low"
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))  # in place, as an editor
    edited = project.revision()
    project.execute(SetStatus(ids=(TaskId(1),), status="done"))
    entries = project.history().value
    external, ours = entries[-2], entries[-1]
    assert external["kind"] == "external" and external["actor"] == "outside"
    assert "command" not in external and "unknown" not in external
    assert external["revision"] == edited
    places = {(c["id"], c["field"]): (c.get("before"), c.get("after")) for c in external["changes"]}
    assert places == {("2", "title"): ("two", "two, edited"), ("1", "priority"): ("medium", "low")}
    assert ours["revision"] > edited and ours["command"] == "set-status"


def test_an_editors_change_after_a_lost_copy_is_an_external_entry_marked_unknown(
    project: TaskMaster,
) -> None:
    path = Path(project.storage.path)  # type: ignore[attr-defined]
    os.remove(path.with_name(path.name + LAST_SUFFIX))
    data = orjson.loads(path.read_bytes())
    data["master"]["tasks"][1]["title"] = "two, edited"
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    project.execute(SetStatus(ids=(TaskId(1),), status="done"))
    external = project.history().value[-2]
    assert external["kind"] == "external"
    assert external["unknown"] and external["changes"] == []


@pytest.fixture
def kept_large(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TaskMaster]:
    """A server's project (the document kept) whose every commit counts as large: its hash
    and its copy are made on the journal's worker thread, as at 10,000 tasks."""
    monkeypatch.setattr(journal_file, "LARGE_COMMIT_BYTES", 0)
    facade = two_tasks(FileStorage(tmp_path / "tasks.json", keep_document=True))
    yield facade
    facade.close()


def test_a_copy_made_on_the_worker_is_the_last_commit(kept_large: TaskMaster) -> None:
    path = Path(kept_large.storage.path)  # type: ignore[attr-defined]
    kept_large.execute(SetStatus(ids=(TaskId(2),), status="review"))
    assert path.with_name(path.name + LAST_SUFFIX).read_bytes() == path.read_bytes()
    data = orjson.loads(path.read_bytes())
    data["master"]["tasks"][0]["title"] = "one, edited"
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    kept_large.execute(SetStatus(ids=(TaskId(1),), status="done"))
    external = kept_large.history().value[-2]
    assert external["kind"] == "external" and "unknown" not in external
    assert task_changes(external) == [("1", "title", "one", "one, edited")]
    assert records(kept_large)[-1]["sha"] == journal_file.sha_of(path.read_bytes())


def test_a_commit_failing_after_its_copy_puts_the_last_commits_copy_back(
    kept_large: TaskMaster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copy is written while the task file is: a commit that fails at its rename must not
    leave its own bytes as the before of the next outside change."""
    path = Path(kept_large.storage.path)  # type: ignore[attr-defined]
    before = path.read_bytes()

    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr("taskmaster.storage.atomic.os.replace", full_disk)
        with pytest.raises(OSError):
            kept_large.execute(SetStatus(ids=(TaskId(1),), status="done"))
    assert path.read_bytes() == before
    data = orjson.loads(before)
    data["master"]["tasks"][1]["title"] = "two, edited"
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    kept_large.execute(SetStatus(ids=(TaskId(2),), status="done"))
    external = kept_large.history().value[-2]
    assert external["kind"] == "external" and "unknown" not in external
    assert task_changes(external) == [("2", "title", "two", "two, edited")]
    assert status_of(kept_large, 1) == "pending" and status_of(kept_large, 2) == "done"


def test_a_writer_killed_after_its_copy_leaves_an_outside_change_unknown_not_wrong(
    kept_large: TaskMaster,
) -> None:
    """Killed between the copy and the rename (here: the copy of a commit that never
    happened left in place), the next outside change is journaled as unknown."""
    path = Path(kept_large.storage.path)  # type: ignore[attr-defined]
    data = orjson.loads(path.read_bytes())
    data["master"]["tasks"][0]["status"] = "done"  # what the killed commit would have written
    path.with_name(path.name + LAST_SUFFIX).write_bytes(
        orjson.dumps(data, option=orjson.OPT_INDENT_2)
    )
    data["master"]["tasks"][1]["title"] = "two, edited"
    data["master"]["tasks"][0]["status"] = "pending"
    path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    kept_large.execute(SetStatus(ids=(TaskId(2),), status="done"))
    external = kept_large.history().value[-2]
    assert external["kind"] == "external"
    assert external["unknown"] and external["changes"] == []


def test_a_reader_never_cuts_a_line_a_writer_is_appending(tmp_path: Path) -> None:
    """Only a writer under the lock may cut a torn last line: without the lock, the half line
    may be an entry being written right now (the watcher asks `last_revision` unlocked)."""
    from taskmaster.journal.file import FileJournal

    journal = FileJournal(tmp_path / "tasks.json")
    committed = b'{"base":1,"sha":"aa","entry":{"kind":"command"}}\n{"commit":2,"sha":"aa"}\n'
    half = b'{"base":2,"sha":"bb","entry":{"ki'
    journal.path.write_bytes(committed + half)
    assert journal.last_revision() == 2
    assert journal.path.read_bytes() == committed + half
    assert journal.entries() == [{"kind": "command", "revision": 2}]
    assert journal.path.read_bytes() == committed + half


def test_the_journal_compacts_itself_past_twice_its_retention(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from taskmaster.journal import file as journal_file

    monkeypatch.setattr(journal_file, "_CHECK_EVERY_BYTES", 1)  # count after every commit
    storage = FileStorage(tmp_path / "tasks.json", journal_keep=5)
    storage.create(Document.empty(), ProjectState())
    facade = TaskMaster(storage)
    other = FileStorage(tmp_path / "tasks.json", journal_keep=5)  # another process's handle
    for number in range(40):
        facade.execute(AddTask(values={"title": f"task {number}"}))
        if number == 17:
            other.compact_journal(keep=3)  # replaced under the first one's feet
        held = storage.journal_stats()["entries"]
        assert held <= 2 * 5, (number, held)
    assert len(facade.history().value) >= 5
    facade.close()
    other.close()
