"""FileStorage on real files: atomic writes, corrupt input, revisions, the lock, state.json.

What every backend guarantees is checked for this one too in `tests/contract/`; here is what
only files have: bytes, layout, permissions, sidecars, the directory lock, other programs'
in-place edits.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from taskmaster.errors import CorruptStateFile, CorruptTaskFile, LockTimeout, TaskFileMissing
from taskmaster.model import Document
from taskmaster.storage import Draft, ProjectState
from taskmaster.storage import atomic as atomic_module
from taskmaster.storage.file import FileStorage, lock_path_for
from tests.contract.operations import add_task


def titles(storage: FileStorage) -> list[str]:
    return [task["title"] for task in storage.read().document.tasks("master")]


def test_file_is_written_with_two_space_indentation(store: FileStorage) -> None:
    store.transact(add_task("one"))
    text = store.path.read_text()
    assert text.startswith('{\n  "master": {\n    "tasks": [\n      {\n        "id": 1,')


def test_a_transaction_that_changes_nothing_replaces_no_file(store: FileStorage) -> None:
    files = {path: os.stat(path) for path in (store.path, store.state_path)}
    commit = store.transact(lambda draft: "looked")
    assert (commit.result, commit.changed) == ("looked", False)
    for path, before in files.items():
        after = os.stat(path)
        assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns), path


def test_a_failed_write_leaves_no_temporary_file_and_the_old_content(
    store: FileStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.transact(add_task("keep"))
    before = store.path.read_bytes()

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic_module.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="No space"):
        store.transact(add_task("lost"))
    monkeypatch.undo()
    assert store.path.read_bytes() == before
    assert sorted(p.name for p in store.path.parent.iterdir()) == [
        "state.json",
        "tasks.json",
        "tasks.json.tm-journal",
        "tasks.json.tm-last",
        "tasks.json.tm-rev",
    ]
    # The failed write's journal entry never counts: it never committed.
    assert [e["revision"] for e in store.history()] == [store.revision()]


def test_orphaned_temporary_files_of_killed_writers_are_swept(tmp_path: Path) -> None:
    first = FileStorage(tmp_path / "tasks.json")
    first.create(Document.empty(), ProjectState())
    orphan = tmp_path / ".tasks.json.abc123.tmp"
    orphan.write_text('{"master": {"tas')
    unrelated = tmp_path / ".other.json.abc.tmp"
    unrelated.write_text("x")
    FileStorage(tmp_path / "tasks.json").transact(add_task("one"))
    assert not orphan.exists()
    assert unrelated.exists()


def test_new_file_keeps_the_permissions_of_the_one_it_replaces(store: FileStorage) -> None:
    os.chmod(store.path, 0o640)
    store.transact(add_task("one"))
    assert os.stat(store.path).st_mode & 0o777 == 0o640


def test_the_lock_is_the_directory_and_no_lock_file_is_made(store: FileStorage) -> None:
    assert lock_path_for(store.path) == store.path.parent
    store.transact(add_task("one"))
    assert not (store.path.parent / "tasks.json.lock").exists()  # the reference tool's
    assert sorted(p.name for p in store.path.parent.iterdir()) == [
        "state.json",
        "tasks.json",
        "tasks.json.tm-journal",
        "tasks.json.tm-last",
        "tasks.json.tm-rev",
    ]


def test_unknown_keys_survive_a_transaction(tmp_path: Path) -> None:
    path = tmp_path / "tasks.json"
    original = {
        "x-doc": {"keep": True},
        "master": {
            "tasks": [
                {
                    "id": "1",
                    "title": "a",
                    "custom": [1, 2],
                    "subtasks": [{"id": 1, "title": "s", "weird": None}],
                }
            ],
            "metadata": {"created": "2025-01-01", "extra": "m"},
            "tag-extra": 7,
        },
    }
    path.write_bytes(orjson.dumps(original))
    FileStorage(path).transact(add_task("b"))
    data = orjson.loads(path.read_bytes())
    assert data["x-doc"] == {"keep": True}
    assert data["master"]["tag-extra"] == 7
    assert data["master"]["metadata"]["extra"] == "m"
    first = data["master"]["tasks"][0]
    assert first["id"] == 1  # "1" was normalised
    assert first["custom"] == [1, 2]
    assert first["subtasks"][0]["weird"] is None
    assert list(data) == ["x-doc", "master"]


CORRUPT_FILES = {
    "truncated": (b'{"master": {"tasks": [{"id": 1, "ti', "1:", "unexpected end of data"),
    "empty": (b"", None, "the file is empty"),
    "a list": (b"[1, 2]", None, "expected a JSON object at the top level, found a list"),
    "wrong type in a task": (
        b'{"master": {"tasks": [{"id": 1, "title": 5}]}}',
        None,
        "master.tasks[0]",
    ),
    "string dependencies": (
        b'{"master": {"tasks": [{"id": 1, "dependencies": "2"}]}}',
        None,
        "'dependencies' must be a list",
    ),
    "non-numeric id": (b'{"master": {"tasks": [{"id": "abc"}]}}', None, "'id' must be an integer"),
    "second line error": (b'{\n  "master": {"tasks": [}\n}', "2:", "unexpected character"),
}


@pytest.mark.parametrize("name", list(CORRUPT_FILES))
def test_a_corrupt_file_is_refused_by_every_path_and_never_overwritten(
    tmp_path: Path, name: str
) -> None:
    raw, position, reason = CORRUPT_FILES[name]
    path = tmp_path / "tasks.json"
    path.write_bytes(raw)
    storage = FileStorage(path)
    for attempt in (storage.read, lambda: storage.transact(add_task("x"))):
        with pytest.raises(CorruptTaskFile) as caught:
            attempt()
        message = str(caught.value)
        assert str(path) in message
        assert reason in message
        if position:
            assert f"{path}:{position}" in message
        assert "left unchanged" in message
    assert storage.create(Document.empty(), ProjectState()) == [str(storage.state_path)]
    assert path.read_bytes() == raw


def test_corrupt_error_carries_line_and_column_and_pickles(tmp_path: Path) -> None:
    path = tmp_path / "tasks.json"
    path.write_bytes(b'{\n  "master": {"tasks": [}\n}')
    with pytest.raises(CorruptTaskFile) as caught:
        FileStorage(path).read()
    err = pickle.loads(pickle.dumps(caught.value))
    assert (err.line, err.column) == (2, 24)  # the "}" that closes nothing
    assert isinstance(err, ValueError)


def test_a_missing_file_is_a_clear_error_and_is_not_created(tmp_path: Path) -> None:
    storage = FileStorage(tmp_path / "tasks.json")
    with pytest.raises(TaskFileMissing, match="tm init"):
        storage.read()
    with pytest.raises(TaskFileMissing):
        storage.transact(add_task("x"))
    assert not (tmp_path / "tasks.json").exists()


# revisions --------------------------------------------------------------------------------------


def test_an_external_in_place_edit_gets_a_new_revision(store: FileStorage) -> None:
    store.transact(add_task("aaaa"))
    before = store.revision()
    with open(store.path, "r+b") as handle:  # same inode, same size, like an editor's save
        content = handle.read().replace(b"aaaa", b"bbbb")
        handle.seek(0)
        handle.write(content)
    assert store.revision() > before
    assert titles(store) == ["bbbb"]


def test_same_size_and_mtime_replacements_never_repeat_a_revision(store: FileStorage) -> None:
    """ext4's coarse mtime and inode reuse after rename must not make two contents look alike."""
    stamp = os.stat(store.path).st_mtime_ns
    seen = [store.revision()]
    for i in range(300):
        tmp = store.path.with_name("replacement.json")
        tmp.write_bytes(b'{"master": {"tasks": [{"id": 1, "title": "%03d"}]}}' % (i % 1000))
        os.utime(tmp, ns=(stamp, stamp))
        os.replace(tmp, store.path)
        revision = store.revision()
        assert revision > seen[-1], f"replacement {i} kept revision {revision}"
        seen.append(revision)
        assert titles(store) == [f"{i:03d}"]


def test_a_lost_sidecar_restarts_above_every_earlier_revision(store: FileStorage) -> None:
    before = store.transact(add_task("one")).revision
    (store.path.parent / "tasks.json.tm-rev").write_bytes(b"garbage")
    fresh = FileStorage(store.path)
    assert fresh.revision() > before
    assert fresh.transact(add_task("two")).revision > before


# the lock ---------------------------------------------------------------------------------------

HOLD_LOCK = textwrap.dedent(
    """
    import sys, time
    from taskmaster.storage.file import FileStorage
    storage = FileStorage(sys.argv[1])
    with storage.locked():
        print("held", flush=True)
        time.sleep(float(sys.argv[2]))
    """
)


def hold_lock(path: Path, seconds: float = 60) -> subprocess.Popen[str]:
    """A process holding the write lock of `path` for `seconds`, started and holding."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(path), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_lock_timeout_names_the_lock_file(store: FileStorage) -> None:
    holder = hold_lock(store.path, 30)
    try:
        impatient = FileStorage(store.path, lock_timeout=0.2)
        with pytest.raises(LockTimeout) as caught:
            impatient.transact(add_task("x"))
        assert str(store.lock_path) in str(caught.value)
        assert isinstance(caught.value, TimeoutError)
    finally:
        holder.kill()
        holder.wait()


def test_a_process_killed_while_holding_the_lock_does_not_block_others(
    store: FileStorage,
) -> None:
    holder = hold_lock(store.path, 60)
    holder.kill()
    holder.wait()
    commit = FileStorage(store.path, lock_timeout=2).transact(add_task("after"))
    assert commit.changed
    assert titles(store) == ["after"]


def test_threads_racing_on_a_fresh_storage_share_one_file_lock(
    store: FileStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from taskmaster.storage import lock as lock_module

    made: list[object] = []

    class CountingFileLock(lock_module.DirectoryLock):
        def __init__(self, *args: object, **kwargs: object) -> None:
            made.append(self)
            time.sleep(0.02)  # widen the window in which a second thread could make another
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(lock_module, "DirectoryLock", CountingFileLock)
    fresh = FileStorage(store.path)
    start = threading.Barrier(6)

    def work() -> None:
        start.wait()
        for _ in range(10):
            fresh.transact(add_task("t"))

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 1
    ids = [task["id"] for task in store.read().document.tasks("master")]
    assert ids == list(range(1, 61))


def test_an_operation_that_changes_nothing_does_not_reformat_another_programs_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "tasks.json"
    raw = b'{"master":{"tasks":[{"id":"1","title":"compact, string id"}]}}'
    path.write_bytes(raw)
    storage = FileStorage(path)
    commit = storage.transact(lambda draft: draft.document.task("master", 1)["title"])
    assert commit.result == "compact, string id"
    assert not commit.changed
    assert path.read_bytes() == raw
    storage.transact(add_task("now it changes"))
    assert path.read_bytes().startswith(b'{\n  "master"')  # written in our layout from now on


# state.json: the project state beside the task file -------------------------------------------


def switch_to(tag: str | None) -> Callable[[Draft], None]:
    def operation(draft: Draft) -> None:
        draft.state = ProjectState(tag)

    return operation


def test_create_writes_the_task_file_and_state_json_and_names_what_it_wrote(
    tmp_path: Path,
) -> None:
    storage = FileStorage(tmp_path / "tasks.json")
    created = storage.create(Document.empty(), ProjectState("feature"))
    assert created == [str(tmp_path / "tasks.json"), str(tmp_path / "state.json")]
    assert orjson.loads((tmp_path / "state.json").read_bytes()) == {"currentTag": "feature"}
    tasks = (tmp_path / "tasks.json").read_bytes()
    (tmp_path / "state.json").unlink()
    # Only the missing part is made again; the task file is left exactly as it is.
    assert storage.create(Document({"other": {"tasks": []}}), ProjectState()) == [
        str(tmp_path / "state.json")
    ]
    assert (tmp_path / "tasks.json").read_bytes() == tasks
    assert orjson.loads((tmp_path / "state.json").read_bytes()) == {}


def test_a_change_of_tag_rewrites_state_json_alone_and_keeps_its_other_keys(
    store: FileStorage,
) -> None:
    store.state_path.write_bytes(b'{"currentTag": "master", "migrationNoticeShown": true}')
    tasks = store.path.read_bytes()
    store.transact(switch_to("feature"))
    assert orjson.loads(store.state_path.read_bytes()) == {
        "currentTag": "feature",
        "migrationNoticeShown": True,
    }
    store.transact(switch_to(None))  # names no tag: the key goes, as the reference tool has it
    assert orjson.loads(store.state_path.read_bytes()) == {"migrationNoticeShown": True}
    assert store.path.read_bytes() == tasks


def test_state_json_may_live_elsewhere_and_config_json_gives_the_default_tag(
    tmp_path: Path,
) -> None:
    (tmp_path / "tasks").mkdir()
    config = tmp_path / "config.json"
    config.write_bytes(b'{"global": {"defaultTag": "main"}}')
    storage = FileStorage(
        tmp_path / "tasks" / "tasks.json",
        state_file=tmp_path / "state.json",
        config_file=config,
    )
    storage.create(Document.empty(), ProjectState())
    assert storage.state_path == tmp_path / "state.json"
    assert storage.state() == ProjectState("main")  # state.json names none
    storage.transact(switch_to("feature"))
    assert orjson.loads((tmp_path / "state.json").read_bytes()) == {"currentTag": "feature"}
    assert storage.read().state == ProjectState("feature")  # config.json counts no more


def test_a_corrupt_state_json_is_reported_and_choosing_a_tag_repairs_it(
    store: FileStorage,
) -> None:
    store.state_path.write_bytes(b"{")
    with pytest.raises(CorruptStateFile, match="tm tags use"):
        store.state()
    with pytest.raises(CorruptStateFile):
        store.read()
    assert store.transact(add_task("tasks are fine")).changed  # the operation never asked
    assert store.state_path.read_bytes() == b"{"
    store.transact(switch_to("master"))
    assert store.state() == ProjectState("master")
    assert titles(store) == ["tasks are fine"]


def test_an_outside_edit_of_state_json_is_read(store: FileStorage) -> None:
    store.state_path.write_bytes(b'{"currentTag": "theirs"}')
    assert store.state() == ProjectState("theirs")
    assert FileStorage(store.path).read().state == ProjectState("theirs")


def test_the_key_is_the_real_path_whatever_name_opened_it(store: FileStorage) -> None:
    link = store.path.parent / "link.json"
    link.symlink_to(store.path)
    assert FileStorage(link).key == store.key == f"file:{store.path}"
    assert store.describe() == {"backend": "file", "location": str(store.path)}
