"""Progress lines on stderr while a scenario runs: processes started, operations done."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

INTERVAL = 1.0


class Progress:
    """`lost-update/safe: 8 processes started, 240/400 operations done` — at most one line per
    second, never the same counts twice (rewritten in place on a terminal), plus the lines a
    runner says explicitly."""

    def __init__(self, label: str, stream: TextIO | None = None, *, quiet: bool = False) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last = 0.0
        self._last_count = ""
        self._pending_cr = False
        self._lock = threading.Lock()

    def _emit(self, text: str, *, transient: bool) -> None:
        if self.quiet:
            return
        with self._lock:
            if self.tty and transient:
                self.stream.write(f"\r\x1b[K{text}")
                self._pending_cr = True
            else:
                if self._pending_cr:
                    self.stream.write("\r\x1b[K")
                    self._pending_cr = False
                self.stream.write(text + "\n")
            self.stream.flush()

    def say(self, text: str) -> None:
        self._emit(f"{self.label}: {text}", transient=False)

    def update(self, processes: int, done: int, total: int | None, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < INTERVAL:
            return
        of = f"/{total}" if total else ""
        count = f"{processes} processes started, {done}{of} operations done"
        # The last tick and the closing forced update often see the same counts: say it once.
        if count == self._last_count:
            return
        self._last = now
        self._last_count = count
        self._emit(f"{self.label}: {count}", transient=True)

    def finish(self) -> None:
        if self._pending_cr and not self.quiet:
            with self._lock:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
                self._pending_cr = False


class Monitor:
    """A background thread that calls `tick` every `interval` seconds until stopped."""

    def __init__(self, tick: Callable[[], None], interval: float = 0.25) -> None:
        self._tick = tick
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="progress", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._tick()

    def __enter__(self) -> Monitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._tick()
