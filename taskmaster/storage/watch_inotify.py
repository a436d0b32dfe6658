"""Linux: the task file's directory read straight from inotify, by one thread.

watchdog, the portable watcher (`watch.py`), passes every kernel event through three threads
(its reader, its emitter and its dispatcher) with a queue between each, all in Python. A commit
of ours makes seven events in the directory: the reference lock's create, close and delete, the
temporary file's create, close and rename away, and the rename's arrival. Only the last concerns
the task file. In a server under load, those hand-offs took 15-30 % of its write throughput,
because each one waits for the interpreter lock that the request threads hold.

Here one thread sleeps in poll() without the interpreter lock, reads whatever has arrived in
one go, and passes on only the task file's events. Waiting a millisecond after the first event,
so that a commit's events are read together (1.4 reads a commit instead of 3.9), made no
difference to throughput that the benchmark could see, and would delay every announcement.
"""

from __future__ import annotations

import logging
import os
import select
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from inotify_simple import INotify, flags

log = logging.getLogger(__name__)

# The events the portable watcher asks for (created, deleted, moved, closed after writing),
# and the directory's own end. Not modifications: each write() of every sidecar makes one,
# and an in-place write of the task file ends with its writer's close anyway.
MASK = (
    flags.CREATE
    | flags.DELETE
    | flags.MOVED_FROM
    | flags.MOVED_TO
    | flags.CLOSE_WRITE
    | flags.DELETE_SELF
    | flags.ONLYDIR
)

_CLOSED = "closed"
_KINDS = (
    (flags.CLOSE_WRITE, _CLOSED),
    (flags.MOVED_FROM | flags.MOVED_TO, "moved"),
    (flags.CREATE, "created"),
    (flags.DELETE, "deleted"),
)


def kind_of(mask: int) -> str | None:
    """The watcher's name for an event with inotify `mask` (None: not one it handles)."""
    for bits, kind in _KINDS:
        if mask & bits:
            return kind
    return None


class InotifySource:
    """Passes `deliver(kind)` each event of the file at `path`, from a thread of its own."""

    def __init__(self, path: Path, deliver: Callable[[str], None]) -> None:
        self._directory = os.fsdecode(path.parent)
        self._name = path.name
        self._deliver = deliver
        self._thread: threading.Thread | None = None
        self._wake: tuple[int, int] | None = None

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def start(self) -> None:
        """Start the reading thread; OSError if inotify refuses (its limits reached, say)."""
        inotify = INotify()
        try:
            inotify.add_watch(self._directory, MASK)
        except OSError:
            inotify.close()
            raise
        self._wake = os.pipe()
        self._thread = threading.Thread(
            target=self._run, args=(inotify, self._wake[0]), name="tm-watch", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Wake the thread (unless its watch has ended it already), join it, close the pipe."""
        thread, self._thread = self._thread, None
        wake, self._wake = self._wake, None
        if thread is None or wake is None:
            return
        os.write(wake[1], b"x")
        thread.join(timeout=5)
        os.close(wake[0])
        os.close(wake[1])

    def _run(self, inotify: INotify, wake_read: int) -> None:
        poller = select.poll()
        poller.register(inotify.fileno(), select.POLLIN)
        poller.register(wake_read, select.POLLIN)
        try:
            while True:
                ready = {fd for fd, _ in poller.poll()}
                if wake_read in ready:
                    return
                if not self._pass_on(inotify.read(timeout=0)):
                    return
        finally:
            inotify.close()

    def _pass_on(self, events: Any) -> bool:
        """Deliver the task file's events; False once the directory's watch has ended."""
        for event in events:
            mask: int = event.mask
            if mask & flags.Q_OVERFLOW:
                # Events were lost, the task file's perhaps among them: treat it as changed in
                # place, which gives it a new revision whatever its stat says.
                log.warning("watcher: the kernel's event queue overflowed; re-reading the file")
                kind: str | None = _CLOSED
            elif mask & flags.IGNORED:
                log.warning("watcher: %s is no longer watched (deleted?)", self._directory)
                return False
            else:
                kind = kind_of(mask) if event.name == self._name else None
            if kind is None:
                continue
            try:
                self._deliver(kind)
            except Exception:  # a bug in handling one event must not deafen the watcher
                log.exception("watcher: handling a %s event failed", kind)
        return True
