"""The file backend's change feed: changes other programs make to the task file.

It watches the *directory*, not the file: an atomic rename replaces the file's inode, and a
watch on the file itself goes blind after the first write (the reference Node tool has exactly
that bug). Changes this process committed are already announced by the facade, so the watcher
skips them, and it reports each outside revision once.

The events come from one of two sources with the same small interface: inotify read directly
on Linux (`watch_inotify.py`: one thread, only the task file's events), and watchdog elsewhere
or where inotify refuses (`watch_watchdog.py`). Each is imported only when a watcher starts,
so the CLI never pays for either.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from taskmaster.storage.file import FileStorage

log = logging.getLogger(__name__)

_IN_PLACE = frozenset({"modified", "closed"})

USE_INOTIFY = sys.platform == "linux"
"""Read inotify directly where there is one (tests turn it off to run watchdog's path)."""


class EventSource(Protocol):
    """Calls its `deliver(kind)` for each event of one file: created, deleted, moved (to or
    from its name), closed (after writing), from a single thread, in order."""

    @property
    def running(self) -> bool: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


def _event_source(path: Path, deliver: Callable[[str], None]) -> EventSource:
    """A started source of `path`'s events."""
    if USE_INOTIFY:
        from taskmaster.storage.watch_inotify import InotifySource

        inotify = InotifySource(path, deliver)
        try:
            inotify.start()
            return inotify
        except OSError as err:  # its limits reached, say: watchdog may still find a way
            log.warning("watcher: inotify refused (%s); using watchdog", err)
    from taskmaster.storage.watch_watchdog import WatchdogSource

    portable = WatchdogSource(path, deliver)
    portable.start()
    return portable


class FileWatcher:
    def __init__(self, storage: FileStorage, on_change: Callable[[int], None]) -> None:
        self.storage = storage
        self.on_change = on_change
        self._source: EventSource | None = None
        self._lock = threading.Lock()
        self._last_announced = 0
        self.announced = 0

    @property
    def running(self) -> bool:
        source = self._source
        return source is not None and source.running

    def start(self) -> None:
        """Start watching (idempotent)."""
        with self._lock:
            if self._source is None:
                self._source = _event_source(self.storage.path, self.handle)

    def stop(self) -> None:
        """Stop watching and join the source's threads (idempotent)."""
        with self._lock:
            source, self._source = self._source, None
        if source is not None:
            source.stop()

    def handle(self, kind: str) -> None:
        """React to an event of the task file (`EventSource`'s kinds)."""
        try:
            if kind in _IN_PLACE:
                # An in-place write can keep size and (on coarse clocks) mtime: only the event
                # tells us the content changed, so it always gets a new revision.
                revision = self.storage.mark_changed()
            else:
                revision = self.storage.revision()
                if self._ours_or_seen(revision):
                    return  # before any journal work: this thread shares the GIL with readers
                if not self.storage.journaled(revision):
                    # An editor's or the reference tool's change: journal it now, so that it
                    # is announced with its differences like a commit of ours.
                    revision = self.storage.journal_outside_change()
        except OSError as err:  # deleted, unreadable or not ours to write: the next event tells
            log.debug("watcher: %s", err)
            return
        if self._ours_or_seen(revision):
            return
        self._last_announced = revision
        self.announced += 1
        self.on_change(revision)

    def _ours_or_seen(self, revision: int) -> bool:
        return revision <= self._last_announced or self.storage.committed_here(revision)
