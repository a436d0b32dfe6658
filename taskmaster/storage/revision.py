"""The revision of a task file: a number that grows with every change and is cheap to read.

Neither mtime nor (inode, mtime, size) can serve as a version here: ext4 mtimes are coarse, and
an atomic rename frees the old inode number, which the next rename happily reuses (A, B, A, B...),
so two different contents can show the same stat. We therefore keep a counter in a sidecar file
``<name>.tm-rev`` that writers update (under the write lock) right after replacing the task file,
together with the stat signature of the task file they wrote.

A reader trusts the counter only while the task file still shows that signature, and it keeps a
descriptor open on both inodes it validated: an inode number cannot be reused while a descriptor
holds it, so "same inode number as the pinned one" really means "the same file". The fast path is
two ``stat`` calls (in a server, ones that keep the GIL on a local file system:
`quick_stat.py`; and while an inotify queue over the files stays empty, none: `change_gate.py`).

Anything else that changed the task file (an editor, the reference Node tool, ``touch``, ``git
checkout``, a lost sidecar) shows up as a signature mismatch. Readers then *derive* the revision
from what they see, without the lock and without writing anything (`derive_revision`): the
recorded revision plus one, or the file's ctime plus a settle window, whichever is larger. The
ctime is set by the kernel (``touch`` cannot forge it), so every reader derives the same number
for the same file, and a writer settling the change under the lock records exactly that number.
Kernel timestamps advance in ticks of 1-10 ms, so two changes within one tick can share a ctime;
a change is therefore only given a revision once the settle window has passed since its ctime
(readers poll until then): any later change shows a later ctime, so the content seen then is the
only one that will ever carry that revision. A writer's own revision is derived the same way, so
that a reader that found the task file renamed but the sidecar not yet updated (the writer was
killed or stalled in between) names it with a number the writer's record never undercuts.

The sidecar is rewritten in place, not replaced: one ``pwrite`` of a fixed-size record instead of
a temporary file and a rename, which cost a third of a transaction (creating an inode, then
freeing the old one). Two things make that as safe as the rename was:

- Readers must see every update in the sidecar's stat, or the two-``stat`` fast path would miss
  a revision that changed without the task file (`mark_changed`). An in-place write only moves
  mtime at the clock's coarse granularity, so the writer then sets the sidecar's mtime to the
  revision itself (``futimens``): distinct for every revision, exact on ext4, xfs, btrfs and tmpfs.
  Where it does not read back exactly (a coarse filesystem, a sidecar owned by another user), the
  writer falls back to the atomic replace, whose new inode number readers notice as before.
  The content is written before the mtime, and readers take the stat before the content, so a
  reader that saw the new stat reads the new record (or a newer one).
- A read that overlaps the write can see part of each record. Every record carries a CRC-32 of
  itself; a reader retries a record that does not check, and if it never does it settles the
  record for a settle window and then counts it as absent. An absent or damaged record derives
  a revision one and a half windows above the file's ctime: above every revision written before it.

The counter lives beside the file rather than inside it because any new top-level key in a
tagged file would look like a tag to the reference tool.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import orjson

from taskmaster.storage.atomic import replace_file
from taskmaster.storage.change_gate import Gated
from taskmaster.storage.kept import KeptFile
from taskmaster.storage.regular import open_regular
from taskmaster.storage.stat_key import key_of, os_key

if TYPE_CHECKING:
    from taskmaster.storage.change_gate import ChangeGate
    from taskmaster.storage.stat_key import StatKey, StatKeyFunction

RECORD_SIZE = 192
"""Every record has this size, so that one in-place write covers the whole previous one."""
_MAGIC = b"tm-rev 2"
REVISION_SUFFIX = ".tm-rev"
# A torn read needs a writer in the middle of a 192-byte pwrite: one re-read almost always
# finds the whole record. After these, the reader reports the record as torn (and polls).
_READ_ATTEMPTS = 5

SETTLE_WINDOW_NS = 50_000_000
"""How long after its ctime an unrecorded change is given a revision: more than one tick of the
kernel's coarse clock (10 ms at HZ=100), after which no further change can show the same ctime."""
_SETTLE_WINDOW_US = SETTLE_WINDOW_NS // 1000
# Where a revision derived without a record starts above the ctime. Above one window, which is
# where writers keep revisions (plus one per write within one clock tick); below two windows
# less two ticks, beyond which two changes settled after one record could both get "record + 1".
_ABSENT_OFFSET_US = _SETTLE_WINDOW_US * 3 // 2


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
    # The sidecar's key (`stat_key`) when its record was read (stat'ed first); None if absent.
    rev_key: StatKey | None
    # The task file's key: the version's signature, as the fast path's stat gives it.
    task_key: StatKey
    # Held open only so that the inode numbers above cannot be reused; never read through.
    rev_fd: int | None
    task_fd: int


@dataclass(frozen=True, slots=True)
class Unvouched:
    """The task file as stat shows it, with a sidecar record that does not name that version."""

    recorded: RecordedRevision | None
    """None: the record did not check on any attempt (a writer in the middle of updating it)."""
    signature: Signature


ABSENT = RecordedRevision(0, None)


def derive_revision(recorded: RecordedRevision, signature: Signature) -> int:
    """The revision of the task file version `signature` describes, after `recorded`.

    A pure function of what every process can see, so readers agree on it without writing it
    down. Strictly above the recorded revision; strictly increasing with the ctime, so that two
    versions settled from one record never share a number. The ctime floor keeps revisions
    above the clock, so a lost sidecar (a crash before it reached the disk, a user deleting it)
    restarts above every old value: half a window higher, because consecutive writes within one
    clock tick each add one to the last revision rather than follow the (unchanged) ctime.

    Versions settled after one record are at least a window less a tick apart in ctime (each was
    seen settled before the next was made), so the `record + 1` branch can serve at most one of
    them as long as a record stays less than two windows less two ticks above the time it was
    made: writers (`_ABSENT_OFFSET_US`, `above_every_derivation`) keep to that.
    """
    ctime_us = signature.ctime_ns // 1000
    if recorded.signature is None:
        return ctime_us + _ABSENT_OFFSET_US
    return max(recorded.revision + 1, ctime_us + _SETTLE_WINDOW_US)


def is_settled(signature: Signature, now_ns: int) -> bool:
    """Whether the settle window has passed since the version's ctime (see the module doc)."""
    return now_ns >= signature.ctime_ns + SETTLE_WINDOW_NS


def above_every_derivation(recorded: RecordedRevision, signature: Signature) -> int:
    """A revision above any that a reader may have derived from `recorded` up to now.

    For a writer that must give a new number to a file whose stat may not have changed.
    """
    now_us = time.time_ns() // 1000
    floor = now_us + (_ABSENT_OFFSET_US if recorded.signature is None else _SETTLE_WINDOW_US)
    return max(derive_revision(recorded, signature), recorded.revision + 1, floor) + 1


class RevisionFile:
    """Reads and writes the sidecar, and answers "what is the current revision?" cheaply."""

    def __init__(
        self,
        task_path: Path,
        *,
        stat_key: StatKeyFunction = os_key,
        gate: ChangeGate | None = None,
    ) -> None:
        """`stat_key`: what the fast path's two stats call (a server's keeps the GIL where that
        is safe: `quick_stat.stat_key_for`). `gate`: one watching the task file and the
        sidecar, which spares those stats while nothing changed (`change_gate.py`)."""
        self.task_path = task_path
        self.path = task_path.with_name(task_path.name + REVISION_SUFFIX)
        self._stat_key = stat_key
        self._path = os.fsencode(self.path)
        self._task_path = os.fsencode(task_path)
        self._pinned: _Pinned | None = None
        self._refresh_lock = threading.Lock()
        self._in_place = True
        self._writer = KeptFile(self.path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o666)
        self._gated: Gated[Version | Unvouched] | None = None
        if gate is not None:
            # Only a vouched version is kept: an unvouched one is polled until it settles.
            self._gated = Gated(gate, self._stat_current, lambda found: isinstance(found, Version))

    # reading ------------------------------------------------------------------------------
    def current(self) -> Version | Unvouched:
        """The version of the task file as it is now, or what is known when the sidecar does not
        vouch for it: either a writer is between its task file rename and its sidecar update, or
        another program changed the file. The caller then polls or derives (`derive_revision`).
        """
        gated = self._gated
        return gated.get() if gated is not None else self._stat_current()

    def _stat_current(self) -> Version | Unvouched:
        # Stat before loading the pinned state. A pinned state's descriptors stay open until a
        # newer one is published, so an inode we compare against was pinned when we stat'ed it,
        # or the state is newer than our stat: either way the answer is not older than the call.
        try:
            rev_key: StatKey | None = self._stat_key(self._path)
        except FileNotFoundError:
            rev_key = None
        task_key = self._stat_key(self._task_path)
        pinned = self._pinned
        if pinned is not None and pinned.rev_key == rev_key and pinned.task_key == task_key:
            return pinned.version
        return self._refresh()

    def _refresh(self) -> Version | Unvouched:
        with self._refresh_lock:
            rev_fd, rev_key, recorded = self._open_recorded()
            try:
                task_fd = open_regular(self.task_path)
            except BaseException:
                _close(rev_fd)
                raise
            task_st = os.fstat(task_fd)
            task_sig = Signature.of(task_st)
            if recorded is None or recorded.signature != task_sig:
                _close(rev_fd)
                _close(task_fd)
                return Unvouched(recorded, task_sig)
            version = Version(recorded.revision, task_sig)
            pinned = _Pinned(version, rev_key, key_of(task_st), rev_fd, task_fd)
            old, self._pinned = self._pinned, pinned
            if old is not None:
                _close(old.rev_fd)
                _close(old.task_fd)
            return version

    def _open_recorded(
        self,
    ) -> tuple[int | None, StatKey | None, RecordedRevision | None]:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            return None, None, ABSENT
        try:
            # The stat before the content: a record newer than its stat only costs a refresh.
            rev_key = key_of(os.fstat(fd))
            for _ in range(_READ_ATTEMPTS):
                recorded = decode_record(os.pread(fd, 4096, 0))
                if recorded is not None:
                    break
            else:  # torn every time, or damaged: the caller polls, then counts it as absent
                recorded = None
        except BaseException:
            _close(fd)
            raise
        return fd, rev_key, recorded

    def recorded(self) -> RecordedRevision:
        """The sidecar's content as it is on disk now (callers hold the write lock).

        Every writer holds the lock too, so nothing can tear this read: a record that does not
        check is damaged, and counts as absent.
        """
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            return RecordedRevision(0, None)
        try:
            raw = os.pread(fd, 4096, 0)
        finally:
            os.close(fd)
        return parse_recorded(raw)

    # writing (under the write lock) -------------------------------------------------------
    def record(self, revision: int, signature: Signature, *, canonical: bool = False) -> None:
        data = encode_record(revision, signature, canonical)
        if self._in_place and self._write_in_place(data, revision):
            return
        # Not fsynced: a sidecar lost in a crash only costs a bump, and next_revision's clock
        # floor keeps the numbers increasing. The caller's directory fsync covers the rename.
        replace_file(self.path, data, durable=False, sync_dir=False)

    def _write_in_place(self, data: bytes, revision: int) -> bool:
        """Overwrite the record and stamp the sidecar's mtime with the revision.

        False when readers could not see the update in the sidecar's stat; the caller then
        replaces the file instead (a new inode number is always visible).
        """
        stamp = revision * 1000
        if not 0 < stamp < 1 << 63:  # beyond what a timestamp holds
            return False
        try:
            fd, st = self._writer.open()
        except OSError:  # not ours to write, or a symlink: the replace decides
            return False
        try:
            if os.pwrite(fd, data, 0) != len(data):
                self._writer.close()
                return False
            if st.st_size > len(data):  # an older, longer record
                os.ftruncate(fd, len(data))
            # Content first, stamp second: a reader that sees the stamp reads this record.
            os.utime(fd, ns=(stamp, stamp))
            if os.fstat(fd).st_mtime_ns != stamp:
                self._in_place = False  # coarse timestamps here: every update must replace
                self._writer.close()
                return False
        except PermissionError:  # only the owner may set times: replacing makes us the owner
            self._writer.close()
            return False
        return True

    def close(self) -> None:
        # Under the refresh lock: a refresh swapping in its pin closes the one it replaces,
        # and that must not be the one closed here too (its numbers may be reused by then).
        with self._refresh_lock:
            pinned, self._pinned = self._pinned, None
        if pinned is not None:
            _close(pinned.rev_fd)
            _close(pinned.task_fd)
        self._writer.close()


def encode_record(revision: int, signature: Signature, canonical: bool) -> bytes:
    """One fixed-size line: magic, revision, the task file's signature, canonical, CRC-32."""
    body = b"%s %d %d %d %d %d %d %d" % (_MAGIC, revision, *signature, canonical)
    line = b"%s %08x" % (body, zlib.crc32(body))
    if len(line) >= RECORD_SIZE:  # 64-bit stat fields always fit; anything else is a bug
        raise ValueError(f"revision record too long: {line!r}")
    return line.ljust(RECORD_SIZE - 1) + b"\n"


def decode_record(raw: bytes) -> RecordedRevision | None:
    """The record in `raw`, or None if it does not check (torn by a concurrent write, damaged).

    A JSON record is what earlier versions wrote; they replaced the file atomically, so it is
    never torn, only damaged.
    """
    if raw[:1] == b"{":
        return _decode_json_record(raw)
    body, _, check = raw.rstrip().rpartition(b" ")
    if not body.startswith(_MAGIC + b" "):
        return None
    try:
        if int(check, 16) != zlib.crc32(body):
            return None
        revision, dev, ino, size, mtime_ns, ctime_ns, canonical = map(
            int, body[len(_MAGIC) + 1 :].split(b" ")
        )
    except ValueError:
        return None
    return RecordedRevision(revision, Signature(dev, ino, size, mtime_ns, ctime_ns), canonical == 1)


def _decode_json_record(raw: bytes) -> RecordedRevision | None:
    try:
        data = orjson.loads(raw)
        revision = int(data["revision"])
        signature = Signature(*(int(part) for part in data["file"]))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
    return RecordedRevision(revision, signature, data.get("canonical") is True)


def parse_recorded(raw: bytes) -> RecordedRevision:
    """A damaged or partial sidecar counts as absent; the revision then restarts above it."""
    recorded = decode_record(raw)
    return recorded if recorded is not None else RecordedRevision(0, None)


def _close(fd: int | None) -> None:
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)
