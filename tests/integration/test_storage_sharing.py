"""Every name of a task file shares one lock; reading needs neither the lock nor write access.

Real processes on real files: writers through a symlink and through the real path, a lock
holder whose lock files are deleted, readers without write permission, an outside edit while a
writer holds the lock.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest

from taskmaster.errors import HardLinkedTaskFile, LockTimeout
from taskmaster.model import Document
from taskmaster.storage import ProjectState
from taskmaster.storage.file import FileStorage
from tests.test_storage import hold_lock

pytestmark = pytest.mark.slow

TM = str(Path(sys.executable).with_name("tm"))
HANG_DEADLINE = 120

WRITER = textwrap.dedent(
    """
    import sys
    from taskmaster.storage.file import FileStorage
    storage = FileStorage(sys.argv[1], lock_timeout=60)
    name, count = sys.argv[2], int(sys.argv[3])
    print("ready", flush=True)
    sys.stdin.readline()  # every writer starts at once
    for n in range(count):
        def add(draft, title=f"{name}-{n}"):
            document = draft.document
            tasks = document.tasks("master")
            tasks.append({"id": document.next_task_id("master"), "title": title})
        if storage.transact(add).changed:
            print(f"{name}-{n}", flush=True)  # acknowledged
    """
)


def _titles(path: Path) -> list[str]:
    return [task["title"] for task in orjson.loads(path.read_bytes())["master"]["tasks"]]


def test_writers_through_a_symlink_and_through_the_real_path_lose_nothing(tmp_path: Path) -> None:
    real = tmp_path / "real" / "tasks.json"
    real.parent.mkdir()
    FileStorage(real).create(Document.empty(), ProjectState())
    link = tmp_path / "elsewhere" / "tasks.json"
    link.parent.mkdir()
    link.symlink_to(real)
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), f"{label}{i}", "10"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
        for label, path in (("link", link), ("real", real))
    ]
    for writer in writers:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
    for writer in writers:
        assert writer.stdin is not None
        writer.stdin.write("go\n")
        writer.stdin.flush()
    acknowledged: list[str] = []
    for writer in writers:
        out, _ = writer.communicate(timeout=HANG_DEADLINE)
        assert writer.returncode == 0
        acknowledged += out.split()
    assert len(acknowledged) == 80
    assert sorted(_titles(real)) == sorted(acknowledged)
    assert link.is_symlink() and link.resolve() == real
    assert sorted(p.name for p in link.parent.iterdir()) == ["tasks.json"]  # nothing beside it


def test_a_symlinked_project_task_file_stays_a_link_and_tm_dash_f_shares_its_lock(
    tmp_path: Path,
) -> None:
    subprocess.run([TM, "init"], cwd=tmp_path, check=True, capture_output=True)
    link = tmp_path / ".taskmaster" / "tasks.json"
    shared = tmp_path / "shared"
    shared.mkdir()
    link.rename(shared / "tasks.json")
    link.with_name("tasks.json.tm-rev").unlink()
    link.symlink_to(shared / "tasks.json")

    subprocess.run([TM, "add-task", "-t", "through the project"], cwd=tmp_path, check=True)
    assert link.is_symlink()
    assert _titles(shared / "tasks.json") == ["through the project"]

    # A writer holding the lock through the link blocks `tm -f` on the real file, and back.
    holder = hold_lock(link)
    try:
        blocked = subprocess.run(
            [TM, "--lock-timeout", "0.3", "-f", str(shared / "tasks.json"), "add-task", "-t", "x"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
    finally:
        holder.kill()
        holder.wait()
    assert blocked.returncode == 1
    assert "write lock" in blocked.stderr
    subprocess.run([TM, "-f", str(link), "add-task", "-t", "through -f"], cwd=tmp_path, check=True)
    assert link.is_symlink()
    assert _titles(shared / "tasks.json") == ["through the project", "through -f"]


def test_a_hard_linked_task_file_is_read_but_never_written(tmp_path: Path) -> None:
    path = tmp_path / "tasks.json"
    storage = FileStorage(path)
    storage.create(Document.empty(), ProjectState())
    storage.transact(lambda draft: draft.document.tasks("master").append({"id": 1, "title": "a"}))
    other = tmp_path / "copy.json"
    os.link(path, other)
    before = path.read_bytes()
    with pytest.raises(HardLinkedTaskFile, match="hard links"):
        FileStorage(other).transact(lambda draft: draft.document.tasks("master").clear())
    assert path.read_bytes() == before
    assert os.stat(path).st_ino == os.stat(other).st_ino  # still one file
    assert [task["title"] for task in FileStorage(other).read().document.tasks("master")] == ["a"]

    result = subprocess.run(
        [TM, "-f", str(other), "add-task", "-t", "b"], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert "hard links" in result.stderr
    assert path.read_bytes() == before


def test_deleting_the_lock_files_while_the_lock_is_held_does_not_let_a_second_writer_in(
    tmp_path: Path,
) -> None:
    path = tmp_path / "tasks.json"
    FileStorage(path).create(Document.empty(), ProjectState())
    holder = hold_lock(path)
    try:
        # `rm *.lock`-style clean-up: everything but the task file, its revision and state.
        for leftover in tmp_path.iterdir():
            if leftover.name not in {"tasks.json", "tasks.json.tm-rev", "state.json"}:
                leftover.unlink()
        with pytest.raises(LockTimeout):
            FileStorage(path, lock_timeout=0.5).transact(
                lambda draft: draft.document.tasks("master").append({"id": 1, "title": "in"})
            )
    finally:
        holder.kill()
        holder.wait()
    assert _titles(path) == []


def test_an_outside_edit_while_a_writer_holds_the_lock_is_read_without_waiting(
    tmp_path: Path,
) -> None:
    path = tmp_path / "tasks.json"
    writer = FileStorage(path)
    writer.create(Document.empty(), ProjectState())
    before = writer.read().revision
    reader = FileStorage(path, lock_timeout=2)
    holder = hold_lock(path)
    try:
        for title in ("edited", "edited again"):  # an editor saving twice, rename and in place
            data = orjson.dumps({"master": {"tasks": [{"id": 1, "title": title}]}})
            if title == "edited":
                (tmp_path / "editor.tmp").write_bytes(data)
                os.replace(tmp_path / "editor.tmp", path)
            else:
                path.write_bytes(data)
            snapshot = reader.read()  # the old code settled this under the held lock: timeout
            assert [task["title"] for task in snapshot.document.tasks("master")] == [title]
            assert snapshot.revision > before
            assert FileStorage(path).revision() == snapshot.revision  # every reader agrees
            before = snapshot.revision
        shown = subprocess.run(
            [TM, "--lock-timeout", "1", "-f", str(path), "list", "--json"],
            capture_output=True,
            text=True,
        )
        assert shown.returncode == 0, shown.stderr
        assert "edited again" in shown.stdout
    finally:
        holder.kill()
        holder.wait()
    # The writer that comes next records the revision the readers derived, then moves past it.
    commit = writer.transact(lambda draft: draft.document.task("master", 1).update(title="ours"))
    assert commit.revision > before


# reading without write access ------------------------------------------------------------------


@pytest.fixture
def read_only_project() -> Iterator[Path]:
    """A project its reader may read but not write (a read-only mount, or a read-only user)."""
    root = Path(tempfile.mkdtemp(prefix="tm-readonly-"))
    try:
        subprocess.run([TM, "init"], cwd=root, check=True, capture_output=True)
        for title in ("first", "second"):
            subprocess.run([TM, "add-task", "-t", title], cwd=root, check=True, capture_output=True)
        yield root
    finally:
        for directory, _, _ in os.walk(root):
            os.chmod(directory, 0o755)
        shutil.rmtree(root, ignore_errors=True)


def _unwritable(root: Path) -> Callable[[list[str]], list[str]]:
    """How to run a command where it cannot write the project: on a read-only bind mount when
    we are root (root ignores permissions, not EROFS), else on files and directories made
    0444/0555 (done here, at once)."""
    if os.geteuid() == 0 and shutil.which("unshare"):
        script = 'mount --bind -o ro "$0" "$0" && exec "$@"'
        return lambda args: ["unshare", "--mount", "sh", "-c", script, str(root), *args]
    for directory, _, files in os.walk(root):
        for name in files:
            os.chmod(Path(directory) / name, 0o444)
        os.chmod(directory, 0o555)
    return lambda args: args


def _listing(root: Path) -> list[tuple[str, int, int]]:
    return sorted(
        (str(p.relative_to(root)), p.stat().st_mtime_ns, stat.S_IMODE(p.stat().st_mode))
        for p in root.rglob("*")
    )


@pytest.mark.parametrize("disturbance", ["touch", "chmod", "missing sidecar", "copied back"])
def test_a_reader_without_write_access_lists_shows_and_picks_next(
    read_only_project: Path, disturbance: str
) -> None:
    root = read_only_project
    tasks = root / ".taskmaster" / "tasks.json"
    sidecar = root / ".taskmaster" / "tasks.json.tm-rev"
    # Each leaves the sidecar unable to vouch for the file: the old code settled under the lock.
    if disturbance == "touch":
        os.utime(tasks)
    elif disturbance == "chmod":
        tasks.chmod(0o644)
    elif disturbance == "missing sidecar":
        sidecar.unlink()
    else:
        copy = root / "tasks.copy"
        shutil.copy(tasks, copy)
        os.replace(copy, tasks)
    unwritable = _unwritable(root)
    before = _listing(root)
    for args in (["list", "--json"], ["show", "2"], ["next"]):
        result = subprocess.run(
            unwritable([TM, *args]), cwd=root, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, (args, result.stderr)
        assert "first" in result.stdout or "second" in result.stdout
    assert _listing(root) == before  # nothing created, nothing written
