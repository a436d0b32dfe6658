"""The stat that keeps the GIL (`quick_stat.py`) gives the key `os.stat` gives (`stat_key`), and
is used only where that is safe."""

from __future__ import annotations

import ctypes
import errno
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from taskmaster.storage import quick_stat
from taskmaster.storage.quick_stat import held_key, is_local, stat_key_for
from taskmaster.storage.stat_key import key_of, os_key

pytestmark = pytest.mark.skipif(
    quick_stat._statx is None, reason="statx is Linux's (elsewhere os.stat is used)"
)


def _fields(st: os.stat_result) -> tuple[int, ...]:
    """`os.stat`'s answer as a key: the same fields, reached through the stat result."""
    return key_of(st)


def test_a_key_holds_the_stat_fields_the_checks_compare(tmp_path: Path) -> None:
    file = tmp_path / "tasks.json"
    file.write_bytes(b"{}" * 10)
    os.utime(file, ns=(1, 1_234_567_891))
    st = os.stat(file)
    ino, size, c_sec, c_nsec, m_sec, m_nsec, major, minor = key_of(st)
    assert (ino, size) == (st.st_ino, 20)
    assert (m_sec, m_nsec) == (1, 234_567_891)
    assert c_sec * 1_000_000_000 + c_nsec == st.st_ctime_ns
    assert os.makedev(major, minor) == st.st_dev
    assert os_key(os.fsencode(file)) == key_of(st)


def test_it_gives_what_os_stat_gives_for_files_directories_and_links(tmp_path: Path) -> None:
    file = tmp_path / "tasks.json"
    file.write_bytes(b"{}" * 1000)
    os.utime(file, ns=(1, 1_234_567_891))  # nanoseconds and all
    link = tmp_path / "link"
    link.symlink_to(file)
    for path in (file, tmp_path, link):
        assert held_key(os.fsencode(path)) == _fields(os.stat(path))
        assert held_key(str(path)) == _fields(os.stat(path))


def test_a_change_shows_in_the_next_stat(tmp_path: Path) -> None:
    file = tmp_path / "tasks.json"
    file.write_bytes(b"one")
    first = held_key(str(file))
    replacement = tmp_path / "new"
    replacement.write_bytes(b"three")
    os.replace(replacement, file)
    second = held_key(str(file))
    assert second[0] != first[0] and second[1] == 5  # another inode, its size
    assert second == _fields(os.stat(file))


def test_errors_are_the_ones_os_stat_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as missing:
        held_key(str(tmp_path / "missing"))
    assert missing.value.filename == str(tmp_path / "missing")
    file = tmp_path / "file"
    file.write_bytes(b"")
    with pytest.raises(NotADirectoryError):
        os.stat(file / "below")  # what the caller would have seen
    with pytest.raises(OSError) as below:
        held_key(str(file / "below"))
    assert below.value.errno == errno.ENOTDIR


def test_a_statx_refused_by_a_sandbox_falls_back_to_os_stat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(*args: object) -> int:
        ctypes.set_errno(errno.ENOSYS)
        return -1

    file = tmp_path / "tasks.json"
    file.write_bytes(b"{}")
    monkeypatch.setattr(quick_stat, "_statx", refused)
    assert held_key(str(file)) == _fields(os.stat(file))
    with pytest.raises(FileNotFoundError):
        held_key(str(tmp_path / "missing"))  # os.stat's own error, then


def test_threads_each_get_their_own_files_answer(tmp_path: Path) -> None:
    files = []
    for index in range(8):
        file = tmp_path / f"f{index}"
        file.write_bytes(b"x" * index)
        files.append(file)
    wrong: list[Path] = []

    def stat_many(file: Path) -> None:
        expected = _fields(os.stat(file))
        encoded = os.fsencode(file)
        for _ in range(3000):
            if held_key(encoded) != expected:
                wrong.append(file)
                return

    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        threads = [threading.Thread(target=stat_many, args=(file,)) for file in files]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(previous)
    assert wrong == []


def test_only_a_local_file_system_gets_it(tmp_path: Path) -> None:
    assert not is_local("/proc/self")  # procfs: not in the list
    assert stat_key_for("/proc/self") is os_key
    assert stat_key_for(tmp_path) is (held_key if is_local(tmp_path) else os_key)


def test_the_mount_table_decides_by_the_longest_mount_point_above(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = tmp_path / "mountinfo"
    table.write_text(
        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
        "40 22 0:50 / /srv/nfs rw,relatime shared:2 - nfs4 server:/export rw\n"
        "41 22 0:51 / /srv/with\\040space rw shared:3 - tmpfs tmpfs rw\n"
    )
    real_open = open

    def fake_open(path: object, *args: object, **kwargs: object) -> object:
        if path == "/proc/self/mountinfo":
            return real_open(table, *args, **kwargs)  # type: ignore[call-overload]
        return real_open(path, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr("builtins.open", fake_open)
    monkeypatch.setattr(os.path, "realpath", lambda path: str(path))
    assert is_local("/home/project/.taskmaster")
    assert not is_local("/srv/nfs/project/.taskmaster")
    assert not is_local("/srv/nfs")
    assert is_local("/srv/nfsother/.taskmaster")  # a name that only starts like the mount
    assert is_local("/srv/with space/.taskmaster")


def test_a_server_storage_uses_it_and_a_one_shot_command_never_loads_it(tmp_path: Path) -> None:
    from taskmaster.storage.file import FileStorage

    path = tmp_path / "tasks.json"
    server = FileStorage(path, keep_document=True)
    command = FileStorage(path)
    expected = held_key if is_local(tmp_path) else os_key
    assert server._revisions._stat_key is expected and server._state._stat_key is expected
    assert command._revisions._stat_key is os_key and command._state._stat_key is os_key
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, taskmaster.cli, taskmaster.storage.file; "
            "print('ctypes' in sys.modules, 'concurrent.futures' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.split() == ["False", "False"]
