"""`tm` and the real task-master-ai 0.43.1 on one project: they take turns on `tasks.json.lock`.

The reference tool is the real program, installed by `.ci/reference-tool` (npm) into the user's
cache; without it these tests are skipped, unless TM_REQUIRE_REFERENCE_TOOL=1 (CI), which fails
them. Each of its runs takes a few seconds (Node starting up), so there are few of them.

To make the reference meet a held lock every time, the test holds a `tm` transaction open from
before the tool starts until the tool has *read* the task file (seen with inotify: the tool reads
outside its lock, then locks), and half a second longer: the tool then finds the lock held and
waits (its retries span about 2.5 s).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

from harness import reference_tool
from taskmaster.storage import Draft
from taskmaster.storage.file import FileStorage
from taskmaster.storage.reference_lock import STALE_AFTER, inspect, reference_lock_path

IN_OPEN = 0x20


@pytest.fixture(scope="module")
def task_master() -> Path:
    program = reference_tool.ensure_installed()
    if program is None:
        if reference_tool.required():
            pytest.fail(f"{reference_tool.MISSING}, and {reference_tool.REQUIRE_ENV}=1 requires it")
        pytest.skip(f"{reference_tool.MISSING}; set {reference_tool.REQUIRE_ENV}=1 to fail instead")
    return program


def make_project(root: Path) -> Path:
    """A project in the reference tool's layout: tasks 1 and 2 in master, 1 in feature."""

    def task(task_id: int, title: str) -> dict[str, object]:
        return {
            "id": task_id,
            "title": title,
            "description": "",
            "details": "",
            "testStrategy": "",
            "status": "pending",
            "dependencies": [],
            "priority": "medium",
            "subtasks": [],
        }

    document = {
        "master": {"tasks": [task(1, "one"), task(2, "two")], "metadata": {}},
        "feature": {"tasks": [task(1, "feature one")], "metadata": {}},
    }
    path = reference_tool.reference_tasks_file(root)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
    (root / ".taskmaster" / "state.json").write_text('{"currentTag": "master"}\n')
    return path


class OpenWatch:
    """inotify: tells when some process opens a file (the reference reading the task file)."""

    def __init__(self, path: Path) -> None:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        self.fd = libc.inotify_init1(os.O_CLOEXEC)
        if self.fd < 0:
            pytest.skip("no inotify here")
        if libc.inotify_add_watch(self.fd, str(path).encode(), IN_OPEN) < 0:
            os.close(self.fd)
            pytest.skip("cannot watch the task file with inotify")

    def wait_open(self, timeout: float) -> bool:
        import select

        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return False
        data = os.read(self.fd, 4096)
        _, mask, _, _ = struct.unpack_from("iIII", data)
        return bool(mask & IN_OPEN)

    def close(self) -> None:
        os.close(self.fd)


def run_reference(argv: list[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        argv,
        cwd=cwd,
        env=reference_tool.reference_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def hold_tm_transaction_while(
    path: Path, reference_argv: list[str], root: Path
) -> tuple[subprocess.Popen[str], str, float, float]:
    """Run the reference while a `tm` transaction holds both locks; the transaction writes the
    feature tag (which the reference, writing master from its own copy, must keep) and ends half
    a second after the reference read the task file. Returns the reference process (exited),
    its output, and when our transaction committed and when the reference's write landed."""
    storage = FileStorage(path, lock_timeout=30)
    held = threading.Event()
    go = threading.Event()
    committed: list[float] = []

    def operation(draft: Draft) -> None:
        held.set()
        assert go.wait(30)
        for task in draft.document.tasks("feature"):
            task["title"] = "written by tm"

    def writer() -> None:
        storage.transact(operation)
        committed.append(time.time())

    thread = threading.Thread(target=writer)
    thread.start()
    assert held.wait(10)
    assert inspect(path).kind == "file" and inspect(path).pid == os.getpid()
    watch = OpenWatch(path)
    try:
        reference = run_reference(reference_argv, root)
        assert watch.wait_open(30), "the reference tool never read the task file"
    finally:
        watch.close()
    time.sleep(0.5)  # the reference is in its retry loop now: the lock is ours
    inode = os.stat(path).st_ino
    go.set()
    thread.join(10)
    assert committed
    ours = os.stat(path).st_ino
    assert ours != inode  # our rename
    landed = 0.0
    while reference.poll() is None:
        if not landed and os.stat(path).st_ino != ours:
            landed = time.time()
        time.sleep(0.002)
    if not landed and os.stat(path).st_ino != ours:
        landed = time.time()
    output = reference.stdout.read() if reference.stdout else ""
    return reference, output, committed[0], landed


def document(path: Path) -> dict[str, object]:
    data = json.loads(path.read_text())
    assert isinstance(data, dict)
    return data


def test_reference_core_set_status_waits_for_a_tm_write_then_keeps_it(
    task_master: Path, tmp_path: Path
) -> None:
    """set-status runs through the reference's core (proper-lockfile, a directory)."""
    path = make_project(tmp_path)
    argv = reference_tool.set_status_argv(task_master, tmp_path, 2, "done")
    reference, output, committed, landed = hold_tm_transaction_while(path, argv, tmp_path)
    assert reference.returncode == 0, output
    assert landed >= committed  # its write came after ours, never inside our transaction
    data = document(path)
    master = {str(t["id"]): t for t in data["master"]["tasks"]}  # type: ignore[index]
    feature = data["feature"]["tasks"]  # type: ignore[index]
    assert master["2"]["status"] == "done"
    assert feature[0]["title"] == "written by tm"  # re-read under the lock: ours kept
    assert not reference_lock_path(path).exists()


def test_reference_legacy_write_waits_for_a_tm_write_then_keeps_it(
    task_master: Path, tmp_path: Path
) -> None:
    """add-dependency runs through the reference's legacy `writeJSON` (an exclusive file)."""
    path = make_project(tmp_path)
    argv = [str(task_master), "add-dependency", "--id=2", "--depends-on=1", "-f", str(path)]
    reference, output, committed, landed = hold_tm_transaction_while(path, argv, tmp_path)
    assert reference.returncode == 0, output
    assert landed >= committed
    data = document(path)
    master = {str(t["id"]): t for t in data["master"]["tasks"]}  # type: ignore[index]
    assert [str(d) for d in master["2"]["dependencies"]] == ["1"]
    assert data["feature"]["tasks"][0]["title"] == "written by tm"  # type: ignore[index]
    assert not reference_lock_path(path).exists()


def test_tm_waits_for_the_lock_the_reference_core_holds(tmp_path: Path) -> None:
    """The reference's core holds a directory (made with mkdir, as proper-lockfile does): a
    real `tm` process waits for it and writes once it is gone."""
    from harness.targets import tm_executable

    path = make_project(tmp_path)
    lock = reference_lock_path(path)
    lock.mkdir()
    started = time.monotonic()
    tm = subprocess.Popen(
        [tm_executable(), "--project", str(tmp_path), "update-task", "1", "--title", "after"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    time.sleep(1.0)
    assert tm.poll() is None  # still waiting
    lock.rmdir()
    out, _ = tm.communicate(timeout=20)
    assert tm.returncode == 0, out
    assert time.monotonic() - started >= 1.0
    master = document(path)["master"]["tasks"]  # type: ignore[index]
    assert master[0]["title"] == "after"


def test_a_stale_file_left_by_a_killed_tm_is_taken_over_by_the_legacy_path_only(
    task_master: Path, tmp_path: Path
) -> None:
    """What a SIGKILLed `tm` leaves, as both reference code paths see it once it is stale: the
    legacy path takes it over, the core (rmdir) cannot remove a file and gives up."""
    path = make_project(tmp_path)
    lock = reference_lock_path(path)
    lock.write_text(json.dumps({"pid": 999_999_999, "timestamp": 1}))
    old = time.time() - STALE_AFTER - 5
    os.utime(lock, (old, old))
    core = subprocess.run(
        reference_tool.set_status_argv(task_master, tmp_path, 1, "done"),
        cwd=tmp_path,
        env=reference_tool.reference_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert core.returncode != 0
    assert lock.is_file()
    legacy = subprocess.run(
        [str(task_master), "add-dependency", "--id=2", "--depends-on=1", "-f", str(path)],
        cwd=tmp_path,
        env=reference_tool.reference_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert legacy.returncode == 0, legacy.stdout + legacy.stderr
    assert not lock.exists()
    assert list(path.parent.glob("*.stale.*")) == []
