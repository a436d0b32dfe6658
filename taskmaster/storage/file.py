"""FileStorage: one JSON file shared safely by any number of processes.

Writes: the whole read-modify-write runs under one cross-process lock and re-reads the file
inside it, so no process ever writes back a stale snapshot (the lost update). The new content
goes to a temporary file that is fsynced and renamed over the old one, so a crash leaves the
old file or the new, never a torn one. A file that does not parse is never written over.

Reads take no lock and write nothing: they validate against the revision (see `revision.py`),
so a user who may read but not write the project, or a read-only mount, can read it.

The file is named by its resolved path: every name of one file (a symlinked `tasks.json`,
`tm -f LINK`) shares one lock and one revision, and a write replaces the real file, never the
link. A file with several hard links is read but not written: replacing it would leave its other
names behind with the old content.
"""

from __future__ import annotations

import contextlib
import gc
import glob
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from taskmaster.errors import (
    HardLinkedTaskFile,
    LockTimeout,
    RevisionMismatch,
    StorageError,
    TaskFileMissing,
)
from taskmaster.model import Document
from taskmaster.storage.atomic import TEMP_SUFFIX, fsync_directory, replace_file
from taskmaster.storage.base import Commit, Snapshot
from taskmaster.storage.regular import open_regular
from taskmaster.storage.revision import (
    ABSENT,
    SETTLE_WINDOW_NS,
    RecordedRevision,
    RevisionFile,
    Signature,
    Version,
    above_every_derivation,
    derive_revision,
    is_settled,
)

if TYPE_CHECKING:
    from taskmaster.storage.lock import DirectoryLock

T = TypeVar("T")

DEFAULT_LOCK_TIMEOUT = 10.0
# filelock polls flock; its 50 ms default makes hand-off under contention slow and unfair.
LOCK_POLL_INTERVAL = 0.001
# While a version is unsettled (see revision.py), readers look again this often: a writer of
# ours updates the sidecar microseconds after its rename.
_SETTLE_POLL_INTERVAL = 0.001
SETTLE_WINDOW = SETTLE_WINDOW_NS / 1e9


@contextmanager
def paused_gc() -> Iterator[None]:
    """Hold the cyclic garbage collector while a document is parsed and rebuilt.

    Parsing a 5,000-task file allocates hundreds of thousands of containers, which triggers
    full collections that scan them all (measured: a third of a 5,000-task transaction).
    JSON values cannot form cycles, so those scans never free anything; reference counting
    frees the document as soon as it is dropped.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def lock_path_for(task_path: Path) -> Path:
    """What the write lock of `task_path` locks: the directory that holds the real file.

    A directory, not a lock file: a lock file can be deleted while held (see `lock.py`). Not the
    reference tool's `tasks.json.lock` either, which is another protocol.
    """
    return Path(os.path.realpath(task_path)).parent


class FileStorage:
    """Lock, atomic write and revision for one task file."""

    def __init__(
        self,
        path: Path | str,
        *,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        durable: bool = True,
    ) -> None:
        # Resolved once: the lock, the sidecar, the temporary file and the rename all act on the
        # real file, whatever name (symlink) it was given by.
        self.path = Path(os.path.realpath(Path(path).absolute()))
        self.lock_path = lock_path_for(self.path)
        self.lock_timeout = lock_timeout
        self.durable = durable
        self._revisions = RevisionFile(self.path)
        self._owner_pid = os.getpid()
        self._thread_lock = threading.RLock()
        self._file_lock: DirectoryLock | None = None
        self._swept = False
        # Revisions this instance committed, so that its watcher can tell them from others'.
        self._committed: deque[int] = deque(maxlen=256)

    # locking ------------------------------------------------------------------------------
    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the cross-process write lock (LockTimeout after `lock_timeout` seconds).

        flock excludes processes; the thread lock in front of it excludes this process's own
        threads. Both are reentrant, so a caller may hold the lock around a transaction.
        """
        from filelock import Timeout  # a read-only command never pays for importing it

        self._forget_locks_of_parent()
        deadline = time.monotonic() + self.lock_timeout
        if not self._thread_lock.acquire(timeout=self.lock_timeout):
            raise LockTimeout.on(self.lock_path, self.lock_timeout)
        try:
            file_lock = self._process_file_lock()
            try:
                file_lock.acquire(timeout=max(0.0, deadline - time.monotonic()))
            except Timeout:
                raise LockTimeout.on(self.lock_path, self.lock_timeout) from None
            try:
                yield
            finally:
                file_lock.release()
        finally:
            self._thread_lock.release()

    def _forget_locks_of_parent(self) -> None:
        # A forked child must not reuse its parent's lock objects (filelock is fork-aware only
        # per instance, and a thread lock copied while held would never be released).
        if self._owner_pid != os.getpid():
            self._owner_pid = os.getpid()
            self._thread_lock = threading.RLock()
            self._file_lock = None

    def _process_file_lock(self) -> DirectoryLock:
        """This process's lock object, made on first use: called under the thread lock, so two
        threads cannot each make one."""
        if self._file_lock is None:
            from taskmaster.storage.lock import DirectoryLock

            self._file_lock = DirectoryLock(
                self.lock_path, timeout=self.lock_timeout, poll_interval=LOCK_POLL_INTERVAL
            )
        return self._file_lock

    # reading ------------------------------------------------------------------------------
    def revision(self) -> int:
        """The current revision: two stat calls when nothing changed, no lock."""
        return self._version().revision

    def _version(self) -> Version:
        """The current version, without the lock: recorded, or derived once it has settled."""
        pending: Signature | None = None
        deadline = 0.0
        give_up = time.monotonic() + self.lock_timeout
        while True:
            try:
                current = self._revisions.current()
            except FileNotFoundError:
                raise TaskFileMissing.at(self.path) from None
            if isinstance(current, Version):
                return current
            signature = current.signature
            now = time.monotonic()
            if signature != pending:  # a new version: its own settle window
                pending, deadline = signature, now + SETTLE_WINDOW
            # The monotonic deadline only matters when the wall clock disagrees with the ctime
            # (set back, or a ctime in the future); normally the window has passed by then.
            if current.recorded is not None and is_settled(signature, time.time_ns()):
                return Version(derive_revision(current.recorded, signature), signature)
            if now >= deadline:
                return Version(derive_revision(current.recorded or ABSENT, signature), signature)
            if now >= give_up:
                raise _keeps_changing(self.path)
            time.sleep(_SETTLE_POLL_INTERVAL)

    def read(self) -> Snapshot:
        """The current document and its revision, without the write lock."""
        give_up = time.monotonic() + self.lock_timeout
        while True:
            version = self._version()
            try:
                with os.fdopen(open_regular(self.path), "rb") as handle:
                    before = Signature.of(os.fstat(handle.fileno()))
                    raw = handle.read()
                    after = Signature.of(os.fstat(handle.fileno()))
            except FileNotFoundError:
                raise TaskFileMissing.at(self.path) from None
            # Keep the bytes only if they are exactly the version the revision names; a rename
            # or an in-place write in the meantime shows up as another signature.
            if before == version.signature == after:
                with paused_gc():
                    return Snapshot(Document.from_json(raw, self.path), version.revision)
            if time.monotonic() >= give_up:  # an editor streaming writes without end
                raise _keeps_changing(self.path)

    # writing ------------------------------------------------------------------------------
    def transact(
        self, operation: Callable[[Document], T], *, expected_revision: int | None = None
    ) -> Commit[T]:
        """Lock, re-read and parse, run `operation`, write atomically if it changed anything.

        If the file does not parse, CorruptTaskFile is raised before `operation` runs and the
        file stays byte for byte as it was. If `operation` raises, nothing is written. With
        `expected_revision`, the write is refused (RevisionMismatch) unless the file is still
        at that revision: optimistic concurrency for clients that read earlier.
        """
        with self.locked():
            self._sweep_orphans()
            raw, version, canonical, links = self._read_locked()
            revision = version.revision
            if links > 1:  # checked by writers only: reading a hard-linked file is fine
                raise HardLinkedTaskFile.at(self.path, links)
            if expected_revision is not None and expected_revision != revision:
                raise RevisionMismatch.between(expected_revision, revision)
            with paused_gc():
                document = Document.from_json(raw, self.path)
                result = operation(document)
                new = document.to_json()
            # Another program's bytes differ from ours in layout alone: compare what they mean,
            # so that an operation that changes nothing never rewrites (reformats) their file.
            if new == raw or (
                not canonical and new == Document.from_json(raw, self.path).to_json()
            ):
                return Commit(result, revision, changed=False)
            recorded = RecordedRevision(revision, version.signature)
            return Commit(result, self._write_locked(new, recorded), changed=True)

    def create(self, document: Document) -> bool:
        """Write `document` as a new task file unless one exists; True if it was written."""
        with self.locked():
            if self.path.exists():
                return False
            self._write_locked(document.to_json(), self._revisions.recorded())
            return True

    def _read_locked(self) -> tuple[bytes, Version, bool, int]:
        """The file's bytes, their version, whether we wrote them exactly like that, and the
        file's number of hard links.

        An outside change is recorded with the revision readers derive for it, once settled:
        until its window has passed, another change could still show the same ctime.
        """
        give_up = time.monotonic() + self.lock_timeout
        while True:
            try:
                with os.fdopen(open_regular(self.path), "rb") as handle:
                    raw = handle.read()
                    st = os.fstat(handle.fileno())
            except FileNotFoundError:
                raise TaskFileMissing.at(self.path) from None
            signature = Signature.of(st)
            recorded = self._revisions.recorded()
            if recorded.signature == signature:
                return raw, Version(recorded.revision, signature), recorded.canonical, st.st_nlink
            now = time.time_ns()
            if is_settled(signature, now) or time.monotonic() >= give_up:
                revision = derive_revision(recorded, signature)
                self._revisions.record(revision, signature)
                return raw, Version(revision, signature), False, st.st_nlink
            time.sleep(max(_SETTLE_POLL_INTERVAL, (signature.ctime_ns - now) / 1e9 + SETTLE_WINDOW))

    def _write_locked(self, data: bytes, previous: RecordedRevision) -> int:
        replace_file(self.path, data, durable=self.durable, sync_dir=False)
        # Stat after the rename: rename itself changes ctime. We hold the lock, so nobody else
        # of ours can have replaced the file in between. Derived like a reader would (one that
        # found the file renamed before the sidecar), so that no reader's number exceeds ours.
        signature = Signature.of(os.stat(self.path))
        revision = derive_revision(previous, signature)
        self._committed.append(revision)
        self._revisions.record(revision, signature, canonical=True)
        if self.durable:
            fsync_directory(self.path.parent)
        return revision

    def mark_changed(self) -> int:
        """Give the file as it is now a new revision, even if its stat looks unchanged.

        For in-place writes by other programs, which on a coarse clock can keep size and mtime,
        and for project state kept beside the file (the current tag) that answers depend on.
        """
        with self.locked():
            try:
                signature = Signature.of(os.stat(self.path))
            except FileNotFoundError:
                raise TaskFileMissing.at(self.path) from None
            recorded = self._revisions.recorded()
            revision = above_every_derivation(recorded, signature)
            # Same stat: the bytes may still be ours (a state change, not an edit); if an editor
            # did write them, treating them as ours only costs a reformat on the next write.
            canonical = recorded.canonical and recorded.signature == signature
            self._revisions.record(revision, signature, canonical=canonical)
            return revision

    def committed_here(self, revision: int) -> bool:
        """Whether this instance wrote `revision` (recent commits only)."""
        return revision in self._committed

    def _sweep_orphans(self) -> None:
        """Remove temporary files left by writers that were killed before their rename.

        Our temporaries are only created under the lock, so none of them is in use while we
        hold it. Once per instance is enough, and keeps a directory scan off the hot path.
        """
        if self._swept:
            return
        self._swept = True
        prefix = f".{self.path.name}."
        for orphan in self.path.parent.glob(f"{glob.escape(prefix)}*{TEMP_SUFFIX}"):
            with contextlib.suppress(FileNotFoundError):
                orphan.unlink()

    def close(self) -> None:
        self._revisions.close()

    def __repr__(self) -> str:
        return f"FileStorage({str(self.path)!r})"


def _keeps_changing(path: Path) -> StorageError:
    return StorageError(
        f"task file {path} keeps changing (another program is writing it); try again",
        path=str(path),
    )
