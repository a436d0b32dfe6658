"""The portable event source: watchdog's observer on the task file's directory (macOS, Windows,
and Linux where inotify cannot be read directly; see `watch_inotify.py` for why not there)."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from watchdog import events
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

# watchdog holds an unpaired IN_MOVED_FROM for its grouping delay (0.5 s) before delivering the
# next event; an atomic replace produces exactly that. A few ms keeps pairing for same-directory
# renames without stalling; an unpaired IN_MOVED_TO then arrives as a created event, handled.
MOVE_GROUPING_DELAY = 0.002


def _shorten_move_grouping() -> None:
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


class WatchdogSource:
    """Passes `deliver(kind)` each event of the file at `path`, from watchdog's threads."""

    def __init__(self, path: Path, deliver: Callable[[str], None]) -> None:
        self._path = os.fsdecode(path)
        self._deliver = deliver
        self._observer: Any = None

    @property
    def running(self) -> bool:
        return self._observer is not None

    def start(self) -> None:
        _shorten_move_grouping()
        observer = Observer()
        observer.schedule(
            _Handler(self._path, self._deliver),
            os.path.dirname(self._path),
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
        observer, self._observer = self._observer, None
        if observer is not None:
            observer.stop()
            observer.join(timeout=5)


class _Handler(FileSystemEventHandler):
    """The watchdog callback object (watchdog only calls `dispatch`)."""

    def __init__(self, path: str, deliver: Callable[[str], None]) -> None:
        self._path = path
        self._deliver = deliver

    def dispatch(self, event: FileSystemEvent) -> None:
        paths = (os.fsdecode(event.src_path), os.fsdecode(getattr(event, "dest_path", "") or ""))
        if self._path in paths:
            self._deliver(event.event_type)
