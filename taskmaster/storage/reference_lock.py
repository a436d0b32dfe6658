"""The reference tool's lock, `tasks.json.lock`, held by `tm` while it writes the task file.

task-master-ai locks its task file with a path beside it, `<tasks.json>.lock`, in two forms:
its legacy code (the CLI's and MCP server's `writeJSON`) creates a regular *file* there
exclusively, holding ``{"pid": N, "timestamp": ms}``; its newer core (proper-lockfile) makes a
*directory* there with mkdir and refreshes the directory's mtime while it holds it. Either form
counts as stale once its mtime is more than 10 s old: the legacy code then renames the file to
`<lock>.stale.<pid>.<ms>` and unlinks that, the core removes the directory with rmdir. Both
re-read the task file only inside the lock, so a write of ours that holds it too can neither
interleave with theirs nor be written over by a copy they re-read before our rename.

We take the *file* form. Both forms exclude each other, since they compete for one path (an
exclusive create fails on a directory, a mkdir on a file). The file carries our pid, which is
what a waiting reference process, `tm doctor` and our own timeout message can name; a directory
carries nothing. The price: the reference's core can only remove a stale lock that is a
directory (its rmdir fails on a file), so a file left by a `tm` killed with SIGKILL blocks the
core's writes until the next `tm` write or a legacy-path write takes it over (10 s after its
last refresh); a lock left by a crash is the rare case, a holder pid the everyday one.

This lock is taken inside our own (`lock.py`), so our writers queue on ours and never poll
this one; only the reference's processes and ours meet here. It is held for a write only:
reads take no lock at all.

Our file also says it is ours (``"tool": "taskmaster"``; the reference reads none of its
content). A `tm` write holds our lock for as long as it holds this one, so a writer that holds
our lock and finds a file of ours here knows its maker died (SIGKILL, power loss) and takes it
over at once: a killed `tm` never makes the next `tm` wait, as with our own lock, whose flock
the kernel drops. The reference tool still sees the file until it is stale or a `tm` writes.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from taskmaster.errors import LockTimeout

STALE_AFTER = 10.0
"""Seconds without an mtime change after which both reference code paths take a lock over."""
REFRESH_EVERY = 2.0
"""How often a held lock's mtime is renewed: well inside `STALE_AFTER`, as the reference's
core renews its own every stale/2 = 5 s."""
TOOL = "taskmaster"
"""The `tool` our lock files carry."""
POLL_INTERVAL = 0.005
"""How often a writer looks again at a lock the reference holds: its own writes take a few
milliseconds inside the lock."""

Kind = Literal["file", "directory"]


def reference_lock_path(task_path: Path | str) -> Path:
    """The path both reference code paths lock for `task_path` (the real file's path)."""
    return Path(f"{task_path}.lock")


@dataclass(frozen=True, slots=True)
class ReferenceLockInfo:
    """What is at the reference lock's path now (see `inspect`)."""

    path: Path
    kind: Kind | None
    """"file" (the legacy form, or ours), "directory" (the core's), None: nobody holds it."""
    pid: int | None
    """The holder's pid, when a file names one."""
    age: float | None
    """Seconds since its mtime (its creation or last refresh)."""
    stale: bool
    """Older than `STALE_AFTER`: the next writer of either tool takes it over."""
    pid_alive: bool | None
    """Whether the holder's pid runs on this machine (None: no pid, or not knowable)."""
    by_tm: bool = False
    """Made by `tm` (the file says so): if no `tm` write runs, its maker was killed."""


def inspect(task_path: Path | str) -> ReferenceLockInfo:
    """What holds the reference lock of `task_path`, without touching it."""
    return _inspect_lock(reference_lock_path(task_path))


def _inspect_lock(path: Path) -> ReferenceLockInfo:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return ReferenceLockInfo(path, None, None, None, stale=False, pid_alive=None)
    kind: Kind = "directory" if _is_directory(st.st_mode) else "file"
    age = max(0.0, time.time() - st.st_mtime)
    content = _read(path) if kind == "file" else {}
    pid = content.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        pid = None
    return ReferenceLockInfo(
        path,
        kind,
        pid,
        age,
        stale=age > STALE_AFTER,
        pid_alive=_alive(pid),
        by_tm=content.get("tool") == TOOL,
    )


def _is_directory(mode: int) -> bool:
    return stat.S_ISDIR(mode)


def _read(path: Path) -> dict[str, object]:
    try:
        with open(path, "rb") as handle:
            content = json.loads(handle.read(4096))
    except (OSError, ValueError):
        return {}
    return content if isinstance(content, dict) else {}


def _alive(pid: int | None) -> bool | None:
    if pid is None:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    except OSError:
        return None
    return True


@contextmanager
def hold_reference_lock(
    task_path: Path | str,
    timeout: float,
    *,
    deadline: float | None = None,
    under_our_lock: bool = False,
) -> Iterator[None]:
    """Hold the reference lock of `task_path` for the duration of the block.

    Waits for a holder of either form (LockTimeout after `timeout` seconds, or at the
    `time.monotonic()` `deadline` when one is given, naming the path and the holder), takes
    over a stale one as the reference would, and keeps ours fresh while the block runs;
    released on the way out whatever happens in the block. `under_our_lock`: the caller holds
    our own write lock of the file, so a lock file of ours found here is a killed writer's and
    is taken over at once.
    """
    if deadline is None:
        deadline = time.monotonic() + timeout
    lock = _acquire(reference_lock_path(task_path), deadline, timeout, under_our_lock)
    try:
        yield
    finally:
        lock.release()


class _Held:
    """One lock of ours: its open descriptor (kept for refreshing it) and its inode."""

    __slots__ = ("fd", "identity", "path")

    def __init__(self, path: Path, fd: int, identity: tuple[int, int]) -> None:
        self.path = path
        self.fd = fd
        self.identity = identity

    def refresh(self) -> None:
        # Through the descriptor: only ever our own inode, whatever the path holds by now.
        with contextlib.suppress(OSError):
            os.utime(self.fd)

    def release(self) -> None:
        _REFRESHER.forget(self)
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            st = None
        # Only ours: a lock that was taken over (we held it past STALE_AFTER without a refresh:
        # a stopped process) is someone else's now, and removing it would let a third writer in.
        if st is not None and (st.st_dev, st.st_ino) == self.identity:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
        os.close(self.fd)


def _acquire(path: Path, deadline: float, timeout: float, under_our_lock: bool) -> _Held:
    content = json.dumps(
        {"pid": os.getpid(), "timestamp": int(time.time() * 1000), "tool": TOOL},
        separators=(",", ":"),
    ).encode()
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        except FileExistsError:
            if _take_over_if_stale(path, orphans_of_ours=under_our_lock):
                continue  # as the reference does: at once, no wait
            if time.monotonic() >= deadline:
                raise _timeout(path, timeout) from None
            time.sleep(POLL_INTERVAL)
            continue
        try:
            os.write(fd, content)
            st = os.fstat(fd)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(path)
            raise
        held = _Held(path, fd, (st.st_dev, st.st_ino))
        _REFRESHER.add(held)
        return held


def _take_over_if_stale(path: Path, *, orphans_of_ours: bool = False) -> bool:
    """Remove a stale lock at `path` the way its own kind's code would (and, with
    `orphans_of_ours`, a file of ours whatever its age); whether to try again at once (it was
    removed, or it went away meanwhile)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return True
    fresh = time.time() - st.st_mtime <= STALE_AFTER
    if fresh and not (
        orphans_of_ours and not _is_directory(st.st_mode) and _read(path).get("tool") == TOOL
    ):
        return False
    if _is_directory(st.st_mode):
        try:
            os.rmdir(path)
        except FileNotFoundError:
            return True
        except OSError as err:
            # Not empty: not proper-lockfile's; leave it to whoever made it, and time out.
            return err.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.EACCES, errno.EPERM)
        return True
    stale = Path(f"{path}.stale.{os.getpid()}.{int(time.time() * 1000)}")
    try:
        os.rename(path, stale)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    # Renamed away: if it was not the file we judged stale (taken over and replaced by a fresh
    # one in the meantime), hand that one back where it was, unless someone holds it already.
    try:
        moved = os.lstat(stale)
        if (moved.st_dev, moved.st_ino) != (st.st_dev, st.st_ino) and not _is_directory(
            moved.st_mode
        ):
            with contextlib.suppress(FileExistsError):
                os.link(stale, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(stale)
    return True


def _timeout(path: Path, timeout: float) -> LockTimeout:
    info = _inspect_lock(path)
    if info.kind is None:
        holder = "held by another process until just now"
    elif info.pid is not None:
        alive = {True: "running", False: "no longer running", None: "state unknown"}
        holder = f"a {info.kind} held by pid {info.pid} ({alive[info.pid_alive]})"
    else:
        holder = f"a {info.kind} (task-master's core) with no pid"
    age = f", refreshed {info.age:.1f} s ago" if info.age is not None else ""
    return LockTimeout(
        f"could not obtain the reference tool's lock {path} within {timeout:g} s: {holder}{age}; "
        f"it counts as stale {STALE_AFTER:g} s after its last refresh (another program is "
        "writing; try again)",
        path=str(path),
        timeout=timeout,
        holder_pid=info.pid,
    )


class _Refresher:
    """One thread per process renews the mtime of every lock it holds every `REFRESH_EVERY`
    seconds, so a long write never looks stale; started on first use, and again in a forked
    child (which inherits neither the thread nor, meaningfully, the parent's locks)."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._held: set[_Held] = set()
        self._cond = threading.Condition()
        self._started = False

    def add(self, held: _Held) -> None:
        with self._cond:
            self._held.add(held)
            if not self._started:
                self._started = True
                threading.Thread(
                    target=self._run, args=(self._cond,), name="reference-lock", daemon=True
                ).start()

    def forget(self, held: _Held) -> None:
        with self._cond:
            self._held.discard(held)

    def _run(self, cond: threading.Condition) -> None:
        while True:
            # Refreshed under the condition's lock: `forget` (before a release closes the
            # descriptor) waits for it, so a descriptor number reused by then is never touched.
            with cond:
                cond.wait(REFRESH_EVERY)
                for lock in self._held:
                    lock.refresh()


_REFRESHER = _Refresher()
