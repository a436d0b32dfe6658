"""A sidecar kept open between the commits of a long-lived writer.

Every commit appends to the journal twice and rewrites the revision record and the copy of the
last commit. Opening and closing each of them every time costs two system calls apiece and,
worse, a close-after-write event per file for every directory watcher, our own included, which
handles each in Python while request threads wait for the interpreter lock. Kept open, a write
costs one `stat` of the path first, which also notices when the file was replaced (the journal
compacted by another process, a sidecar deleted): then it is opened again.

Only used under the task file's write lock, so one thread at a time.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


class KeptFile:
    """One file, opened on first use with `flags` and kept until replaced or closed."""

    def __init__(self, path: Path, flags: int, mode: int = 0o644) -> None:
        self.path = path
        self._flags = flags | os.O_CLOEXEC
        self._mode = mode
        self._fd: int | None = None
        self._identity: tuple[int, int] | None = None
        self._pid = os.getpid()

    def open(self) -> tuple[int, os.stat_result]:
        """A descriptor of the file now at the path, and its stat (size included)."""
        if self._pid != os.getpid():  # a forked child: the parent's descriptor is not ours
            self._fd, self._identity, self._pid = None, None, os.getpid()
        if self._fd is not None:
            try:
                st = os.stat(self.path)
            except FileNotFoundError:
                st = None
            if st is not None and (st.st_dev, st.st_ino) == self._identity:
                return self._fd, st
            self.close()
        fd = os.open(self.path, self._flags, self._mode)
        st = os.fstat(fd)
        self._fd, self._identity = fd, (st.st_dev, st.st_ino)
        return fd, st

    def close(self) -> None:
        fd, self._fd, self._identity = self._fd, None, None
        if fd is not None and self._pid == os.getpid():
            with contextlib.suppress(OSError):
                os.close(fd)
