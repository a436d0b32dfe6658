"""The change gate: one poll of an inotify queue stands in for the read checks' stats, so every
change to a watched path must show in it, and a value it keeps must never outlive a change."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from taskmaster.storage.change_gate import ChangeGate, Gated, gate_for
from taskmaster.storage.file import FileStorage

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify: Linux")


def _project(tmp_path: Path) -> tuple[Path, Path]:
    directory = tmp_path / "project" / ".taskmaster"
    directory.mkdir(parents=True)
    watched = directory / "tasks.json"
    watched.write_bytes(b"{}")
    return directory, watched


def _quiet(tmp_path: Path) -> tuple[ChangeGate, Path, Path, int]:
    directory, watched = _project(tmp_path)
    gate = ChangeGate([watched, directory / "state.json"])
    epoch = gate.advance()
    assert epoch is not None and gate.quiet_epoch() == epoch
    return gate, directory, watched, epoch


def _replace(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def _hard_link_write(path: Path, elsewhere: Path) -> None:
    elsewhere.mkdir()
    link = elsewhere / "same-file"
    os.link(path, link)
    with open(link, "r+b") as handle:  # written through the other name only
        handle.write(b"[]")


CHANGES: dict[str, Callable[[Path, Path, Path], None]] = {
    "written in place": lambda d, f, t: f.write_bytes(b'{"a": 1}'),
    "replaced by a rename": lambda d, f, t: _replace(f, b'{"b": 2}'),
    "its mode changed": lambda d, f, t: f.chmod(0o600),
    "touched": lambda d, f, t: os.utime(f, ns=(1, 1)),
    "deleted": lambda d, f, t: f.unlink(),
    "an absent watched file created": lambda d, f, t: (d / "state.json").write_bytes(b"{}"),
    "written through a hard link elsewhere": lambda d, f, t: _hard_link_write(f, t / "other"),
}
MOVES: dict[str, Callable[[Path, Path], None]] = {
    "its directory renamed": lambda d, t: d.rename(d.with_name("moved")),
    "a directory above renamed": lambda d, t: (t / "project").rename(t / "renamed"),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_every_change_to_a_watched_path_ends_the_quiet(tmp_path: Path, change: str) -> None:
    gate, directory, watched, epoch = _quiet(tmp_path)
    CHANGES[change](directory, watched, tmp_path)
    assert gate.quiet_epoch() is None
    after = gate.advance()
    assert after is not None and after > epoch
    gate.close()


@pytest.mark.parametrize("move", list(MOVES))
def test_a_watched_directory_moved_away_closes_the_gate(tmp_path: Path, move: str) -> None:
    """The paths now name nothing (or something new): the gate gives up, and every check
    stats from then on, as it would without one."""
    gate, directory, _, _ = _quiet(tmp_path)
    MOVES[move](directory, tmp_path)
    assert gate.quiet_epoch() is None
    assert gate.advance() is None
    assert gate.quiet_epoch() is None


def test_a_file_put_back_in_place_is_watched_again(tmp_path: Path) -> None:
    """After a rename replaced the file, its new inode is the one watched (the hard link
    case shows the watch is on the file itself, not only its directory's entries)."""
    gate, _, watched, _ = _quiet(tmp_path)
    _replace(watched, b"[1]")
    gate.advance()
    epoch = gate.advance()  # the old inode's watch going away may need one more
    assert gate.quiet_epoch() == epoch
    _hard_link_write(watched, tmp_path / "elsewhere")
    assert gate.quiet_epoch() is None


def test_reads_of_unrelated_paths_and_other_directories_keep_it_quiet(tmp_path: Path) -> None:
    gate, _, watched, epoch = _quiet(tmp_path)
    watched.read_bytes()
    os.stat(watched)
    (tmp_path / "unrelated").write_bytes(b"x")  # a directory above: only its own move counts
    assert gate.quiet_epoch() == epoch


def test_gated_keeps_a_value_only_while_nothing_changed(tmp_path: Path) -> None:
    gate, _, watched, _ = _quiet(tmp_path)
    computed: list[bytes] = []

    def compute() -> bytes:
        computed.append(watched.read_bytes())
        return computed[-1]

    gated = Gated(gate, compute)
    assert gated.get() == gated.get() == b"{}"
    assert len(computed) == 1
    watched.write_bytes(b"[2]")
    assert gated.get() == b"[2]"
    assert len(computed) == 2


def test_gated_computes_again_what_keep_refuses(tmp_path: Path) -> None:
    gate, _, _, _ = _quiet(tmp_path)
    calls: list[int] = []
    gated = Gated(gate, lambda: calls.append(1) or len(calls), keep=lambda value: value > 2)
    assert [gated.get() for _ in range(4)] == [1, 2, 3, 3]


def test_no_gate_where_a_directory_is_reached_through_a_symbolic_link(tmp_path: Path) -> None:
    directory, watched = _project(tmp_path)
    (tmp_path / "link").symlink_to(directory)
    assert gate_for([tmp_path / "link" / "tasks.json"]) is None
    (tmp_path / "above").symlink_to(directory.parent)  # a link further up the path
    assert gate_for([tmp_path / "above" / ".taskmaster" / "tasks.json"]) is None
    (directory / "state.json").symlink_to(watched)
    assert gate_for([directory / "state.json"]) is None


def test_a_directory_turned_into_a_symbolic_link_closes_the_gate(tmp_path: Path) -> None:
    gate, directory, watched, _ = _quiet(tmp_path)
    gated = Gated(gate, watched.parent.exists)
    gated.get()
    directory.rename(tmp_path / "real")
    directory.symlink_to(tmp_path / "real")
    assert gate.advance() is None  # closed: every check computes (stats) from now on
    assert gate.quiet_epoch() is None
    calls: list[int] = []
    counting = Gated(gate, lambda: calls.append(1) or 1)
    counting.get()
    counting.get()
    assert len(calls) == 2


def test_a_closed_gate_is_never_quiet(tmp_path: Path) -> None:
    gate, _, _, _ = _quiet(tmp_path)
    gate.close()
    gate.close()
    assert gate.quiet_epoch() is None
    assert gate.advance() is None


def test_no_reader_keeps_a_value_older_than_an_acknowledged_write(tmp_path: Path) -> None:
    """A writer thread replaces the file with 1, 2, 3...; after each write returns, every read
    that starts later must see at least that number, with readers racing the drains."""
    gate, _, watched, _ = _quiet(tmp_path)
    watched.write_bytes(b"%06d" % 0)
    gated = Gated(gate, lambda: int(watched.read_bytes()))
    acknowledged = [0]
    stale: list[tuple[int, int]] = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            floor = acknowledged[0]
            seen = gated.get()
            if seen < floor:
                stale.append((seen, floor))

    readers = [threading.Thread(target=reader) for _ in range(4)]
    for thread in readers:
        thread.start()
    try:
        for number in range(1, 400):
            if number % 2:
                _replace(watched, b"%06d" % number)
            else:  # in place, over the same number of bytes: never torn
                with open(watched, "r+b") as handle:
                    handle.write(b"%06d" % number)
            acknowledged[0] = number
    finally:
        done.set()
        for thread in readers:
            thread.join()
    assert stale == []
    assert gated.get() == 399


def test_a_servers_storage_sees_another_process_write_at_once(tmp_path: Path) -> None:
    """The guarantee end to end: a storage that keeps its document (a server's) behind a gate,
    and a write by another program, acknowledged by its exit, seen by the next check."""
    root = tmp_path / "project"
    (root / ".taskmaster").mkdir(parents=True)
    path = root / ".taskmaster" / "tasks.json"
    path.write_bytes(b'{"master": {"tasks": []}}\n')
    storage = FileStorage(path, keep_document=True)
    try:
        assert storage._gate is not None  # a local file system: the gate is used
        before = storage.revision()
        assert storage.revision() == before
        assert storage.state().current_tag is None
        for tag in ("one", "two"):
            code = (
                "import sys, pathlib; p = pathlib.Path(sys.argv[1]);"
                f'p.write_text(\'{{"currentTag": "{tag}"}}\')'
            )
            subprocess.run(
                [sys.executable, "-c", code, str(path.with_name("state.json"))], check=True
            )
            assert storage.state().current_tag == tag
        code = (
            "import sys, pathlib; p = pathlib.Path(sys.argv[1]);"
            'p.write_text(p.read_text().replace(\'[]\', \'[{"id": 1, "title": "x"}]\'))'
        )
        subprocess.run([sys.executable, "-c", code, str(path)], check=True)
        assert storage.revision() != before
    finally:
        storage.close()


def test_a_check_while_another_thread_drains_is_not_quiet(tmp_path: Path) -> None:
    """Between a drain and the value computed after it, the queue is empty but the value kept
    is old: a check made then must not call the gate quiet."""
    seen: list[int | None] = []

    class Observed(ChangeGate):
        def _drain(self) -> None:
            super()._drain()
            seen.append(self.quiet_epoch())  # as another thread would see it now

    _, watched = _project(tmp_path)
    gate = Observed([watched])
    gate.advance()
    watched.write_bytes(b"[]")
    gate.advance()
    assert seen == [None]


def test_a_check_that_a_whole_drain_overtook_is_not_quiet(tmp_path: Path) -> None:
    """A check reads the epoch, another thread drains and moves on, then the check polls an
    empty queue: the epoch it read is over, so it must not be called quiet."""
    gate, _, watched, epoch = _quiet(tmp_path)
    real_poll = gate._poll
    overtaken = [False]

    def poll_after_a_drain(*args: object) -> int:
        if not overtaken[0]:
            overtaken[0] = True
            watched.write_bytes(b"[1]")
            assert gate.advance() != epoch  # the other thread's whole drain
        return real_poll(*args)

    gate._poll = poll_after_a_drain
    assert gate.quiet_epoch() is None
