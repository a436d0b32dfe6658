"""The reference tool's lock (`tasks.json.lock`) as `tm` holds it, on real files and directories.

The protocol is task-master-ai's: an exclusive file with pid and time (its legacy code) or a
directory (its core, proper-lockfile), stale 10 s after its mtime. Here each side of it is
played by hand; `tests/integration/test_reference_tool.py` plays it with the real tool.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from taskmaster.errors import LockTimeout
from taskmaster.model import Document
from taskmaster.storage import Draft, ProjectState
from taskmaster.storage import reference_lock as module
from taskmaster.storage.file import FileStorage
from taskmaster.storage.reference_lock import (
    STALE_AFTER,
    hold_reference_lock,
    inspect,
    reference_lock_path,
)
from tests.contract.operations import add_task


@pytest.fixture
def task_file(tmp_path: Path) -> Path:
    path = tmp_path / "tasks.json"
    storage = FileStorage(path)
    storage.create(Document.empty(), ProjectState(None))
    return path


def age(path: Path, seconds: float) -> None:
    """Set `path`'s mtime `seconds` into the past."""
    when = time.time() - seconds
    os.utime(path, (when, when))


def test_a_write_holds_the_file_form_with_our_pid_and_removes_it_after(task_file: Path) -> None:
    seen: dict[str, object] = {}

    def look(draft: Draft) -> None:
        info = inspect(task_file)
        seen.update(kind=info.kind, pid=info.pid, alive=info.pid_alive, stale=info.stale)
        content = json.loads(reference_lock_path(task_file).read_bytes())
        seen["keys"] = sorted(content)
        seen["timestamp_ms"] = content["timestamp"]
        add_task("one")(draft)

    FileStorage(task_file).transact(look)
    assert seen["kind"] == "file"
    assert seen["pid"] == os.getpid()
    assert seen["alive"] is True and seen["stale"] is False
    assert seen["keys"] == ["pid", "timestamp", "tool"]
    assert abs(int(str(seen["timestamp_ms"])) / 1000 - time.time()) < 60
    assert not reference_lock_path(task_file).exists()
    assert inspect(task_file).kind is None


def test_reads_take_no_reference_lock(task_file: Path) -> None:
    lock = reference_lock_path(task_file)
    lock.mkdir()  # held by the reference's core, for ever
    storage = FileStorage(task_file, lock_timeout=0.2)
    assert storage.read().document.tasks("master") == []
    assert storage.revision() >= 0


def test_turned_off_a_write_ignores_the_reference_lock(task_file: Path) -> None:
    lock = reference_lock_path(task_file)
    lock.mkdir()
    storage = FileStorage(task_file, lock_timeout=0.2, reference_lock=False)
    storage.transact(add_task("one"))
    assert lock.is_dir()  # untouched


@pytest.mark.parametrize("kind", ["file", "directory"])
def test_a_fresh_lock_of_either_form_makes_a_write_wait_then_time_out(
    task_file: Path, kind: str
) -> None:
    lock = reference_lock_path(task_file)
    if kind == "file":
        lock.write_text(json.dumps({"pid": os.getpid(), "timestamp": 0}))
    else:
        lock.mkdir()
    before = task_file.read_bytes()
    started = time.monotonic()
    with pytest.raises(LockTimeout) as caught:
        FileStorage(task_file, lock_timeout=0.3).transact(add_task("never"))
    waited = time.monotonic() - started
    assert 0.3 <= waited < 2.0
    message = str(caught.value)
    assert str(lock) in message and kind in message
    if kind == "file":
        assert f"pid {os.getpid()}" in message
        assert caught.value.holder_pid == os.getpid()  # type: ignore[attr-defined]
    assert task_file.read_bytes() == before
    assert lock.exists()  # not ours: never removed


def test_a_write_waits_for_a_fresh_lock_and_goes_on_once_it_is_released(task_file: Path) -> None:
    lock = reference_lock_path(task_file)
    lock.mkdir()
    threading.Timer(0.3, lock.rmdir).start()
    started = time.monotonic()
    FileStorage(task_file, lock_timeout=5).transact(add_task("after"))
    assert time.monotonic() - started >= 0.3
    assert [t["title"] for t in FileStorage(task_file).read().document.tasks("master")] == ["after"]


def test_a_stale_file_is_renamed_away_then_unlinked_as_the_reference_does(
    task_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = reference_lock_path(task_file)
    lock.write_text(json.dumps({"pid": 999_999_999, "timestamp": 1}))
    age(lock, STALE_AFTER + 1)
    renamed: list[tuple[str, str]] = []
    real_rename = os.rename

    def recording_rename(src: str | Path, dst: str | Path) -> None:
        renamed.append((str(src), str(dst)))
        real_rename(src, dst)

    monkeypatch.setattr(module.os, "rename", recording_rename)
    FileStorage(task_file, lock_timeout=1).transact(add_task("taken over"))
    assert len(renamed) == 1
    src, dst = renamed[0]
    assert src == str(lock)
    prefix = f"{lock}.stale.{os.getpid()}."
    assert dst.startswith(prefix) and dst[len(prefix) :].isdigit()
    assert not lock.exists()
    assert list(task_file.parent.glob("*.stale.*")) == []


def test_a_stale_directory_is_removed_as_the_reference_core_does(task_file: Path) -> None:
    lock = reference_lock_path(task_file)
    lock.mkdir()
    age(lock, STALE_AFTER + 1)
    info = inspect(task_file)
    assert (info.kind, info.pid, info.stale, info.pid_alive) == ("directory", None, True, None)
    FileStorage(task_file, lock_timeout=1).transact(add_task("taken over"))
    assert not lock.exists()


def test_a_directory_that_is_not_empty_is_not_removed(task_file: Path) -> None:
    lock = reference_lock_path(task_file)
    lock.mkdir()
    (lock / "something").write_text("not a lock of either tool")
    age(lock, STALE_AFTER + 1)
    with pytest.raises(LockTimeout):
        FileStorage(task_file, lock_timeout=0.2).transact(add_task("never"))
    assert (lock / "something").exists()


def test_a_held_lock_is_refreshed_so_it_never_looks_stale(
    task_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(module, "REFRESH_EVERY", 0.05)
    # A refresher already running waits out its old period first: a fresh one for this test.
    monkeypatch.setattr(module, "_REFRESHER", module._Refresher())
    lock = reference_lock_path(task_file)
    with hold_reference_lock(task_file, 1):
        age(lock, STALE_AFTER + 5)  # as if the write had run for 15 s
        assert inspect(task_file).stale
        deadline = time.monotonic() + 2
        while inspect(task_file).stale and time.monotonic() < deadline:
            time.sleep(0.01)
        info = inspect(task_file)
        assert not info.stale and info.age is not None and info.age < 1
    assert not lock.exists()


def test_release_removes_only_our_own_lock(task_file: Path) -> None:
    lock = reference_lock_path(task_file)
    with hold_reference_lock(task_file, 1):
        # Taken over meanwhile (as if we had stalled past the stale age): someone else's now.
        os.unlink(lock)
        lock.write_text(json.dumps({"pid": 1, "timestamp": 2}))
    assert json.loads(lock.read_text()) == {"pid": 1, "timestamp": 2}
    lock.unlink()
    with hold_reference_lock(task_file, 1):
        os.unlink(lock)
        lock.mkdir()
    assert lock.is_dir()


def test_the_lock_is_released_when_the_transaction_fails(task_file: Path) -> None:
    def fails(draft: Draft) -> None:
        assert reference_lock_path(task_file).exists()
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        FileStorage(task_file).transact(fails)
    assert not reference_lock_path(task_file).exists()


def test_nested_transactions_take_the_lock_once(task_file: Path) -> None:
    storage = FileStorage(task_file, lock_timeout=0.5)
    with storage.locked():
        storage.transact(add_task("one"))
        storage.transact(add_task("two"))
    assert not reference_lock_path(task_file).exists()


def test_a_sigkilled_writer_leaves_a_lock_that_goes_stale_in_10_s(task_file: Path) -> None:
    """What the reference tool sees of a killed `tm`: a file that stops being refreshed, that
    holds it off until 10 s after its last refresh, and that it may then take over."""
    script = textwrap.dedent(
        f"""
        import sys, time
        from taskmaster.storage.file import FileStorage
        def hang(draft):
            print("holding", flush=True)
            time.sleep(60)
        FileStorage({str(task_file)!r}).transact(hang)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "holding"
        info = inspect(task_file)
        assert (info.kind, info.pid, info.pid_alive, info.stale, info.by_tm) == (
            "file",
            child.pid,
            True,
            False,
            True,
        )
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    info = inspect(task_file)
    assert (info.kind, info.pid, info.pid_alive, info.stale) == ("file", child.pid, False, False)
    # A writer of the reference's protocol (not holding our lock) is held off...
    with pytest.raises(LockTimeout, match="no longer running"), hold_reference_lock(task_file, 0.2):
        pass
    # ...until its mtime is 10 s old (waited out for real: nothing refreshes it any more).
    lock = reference_lock_path(task_file)
    mtime = lock.stat().st_mtime
    while time.time() - mtime <= STALE_AFTER:
        time.sleep(0.2)
    assert lock.stat().st_mtime == mtime
    assert inspect(task_file).stale
    with hold_reference_lock(task_file, 1):
        assert inspect(task_file).pid == os.getpid()
    assert not lock.exists()


def test_a_tm_write_takes_over_a_killed_tm_s_lock_at_once(task_file: Path) -> None:
    """Under our own lock, a lock file of ours can only be a killed writer's."""
    lock = reference_lock_path(task_file)
    lock.write_text(json.dumps({"pid": 999_999_999, "timestamp": 1, "tool": "taskmaster"}))
    assert inspect(task_file).by_tm and not inspect(task_file).stale
    started = time.monotonic()
    FileStorage(task_file, lock_timeout=5).transact(add_task("at once"))
    assert time.monotonic() - started < 1
    assert not lock.exists()
    # Without our lock (the reference's point of view) the same file is waited for.
    lock.write_text(json.dumps({"pid": 999_999_999, "timestamp": 1, "tool": "taskmaster"}))
    with pytest.raises(LockTimeout), hold_reference_lock(task_file, 0.2):
        pass


def test_inspect_reports_an_unreadable_pid_as_unknown(task_file: Path) -> None:
    lock = reference_lock_path(task_file)
    lock.write_text("half written")
    info = inspect(task_file)
    assert (info.kind, info.pid, info.pid_alive, info.stale) == ("file", None, None, False)
    assert info.age is not None and info.age < 5


def test_tm_reference_lock_is_read_like_the_other_settings() -> None:
    from taskmaster.config import storage_settings
    from taskmaster.errors import InvalidInput

    assert storage_settings({}) == {}
    assert storage_settings({"TM_REFERENCE_LOCK": " "}) == {}
    assert storage_settings({"TM_REFERENCE_LOCK": "0"}) == {"reference_lock": False}
    assert storage_settings({"TM_REFERENCE_LOCK": "on", "TM_JOURNAL_KEEP": "50"}) == {
        "reference_lock": True,
        "journal_keep": 50,
    }
    with pytest.raises(InvalidInput, match="TM_REFERENCE_LOCK"):
        storage_settings({"TM_REFERENCE_LOCK": "maybe"})


def test_tm_waits_for_the_reference_lock_unless_told_it_never_meets_the_tool(
    tmp_path: Path,
) -> None:
    from tests.test_cli_support import Tm

    tm = Tm.init(tmp_path)
    lock = reference_lock_path(tm.tasks_file)
    lock.mkdir()  # the reference's core holds it
    held = tm("--lock-timeout", "0.2", "add-task", "--title", "waits")
    assert held.exit_code == 1
    assert "reference tool's lock" in held.stderr and str(lock) in held.stderr
    assert tm.tasks() == []
    off = tm("add-task", "--title", "goes", env={"TM_REFERENCE_LOCK": "0"})
    assert off.exit_code == 0, off.stderr
    assert [t["title"] for t in tm.tasks()] == ["goes"]
    bad = tm("add-task", "--title", "x", env={"TM_REFERENCE_LOCK": "maybe"})
    assert bad.exit_code == 2 and "TM_REFERENCE_LOCK" in bad.stderr
