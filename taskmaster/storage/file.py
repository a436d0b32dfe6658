"""FileStorage: one JSON file shared safely by any number of processes.

Writes: the whole read-modify-write runs under one cross-process lock and re-reads the file
inside it, so no process ever writes back a stale snapshot (the lost update). The new content
goes to a temporary file that is fsynced and renamed over the old one, so a crash leaves the
old file or the new, never a torn one. A file that does not parse is never written over.

A write of the task file also holds the reference tool's `tasks.json.lock`
(`reference_lock.py`), taken inside ours: a group commit (`transact_all`) takes it once for the
whole group.

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
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from taskmaster.errors import (
    HardLinkedTaskFile,
    LockTimeout,
    RevisionMismatch,
    StorageError,
    TaskFileMissing,
)
from taskmaster.journal.entry import DEFAULT_KEEP, Entry, utc_stamp
from taskmaster.journal.file import FileJournal
from taskmaster.model import Document
from taskmaster.storage.atomic import TEMP_SUFFIX, fsync_directory, replace_file
from taskmaster.storage.base import (
    DEFAULT_LOCK_TIMEOUT,
    Commit,
    Draft,
    Outcome,
    ProjectState,
    Snapshot,
    Step,
    journal_entry,
)
from taskmaster.storage.change_gate import gate_for
from taskmaster.storage.regular import open_regular
from taskmaster.storage.resident import Resident, run_steps
from taskmaster.storage.revision import (
    ABSENT,
    REVISION_SUFFIX,
    SETTLE_WINDOW_NS,
    RecordedRevision,
    RevisionFile,
    Signature,
    Version,
    above_every_derivation,
    derive_revision,
    is_settled,
)
from taskmaster.storage.stat_key import os_key
from taskmaster.storage.state_file import StateFile

if TYPE_CHECKING:
    from taskmaster.storage.change_gate import ChangeGate
    from taskmaster.storage.lock import DirectoryLock
    from taskmaster.storage.stat_key import StatKeyFunction
    from taskmaster.storage.watch import FileWatcher

T = TypeVar("T")

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
    """Lock, atomic write and revision for one task file, and the project state beside it.

    `state_file` is the reference tool's `state.json` (the current tag), `config_file` its
    `config.json` (whose default tag counts when state.json names none); by default a
    `state.json` beside the task file and no config file.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        state_file: Path | str | None = None,
        config_file: Path | str | None = None,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        durable: bool = True,
        journal_keep: int = DEFAULT_KEEP,
        journal_max_age_s: float | None = None,
        journal: bool = True,
        keep_document: bool = False,
        reference_lock: bool = True,
    ) -> None:
        """`keep_document`: keep the document of the last commit in memory, and write from it
        while the file stays as this instance wrote it (for long-lived processes: `tm serve`,
        `tm mcp`); without it only a group commit builds one, for its own duration.

        `reference_lock`: a write of the task file also holds the reference tool's
        `tasks.json.lock` (see `reference_lock.py`), so that task-master-ai's own writes
        never interleave with ours; off only for projects the reference tool never writes."""
        # Resolved once: the lock, the sidecar, the temporary file and the rename all act on the
        # real file, whatever name (symlink) it was given by.
        self.path = Path(os.path.realpath(Path(path).absolute()))
        # A long-lived process checks the revision and the state on every read, from many
        # threads: its stats keep the GIL (`quick_stat.py`), chosen once for the directory (the
        # mount table is read once). A one-shot command would only pay for loading ctypes.
        state_path = (
            Path(state_file).absolute()
            if state_file is not None
            else self.path.parent / "state.json"
        )
        config_path = Path(config_file).absolute() if config_file is not None else None
        stat_key: StatKeyFunction = os_key
        state_stat_key = stat_key
        self._gate: ChangeGate | None = None
        if keep_document:
            from taskmaster.storage.quick_stat import held_key, stat_key_for

            stat_key = state_stat_key = stat_key_for(self.path.parent)
            if state_path.parent != self.path.parent:  # named elsewhere: another file system?
                state_stat_key = stat_key_for(state_path.parent)
            if stat_key is held_key and state_stat_key is held_key:  # local file systems
                watched = [self.path, self.path.with_name(self.path.name + REVISION_SUFFIX)]
                watched += [state_path, *([config_path] if config_path is not None else [])]
                self._gate = gate_for(watched)
        self._state = StateFile(state_path, config_path, stat_key=state_stat_key, gate=self._gate)
        self.lock_path = lock_path_for(self.path)
        self.lock_timeout = lock_timeout
        self.reference_lock = reference_lock
        self._reference_depth = 0
        self.durable = durable
        self._revisions = RevisionFile(self.path, stat_key=stat_key, gate=self._gate)
        # `journal=False` only measures what the journal costs (the benchmarks' baseline).
        self._journal = FileJournal(
            self.path,
            durable=durable,
            keep=journal_keep,
            max_age_s=journal_max_age_s,
            enabled=journal,
        )
        self._owner_pid = os.getpid()
        self._thread_lock = threading.RLock()
        self._file_lock: DirectoryLock | None = None
        self._swept = False
        # Revisions this instance committed, so that its watcher can tell them from others'.
        self._committed: deque[int] = deque(maxlen=256)
        self.keep_document = keep_document
        self._resident: Resident | None = None
        self._last_written: Signature | None = None
        """The stat of the file version this instance last wrote."""

    # identity ------------------------------------------------------------------------------
    @property
    def key(self) -> str:
        return f"file:{self.path}"

    @property
    def state_path(self) -> Path:
        return self._state.path

    def describe(self) -> Mapping[str, str]:
        return {"backend": "file", "location": str(self.path)}

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

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """The lock a write of the task file holds: ours, then (unless turned off) the
        reference tool's, both within one `lock_timeout`.

        The reference's is taken inside ours, so writers of ours queue on ours and only one of
        them at a time ever waits here for the reference tool. Reentrant like ours."""
        deadline = time.monotonic() + self.lock_timeout
        with self.locked():
            if not self.reference_lock or self._reference_depth:
                yield
                return
            from taskmaster.storage.reference_lock import hold_reference_lock

            with hold_reference_lock(
                self.path, self.lock_timeout, deadline=deadline, under_our_lock=True
            ):
                self._reference_depth += 1
                try:
                    yield
                finally:
                    self._reference_depth -= 1

    def _forget_locks_of_parent(self) -> None:
        # A forked child must not reuse its parent's lock objects (filelock is fork-aware only
        # per instance, and a thread lock copied while held would never be released).
        if self._owner_pid != os.getpid():
            self._owner_pid = os.getpid()
            self._thread_lock = threading.RLock()
            self._file_lock = None
            self._reference_depth = 0

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

    def state(self) -> ProjectState:
        """The project state: a stat of state.json when nothing changed."""
        return self._state.get()

    def clock(self) -> float:
        """This machine's clock: every process sharing the project shares it."""
        return time.time()

    def change_epoch(self) -> int | None:
        """The change gate's quiet epoch (`change_gate.py`): only a server's storage on a local
        file system has a gate."""
        gate = self._gate
        return gate.quiet_epoch() if gate is not None else None

    def read(self) -> Snapshot:
        """The current document, state and revision, without the write lock."""
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
                    document = Document.from_json(raw, self.path)
                return Snapshot(document, self._state.get(), version.revision)
            if time.monotonic() >= give_up:  # an editor streaming writes without end
                raise _keeps_changing(self.path)

    # writing ------------------------------------------------------------------------------
    def transact(
        self, operation: Callable[[Draft], T], *, expected_revision: int | None = None
    ) -> Commit[T]:
        """Lock, re-read and parse, run `operation`, write atomically what it changed.

        If the file does not parse, CorruptTaskFile is raised before `operation` runs and the
        file stays byte for byte as it was. If `operation` raises, nothing is written. With
        `expected_revision`, the write is refused (RevisionMismatch) unless the project is
        still at that revision: optimistic concurrency for clients that read earlier.

        A changed state is written before the task file: a reader that sees the new revision
        (the rename, or for a state change alone the new revision record) sees the new state.
        """
        outcome = self.transact_all([Step(operation, expected_revision)])[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def transact_all(self, steps: Sequence[Step[Any]]) -> list[Outcome]:
        """Group commit (see `Storage.transact_all`): the steps applied in order to the
        document kept in memory (`resident.py`) and written once.

        The kept document is used while the file is still the version this instance wrote:
        then nothing is read or parsed. Otherwise the file is read and settled as for any
        write; a single step then runs on the parsed document (a `tm` run writes once and
        exits: building rows would only cost it), and the rows are built when they will pay:
        for a group, or when `keep_document` is set and the file is still ours.
        """
        if not steps:
            return []
        with self._writing():
            self._sweep_orphans()
            resident = self._resident_if_current()
            if resident is None:
                raw, version, canonical, links = self._read_locked()
                if links > 1:  # checked by writers only: reading a hard-linked file is fine
                    raise HardLinkedTaskFile.at(self.path, links)
                # Resolve what a killed writer left in the journal, and journal an outside
                # change, before this commit's entry goes after them.
                self._journal.settle(raw, version.revision, ours=canonical, time_now=utc_stamp())
                ours = version.signature == self._last_written
                if len(steps) == 1 and not (self.keep_document and ours):
                    return [self._transact_parsed(steps[0], raw, version, canonical)]
                with paused_gc():
                    document = Document.from_json(raw, self.path)
                    resident = Resident(document, raw, version.revision, version.signature)
                resident.journal_size = self._journal.size()
                self._resident = resident
            try:
                return self._run_resident(resident, steps)
            finally:
                if not self.keep_document:
                    self._resident = None

    def _resident_if_current(self) -> Resident | None:
        """The kept document, if the file is still exactly the version it holds: its stat,
        its revision record and the journal's size all as this instance left them."""
        resident = self._resident
        if resident is None:
            return None
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise TaskFileMissing.at(self.path) from None
        recorded = self._revisions.recorded()
        if (
            Signature.of(st) != resident.signature
            or recorded.signature != resident.signature
            or recorded.revision != resident.revision
            or st.st_nlink > 1
            or self._journal.size() != resident.journal_size
        ):
            self._resident = None
            return None
        return resident

    def _run_resident(self, resident: Resident, steps: Sequence[Step[Any]]) -> list[Outcome]:
        base = resident.revision
        try:
            with paused_gc():
                run = run_steps(
                    resident,
                    steps,
                    load_state=self._state.get,
                    history=self._history_locked,
                    journal=self._journal.enabled,
                )
                if not run.changes:
                    return run.resolve(base, base)
                new = resident.serialised() if run.rows_changed else resident.raw
        except BaseException:
            self._resident = None
            raise
        # A large file's hash and copy are made while its temporary file is written and
        # fsynced: the entry line needs the hash only before the rename.
        prepared = self._journal.prepare(new)
        try:
            state_changed = run.state is not None and self._state.stored_or_none() != run.state
            previous = RecordedRevision(base, resident.signature)
            floor = base + run.changes

            def before_rename() -> None:
                # Flushed before the rename: see taskmaster/journal/file.py for why this order
                # leaves neither a commit without its entry nor an entry without its commit.
                self._journal.begin(run.entries, base, new, sha=prepared.sha())
                if state_changed:
                    assert run.state is not None
                    self._state.write(run.state)

            if run.rows_changed:
                committed = self._write_locked(
                    new, previous, floor=floor, before_rename=before_rename
                )
            else:
                before_rename()
                committed = self._mark_changed_locked(ours=True, floor=floor)
            self._journal.finish(committed, new, prepared)
        except BaseException:
            self._resident = None
            # Nothing of this commit may be written once the lock is released, and the copy
            # it made must not pass for the last commit's.
            self._journal.abandon(prepared, resident.raw)
            raise
        resident.revision = committed
        if run.rows_changed and self._last_written is not None:
            resident.signature = self._last_written
        resident.raw = new
        resident.journal_size = self._journal.size()
        return run.resolve(base, committed)

    def _transact_parsed(
        self, step: Step[Any], raw: bytes, version: Version, canonical: bool
    ) -> Outcome:
        """One step on the document parsed from `raw` (the lock held, the journal settled)."""
        revision = version.revision
        try:
            if step.expected_revision is not None and step.expected_revision != revision:
                raise RevisionMismatch.between(step.expected_revision, revision)
            with paused_gc():
                document = Document.from_json(raw, self.path)
                flat = document.flat
                draft = Draft(document, self._state.get, revision, history=self._history_locked)
                result = step.operation(draft)
                new = document.to_json()
        except Exception as err:  # the step's outcome: nothing was written
            return err
        state_changed = draft.state_assigned and self._state.stored_or_none() != draft.state
        # Another program's bytes differ from ours in layout alone: compare what they mean,
        # so that an operation that changes nothing never rewrites (reformats) their file.
        unchanged = new == raw or (
            not canonical and new == Document.from_json(raw, self.path).to_json()
        )
        if unchanged and not state_changed:
            return Commit(result, revision, changed=False)
        written = raw if unchanged else new
        if self._journal.enabled:
            with paused_gc():
                # The bytes parsed again (validated once already): the document before.
                before = document if unchanged else Document(orjson.loads(raw), flat=flat)
                entry = journal_entry(draft, before)
            # Flushed before the rename: see taskmaster/journal/file.py for why this order
            # leaves neither a commit without its entry nor an entry without its commit.
            self._journal.begin([entry], revision, written)
        if state_changed:
            self._state.write(draft.state)
        if unchanged:
            committed = self._mark_changed_locked(ours=True)
        else:
            committed = self._write_locked(new, RecordedRevision(revision, version.signature))
        self._journal.finish(committed, written)
        return Commit(result, committed, changed=True)

    def create(self, document: Document, state: ProjectState) -> list[str]:
        """Write whatever is missing of the task file and state.json; the paths written."""
        created: list[str] = []
        with self._writing():
            if not self.path.exists():
                self._write_locked(document.to_json(), self._revisions.recorded())
                created.append(str(self.path))
            if not self._state.exists():
                self._state.write(state)
                created.append(str(self._state.path))
        return created

    # journal --------------------------------------------------------------------------------
    def history(self, after: int = 0, limit: int | None = None) -> list[Entry]:
        """The journal's committed entries above `after` (the first `limit` of them), without
        the lock."""
        return self._journal.entries(self._current_bytes, after, limit)

    def _history_locked(self, after: int) -> list[Entry]:
        return self.history(after)

    def _current_bytes(self) -> tuple[int, bytes]:
        version = self._version()
        with os.fdopen(open_regular(self.path), "rb") as handle:
            return version.revision, handle.read()

    def journal_stats(self) -> dict[str, Any]:
        return self._journal.stats()

    def compact_journal(self, keep: int | None = None, max_age_s: float | None = None) -> int:
        with self.locked():
            return self._journal.compact(keep, max_age_s)

    def journaled(self, revision: int) -> bool:
        """Whether the journal has an entry at `revision` or later (an unresolved entry that
        the task file proves committed counts): how the watcher tells an editor's change,
        which nobody journaled yet, from a commit of ours."""
        last = self._journal.last_revision()
        if last is not None and last >= revision:
            return True
        return any(e["revision"] >= revision for e in self.history(revision - 1))

    def journal_outside_change(self) -> int:
        """Under the lock, record an outside change (an editor's, the reference tool's) in the
        journal now, rather than at the next write: what a watcher calls on an outside event.
        Returns the revision it is journaled at.

        Our lock only, not the reference tool's: it writes the journal and the revision
        sidecars, which the reference never reads, and reads the task file, which the reference
        replaces only by rename (whole)."""
        with self.locked():
            raw, version, canonical, _ = self._read_locked()
            self._journal.settle(raw, version.revision, ours=canonical, time_now=utc_stamp())
            return version.revision

    def changes(self, on_change: Callable[[int], None]) -> FileWatcher:
        """A watcher of the task file's directory that reports other programs' changes."""
        from taskmaster.storage.watch import FileWatcher

        return FileWatcher(self, on_change)

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

    def _write_locked(
        self,
        data: bytes,
        previous: RecordedRevision,
        *,
        floor: int = 0,
        before_rename: Callable[[], None] | None = None,
    ) -> int:
        """Replace the file with `data` and record its revision: at least `floor` (a group
        commit's steps took the numbers below it)."""
        replace_file(
            self.path, data, durable=self.durable, sync_dir=False, before_rename=before_rename
        )
        # Stat after the rename: rename itself changes ctime. We hold the lock, so nobody else
        # of ours can have replaced the file in between. Derived like a reader would (one that
        # found the file renamed before the sidecar), so that no reader's number exceeds ours.
        signature = Signature.of(os.stat(self.path))
        revision = max(derive_revision(previous, signature), floor)
        self._committed.append(revision)
        self._last_written = signature
        self._revisions.record(revision, signature, canonical=True)
        if self.durable:
            fsync_directory(self.path.parent)
        return revision

    def mark_changed(self) -> int:
        """Give the file as it is now a new revision, even if its stat looks unchanged.

        For in-place writes by other programs, which on a coarse clock can keep size and mtime
        (the watcher calls this on their events), and for a change of the state alone.
        Sidecars only, like `journal_outside_change`: our lock, not the reference tool's.
        """
        with self.locked():
            revision = self._mark_changed_locked()
            with contextlib.suppress(OSError), open(self.path, "rb") as handle:
                raw = handle.read()
                self._journal.settle(raw, revision, ours=False, time_now=utc_stamp())
            return revision

    def _mark_changed_locked(self, *, ours: bool = False, floor: int = 0) -> int:
        try:
            signature = Signature.of(os.stat(self.path))
        except FileNotFoundError:
            raise TaskFileMissing.at(self.path) from None
        recorded = self._revisions.recorded()
        revision = max(above_every_derivation(recorded, signature), floor)
        # Same stat: the bytes may still be ours (a state change, not an edit); if an editor
        # did write them, treating them as ours only costs a reformat on the next write.
        canonical = recorded.canonical and recorded.signature == signature
        self._revisions.record(revision, signature, canonical=canonical)
        if ours:
            self._committed.append(revision)
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
        if self._gate is not None:
            self._gate.close()
        self._revisions.close()
        self._journal.close()

    def __repr__(self) -> str:
        return f"FileStorage({str(self.path)!r})"


def _keeps_changing(path: Path) -> StorageError:
    return StorageError(
        f"task file {path} keeps changing (another program is writing it); try again",
        path=str(path),
    )
