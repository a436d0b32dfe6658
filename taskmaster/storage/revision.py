"""The revision of a task file: a number that grows with every change and is cheap to read.

Neither mtime nor (inode, mtime, size) can serve as a version here: ext4 mtimes are coarse, and
an atomic rename frees the old inode number, which the next rename happily reuses (A, B, A, B...),
so two different contents can show the same stat. We therefore keep a counter in a sidecar file
``<name>.tm-rev`` that writers replace (atomically, under the write lock) right after the task file,
together with the stat signature of the task file they wrote.

A reader trusts the counter only while the task file still shows that signature, and it keeps a
descriptor open on both inodes it validated: an inode number cannot be reused while a descriptor
holds it, so "same inode number as the pinned one" really means "the same file". The fast path is
two ``stat`` calls. Anything else that changed the task file (an editor, the reference Node tool)
shows up as a signature mismatch, and the counter is bumped for it under the write lock.

The counter lives beside the file rather than inside it because any new top-level key in a
tagged file would look like a tag to the reference tool.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import orjson

from taskmaster.storage.atomic import replace_file


class Signature(NamedTuple):
    """What stat says about a file version; equal signatures on a pinned inode mean no change."""

    dev: int
    ino: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> Signature:
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


@dataclass(frozen=True, slots=True)
class RecordedRevision:
    revision: int
    signature: Signature | None
    canonical: bool = False
    """The file holds exactly what a FileStorage serialised (not another program's bytes)."""


@dataclass(frozen=True, slots=True)
class Version:
    """A revision and the signature of the task file version it names."""

    revision: int
    signature: Signature


@dataclass(frozen=True, slots=True)
class _Pinned:
    version: Version
    rev_ino: int | None
    # Held open only so that the inode numbers above cannot be reused; never read through.
    rev_fd: int | None
    task_fd: int


def next_revision(previous: int) -> int:
    """Strictly greater than `previous`, and never below the wall clock in microseconds.

    The clock floor keeps revisions increasing even if the sidecar is lost (a crash before it
    reached the disk, a user deleting it): a fresh counter then starts above every old value.
    """
    return max(previous + 1, time.time_ns() // 1000)


class RevisionFile:
    """Reads and writes the sidecar, and answers "what is the current revision?" cheaply."""

    def __init__(self, task_path: Path) -> None:
        self.task_path = task_path
        self.path = task_path.with_name(task_path.name + ".tm-rev")
        self._pinned: _Pinned | None = None
        self._refresh_lock = threading.Lock()

    # reading ------------------------------------------------------------------------------
    def current(self) -> Version | None:
        """The version of the task file as it is now, or None when it cannot be vouched for.

        None means the task file changed without a matching sidecar update: either a writer is
        between its two renames, or another program changed the file. The caller settles it
        under the write lock (`settle`).
        """
        # Stat before loading the pinned state. A pinned state's descriptors stay open until a
        # newer one is published, so an inode we compare against was pinned when we stat'ed it,
        # or the state is newer than our stat: either way the answer is not older than the call.
        try:
            rev_ino: int | None = os.stat(self.path).st_ino
        except FileNotFoundError:
            rev_ino = None
        task_sig = Signature.of(os.stat(self.task_path))
        pinned = self._pinned
        if (
            pinned is not None
            and pinned.rev_ino == rev_ino
            and pinned.version.signature == task_sig
        ):
            return pinned.version
        return self._refresh()

    def _refresh(self) -> Version | None:
        with self._refresh_lock:
            rev_fd, rev_ino, recorded = self._open_recorded()
            try:
                task_fd = os.open(self.task_path, os.O_RDONLY)
            except BaseException:
                _close(rev_fd)
                raise
            task_sig = Signature.of(os.fstat(task_fd))
            if recorded.signature != task_sig:
                _close(rev_fd)
                _close(task_fd)
                return None
            version = Version(recorded.revision, task_sig)
            old, self._pinned = self._pinned, _Pinned(version, rev_ino, rev_fd, task_fd)
            if old is not None:
                _close(old.rev_fd)
                _close(old.task_fd)
            return version

    def _open_recorded(self) -> tuple[int | None, int | None, RecordedRevision]:
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None, None, RecordedRevision(0, None)
        try:
            ino = os.fstat(fd).st_ino
            raw = os.read(fd, 4096)
        except BaseException:
            _close(fd)
            raise
        return fd, ino, parse_recorded(raw)

    def recorded(self) -> RecordedRevision:
        """The sidecar's content as it is on disk now (callers hold the write lock)."""
        try:
            return parse_recorded(self.path.read_bytes())
        except FileNotFoundError:
            return RecordedRevision(0, None)

    # writing (under the write lock) -------------------------------------------------------
    def record(self, revision: int, signature: Signature, *, canonical: bool = False) -> None:
        payload = {"revision": revision, "file": list(signature), "canonical": canonical}
        # Not fsynced: a sidecar lost in a crash only costs a bump, and next_revision's clock
        # floor keeps the numbers increasing. The caller's directory fsync covers the rename.
        replace_file(self.path, orjson.dumps(payload) + b"\n", durable=False, sync_dir=False)

    def close(self) -> None:
        pinned, self._pinned = self._pinned, None
        if pinned is not None:
            _close(pinned.rev_fd)
            _close(pinned.task_fd)


def parse_recorded(raw: bytes) -> RecordedRevision:
    """A damaged or partial sidecar counts as absent; the revision then restarts above it."""
    try:
        data = orjson.loads(raw)
        revision = int(data["revision"])
        signature = Signature(*(int(part) for part in data["file"]))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return RecordedRevision(0, None)
    return RecordedRevision(revision, signature, data.get("canonical") is True)


def _close(fd: int | None) -> None:
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)
