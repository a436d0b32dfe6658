"""One system call a check instead of its stats: a server's checks skipped while nothing changed.

Every cached answer of `tm serve` is checked against the files it depends on: the revision
sidecar and the task file (`revision.py`), state.json (`state_file.py`). Those are three stats a
request, and each walks its whole path: 1.6 microseconds a stat here, 6 of the 14 that a cached
`GET /api/v1/tasks` cost in the process, against 3 for a bare Falcon route.

A `ChangeGate` asks the kernel instead whether anything changed. An inotify instance watches the
files' directories (every entry created, deleted, moved, written or changed in its attributes),
the files themselves (a write through another link), and every directory above them (moved or
deleted). The kernel queues an event within the system call that makes the change, so once a
write is acknowledged its event is queued. A check is then one `poll()` of that queue: empty
means nothing changed since the queue was last drained, and a value computed after that drain
still holds (`Gated`). A non-empty queue is drained and the value computed again, by stat.

The gate counts its drains in `_seq`, odd while one is under way, so that a check that finds the
queue empty while another thread is draining it (the events gone, the new value not yet
computed) does not take the old value for current. Only a drainer, under the lock, moves it.

Limits, where the gate is not used and every check stats as before: a directory reached through
a symbolic link (re-pointing a link is an event in a directory nobody watches), a file system
whose changes inotify cannot see (network and FUSE file systems: the server's stats there release
the GIL too, `quick_stat.py`), inotify refusing (its per-user limits), and a Python without the
GIL. A file system mounted over one of the directories while the server runs is not an event.
"""

from __future__ import annotations

import errno
import functools
import os
import struct
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")

# inotify's event bits (linux/inotify.h), spelled out: inotify_simple, which defines them too,
# is installed on Linux only, and `Gated` is used everywhere.
_MODIFY, _ATTRIB, _CLOSE_WRITE = 0x002, 0x004, 0x008
_MOVED_FROM, _MOVED_TO, _CREATE, _DELETE = 0x040, 0x080, 0x100, 0x200
_DELETE_SELF, _MOVE_SELF, _ONLYDIR, _DONT_FOLLOW = 0x400, 0x800, 0x0100_0000, 0x0200_0000
_CHANGES = _MODIFY | _ATTRIB | _CLOSE_WRITE
_SELF = _DELETE_SELF | _MOVE_SELF
# A directory is watched only as itself: a symbolic link in its place is no directory, and the
# watch fails. Every directory from the files up to / has a watch, so no part of a path can be
# a link (re-pointing one would be an event in a directory nobody watches).
_DIRECTORY = (
    _CHANGES | _CREATE | _DELETE | _MOVED_FROM | _MOVED_TO | _SELF | _ONLYDIR | _DONT_FOLLOW
)
_FILE = _CHANGES | _SELF
_ABOVE = _SELF | _ONLYDIR | _DONT_FOLLOW
_POLLIN = 0x001
_DRAIN_BYTES = 64 * 1024


@functools.cache
def _load_poll() -> Callable[..., int] | None:
    """poll() through ctypes, loaded with the first gate: a one-shot command never loads it."""
    if not sys.platform.startswith("linux"):
        return None
    if not getattr(sys, "_is_gil_enabled", lambda: True)():
        return None  # the drain counter relies on the GIL to be read and written whole
    import ctypes

    try:
        # PyDLL: the call keeps the GIL, as `quick_stat`'s statx does (os.poll and
        # select.poll release it, and under 8 server threads getting it back is the cost).
        function = ctypes.PyDLL(None, use_errno=True).poll
    except (OSError, AttributeError):
        return None
    function.restype = ctypes.c_int
    return function


class ChangeGate:
    """Whether any of `files` (absolute paths, no symbolic link on the way) may have changed
    since the gate's current epoch began. OSError when inotify cannot watch them."""

    def __init__(self, files: Sequence[Path]) -> None:
        poll = _load_poll()
        if poll is None:
            raise OSError(errno.ENOSYS, "no poll() that keeps the GIL here")
        self._poll = poll
        import ctypes

        from inotify_simple import INotify

        self._files = [os.fsencode(path) for path in files]
        directories = sorted({path.parent for path in files})
        above = sorted({ancestor for d in directories for ancestor in d.parents} - set(directories))
        self._directories = [os.fsencode(d) for d in directories]
        self._above = [os.fsencode(a) for a in above]
        self._inotify = INotify(nonblocking=True)
        self._fd: int = self._inotify.fileno()
        self._pollfd = ctypes.create_string_buffer(struct.pack("iHH", self._fd, _POLLIN, 0), 8)
        self._lock = threading.Lock()
        self._seq = 0
        self._closed = False
        try:
            self._watch()
        except BaseException:
            self._inotify.close()
            raise

    def quiet_epoch(self) -> int | None:
        """The current epoch if nothing changed since it began; None when something did (or
        a drain is under way): then `advance`."""
        seq = self._seq
        if seq & 1 or self._poll(self._pollfd, 1, 0) != 0 or self._seq != seq:
            return None
        return seq

    def advance(self) -> int | None:
        """Drain what changed; the epoch in which a value computed from now on holds (None once
        the gate is closed: every check then stats)."""
        with self._lock:
            if self._closed:
                return None
            if self._poll(self._pollfd, 1, 0) == 0:
                return self._seq
            self._seq += 1  # odd: a drain is under way
            try:
                self._drain()
                self._watch()  # whatever is at those paths now
            except OSError:  # a path now through a symbolic link, or inotify's limits
                self._close_locked()
                return None
            self._seq += 1
            return self._seq

    def close(self) -> None:
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._seq |= 1  # odd for good: every check from now on finds a drain under way
        self._inotify.close()

    def _drain(self) -> None:
        while True:
            try:
                os.read(self._fd, _DRAIN_BYTES)
            except BlockingIOError:
                return

    def _watch(self) -> None:
        """Watch what the paths name now; OSError where one goes through a symbolic link."""
        for directory in self._directories:
            self._inotify.add_watch(directory, _DIRECTORY)
        for ancestor in self._above:
            self._inotify.add_watch(ancestor, _ABOVE)
        for path in self._files:
            if os.path.islink(path):
                raise OSError(errno.ELOOP, "a symbolic link", path)
            try:
                self._inotify.add_watch(path, _FILE)
            except FileNotFoundError:  # its directory's watch sees it created
                continue


class Gated(Generic[T]):
    """`compute()`'s last value, kept for as long as `gate` stays quiet; values `keep` refuses
    are computed again on every call."""

    def __init__(
        self,
        gate: ChangeGate,
        compute: Callable[[], T],
        keep: Callable[[T], bool] = lambda value: True,
    ) -> None:
        self._gate = gate
        self._compute = compute
        self._keep = keep
        self._held: tuple[int, T] | None = None

    def get(self) -> T:
        epoch = self._gate.quiet_epoch()
        held = self._held
        if epoch is not None and held is not None and held[0] == epoch:
            return held[1]
        epoch = self._gate.advance()
        value = self._compute()
        if epoch is not None and self._keep(value):
            self._held = (epoch, value)
        return value


def gate_for(files: Sequence[Path]) -> ChangeGate | None:
    """A gate over `files`, or None where one cannot be had (see the module's limits)."""
    try:
        return ChangeGate(files)
    except OSError:
        return None
