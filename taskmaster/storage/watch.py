"""The file backend's change feed: changes other programs make to the task file.

It watches the *directory*, not the file: an atomic rename replaces the file's inode, and a
watch on the file itself goes blind after the first write (the reference Node tool has exactly
that bug). Changes this process committed are already announced by the facade, so the watcher
skips them, and it reports each outside revision once.

watchdog is imported only when a watcher starts, so the CLI never pays for it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

# Imported with this module, which the file backend loads only when a watcher is asked for.
from watchdog.events import FileSystemEvent, FileSystemEventHandler

if TYPE_CHECKING:
    from taskmaster.storage.file import FileStorage

log = logging.getLogger(__name__)

# watchdog holds an unpaired IN_MOVED_FROM for its grouping delay (0.5 s) before delivering the
# next event; an atomic replace produces exactly that. A few ms keeps pairing for same-directory
# renames without stalling; an unpaired IN_MOVED_TO then arrives as a created event, handled.
MOVE_GROUPING_DELAY = 0.002
_IN_PLACE = frozenset({"modified", "closed"})


def _shorten_move_grouping() -> None:
    import importlib

    # watchdog 7 keeps the delay on InotifyMoveEventGrouper, watchdog 6 on InotifyBuffer; not
    # Linux: nothing to tune. Looked up by name: each exists in one version only.
    for module, name in (
        ("watchdog.observers.inotify_move_event_grouper", "InotifyMoveEventGrouper"),
        ("watchdog.observers.inotify_buffer", "InotifyBuffer"),
    ):
        try:
            grouper = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
        if hasattr(grouper, "delay"):
            grouper.delay = MOVE_GROUPING_DELAY
        return


class FileWatcher:
    def __init__(self, storage: FileStorage, on_change: Callable[[int], None]) -> None:
        self.storage = storage
        self.on_change = on_change
        self._path = os.fsdecode(storage.path)
        self._observer: Any = None
        self._lock = threading.Lock()
        self._last_announced = 0
        self.announced = 0

    @property
    def running(self) -> bool:
        return self._observer is not None

    def start(self) -> None:
        """Start watching (idempotent)."""
        with self._lock:
            if self._observer is not None:
                return
            _shorten_move_grouping()
            from watchdog import events
            from watchdog.observers import Observer

            observer = Observer()
            observer.schedule(
                _Handler(self),
                os.fsdecode(self.storage.path.parent),
                # Not opens and no-write closes: every reader, this watcher included, makes them.
                # Not modifications either: each write() of every sidecar of every commit makes
                # one, which watchdog handles in Python while request threads wait for the
                # interpreter lock; an in-place edit of the task file ends with the close of
                # its writer, which is the moment it can be read whole anyway.
                event_filter=[
                    events.FileCreatedEvent,
                    events.FileDeletedEvent,
                    events.FileMovedEvent,
                    events.FileClosedEvent,
                ],
            )
            observer.daemon = True
            observer.start()
            self._observer = observer

    def stop(self) -> None:
        """Stop watching and join the observer thread (idempotent)."""
        with self._lock:
            observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            observer.join(timeout=5)

    def handle(self, event_type: str, paths: tuple[str, ...]) -> None:
        if self._path not in paths:
            return
        try:
            if event_type in _IN_PLACE:
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


class _Handler(FileSystemEventHandler):
    """The watchdog callback object (watchdog only calls `dispatch`)."""

    def __init__(self, watcher: FileWatcher) -> None:
        self._watcher = watcher

    def dispatch(self, event: FileSystemEvent) -> None:
        paths = (os.fsdecode(event.src_path), os.fsdecode(getattr(event, "dest_path", "") or ""))
        self._watcher.handle(event.event_type, paths)
