"""The file backend's journal: `tasks.json.tm-journal`, JSON lines beside the task file.

The reference tool ignores the file. It is appended to, never rewritten on the hot path (only
compaction rewrites it, atomically). Two kinds of lines:

    {"base": R0, "sha": H, "entry": {...}}    written and flushed *before* the task file is
                                               renamed: the entry of a commit about to happen,
                                               from revision R0, whose task file hashes to H
    {"commit": R, "sha": H}                    written after the rename and the revision
                                               record: that entry committed as revision R

A writer killed at any instant leaves one of these, and the next writer (under the write lock,
before it appends its own) or any reader resolves it the same way:

- killed before its entry line is complete: a torn last line, ignored and cut off;
- killed after its entry line, before the rename: the task file does not hash to H, so the entry
  never committed; readers ignore it, the next writer cuts it off;
- killed after the rename, before its commit line: the task file hashes to H and its revision
  (recorded, or derived as every reader derives it) is above R0: the entry committed at that
  revision; readers count it so, the next writer appends the missing commit line.

So every committed revision has its entry and no entry outlives a commit that never happened.
Only the last entry can be unresolved: every writer resolves it first.

A group commit (several commands applied in one write, see `FileStorage.transact_all`) writes
one entry line for all of them: the last command's entry under ``entry``, the earlier ones,
each with the revision it was given, under ``batch``; its commit line adds ``"count": k``. One
line, so the whole group commits or none of it does, by the same rules.

Changes made by another program are found by a writer or the watcher under the lock: a task
file that does not hash to the last commit's H gets an `external` entry, its differences
computed against `tasks.json.tm-last`, the bytes of the last commit (written with each commit,
not flushed: after a power loss it may be older, and after a writer killed mid-commit it may
hold bytes that never committed; either way its hash shows it, and the difference is recorded
as unknown rather than guessed; see `Prepared` for when it is written). An outside change that
puts back values our commits had replaced (the reference tool writing back a stale copy) says
so under ``reverts`` (`reversions.py`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from taskmaster.journal.changes import diff
from taskmaster.journal.entry import DEFAULT_KEEP, Entry, Origin, new_entry, without_values
from taskmaster.journal.reversions import LOOKBACK_ENTRIES, reversions
from taskmaster.model import Document
from taskmaster.storage.atomic import replace_file
from taskmaster.storage.kept import KeptFile

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

JOURNAL_SUFFIX = ".tm-journal"
LAST_SUFFIX = ".tm-last"
_TAIL_CHUNK = 64 * 1024
_CHECK_EVERY_BYTES = 1 << 20


def sha_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


LARGE_COMMIT_BYTES = 1 << 20
"""From this size on, a commit's hash and its copy are made on the journal's worker thread."""


class Prepared:
    """What a commit's bytes need besides the task file: their hash, which the entry line
    needs before the rename, and their copy as the last commit (`.tm-last`), which must be
    written before the lock is released.

    For a large commit both are made on the journal's worker thread while the caller writes
    and fsyncs the temporary file (hashlib and file writes release the GIL): at 10,000 tasks
    (7 MiB) the hash is ~6 ms and the copy ~1.5 ms of a ~20 ms write. The copy then lands
    before the rename: a commit that fails after it puts the last commit's copy back
    (`FileJournal.abandon`), and one killed after it leaves a copy of bytes that never
    committed, which the copy's hash check reports as unknown, as it does a copy lost to a
    power loss. A small commit is hashed when asked and copied after the rename."""

    __slots__ = ("_data", "_sha", "_work")

    def __init__(self, data: bytes, work: Future[str] | None) -> None:
        self._data = data
        self._work = work
        self._sha: str | None = None

    def sha(self) -> str:
        if self._sha is None:
            self._sha = self._work.result() if self._work is not None else sha_of(self._data)
        return self._sha

    @property
    def copied(self) -> bool:
        """The copy is written (or being written) by the worker: `finish` only waits for it."""
        return self._work is not None

    def wait(self) -> None:
        """Until the worker is done with this commit (the caller is about to release the lock,
        whatever happened); its errors are not the caller's."""
        if self._work is not None:
            with contextlib.suppress(Exception):
                self._work.result()


class _Tail:
    """The journal's last line, as a writer needs it."""

    __slots__ = ("base", "committed", "offset", "revision", "sha")

    def __init__(
        self, offset: int, committed: bool, sha: str, base: int, revision: int | None
    ) -> None:
        self.offset = offset
        self.committed = committed
        self.sha = sha
        self.base = base
        self.revision = revision


class FileJournal:
    """The journal sidecar of one task file."""

    def __init__(
        self,
        task_path: Path,
        *,
        durable: bool = True,
        keep: int = DEFAULT_KEEP,
        max_age_s: float | None = None,
        enabled: bool = True,
    ) -> None:
        self.task_path = task_path
        self.enabled = enabled
        self.path = task_path.with_name(task_path.name + JOURNAL_SUFFIX)
        self.last_path = task_path.with_name(task_path.name + LAST_SUFFIX)
        self.durable = durable
        self.keep = keep
        self.max_age_s = max_age_s
        self._writer = KeptFile(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        self._last_writer = KeptFile(self.last_path, os.O_WRONLY | os.O_CREAT)
        self._checked_size = 0
        self._counted: tuple[int, int, int] = (0, 0, 0)
        """(inode, size, committed entries) of the journal when it was last counted."""
        self._pending_sha: str | None = None
        self._pending_count = 1
        self._worker: ThreadPoolExecutor | None = None
        self._worker_pid = 0

    def close(self) -> None:
        """Close the files kept open for writing (see `KeptFile`), and stop the worker."""
        if self._worker is not None and self._worker_pid == os.getpid():
            self._worker.shutdown(wait=True)
        self._worker = None
        self._writer.close()
        self._last_writer.close()

    def prepare(self, new: bytes) -> Prepared:
        """Start on what the commit of `new` needs besides the task file (see `Prepared`)."""
        if not self.enabled or len(new) < LARGE_COMMIT_BYTES:
            return Prepared(new, None)
        if self._worker is None or self._worker_pid != os.getpid():
            # Made on first use (a one-shot command of a small project never imports it), and
            # again in a forked child, which inherits no threads.
            from concurrent.futures import ThreadPoolExecutor

            self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tm-journal")
            self._worker_pid = os.getpid()

        def hash_and_copy() -> str:
            sha = sha_of(new)
            self._write_last(new)
            return sha

        try:
            return Prepared(new, self._worker.submit(hash_and_copy))
        except RuntimeError:  # the interpreter is shutting down: no new threads
            return Prepared(new, None)

    # writer side (the caller holds the task file's write lock) --------------------------------
    def settle(self, raw: bytes, revision: int, *, ours: bool, time_now: str) -> Entry | None:
        """Resolve an unresolved last entry, then, unless the bytes are known to be ours,
        journal an outside change. Returns the external entry written, if any."""
        if not self.enabled:
            return None
        tail = self._tail(repair=True)
        if tail is not None and not tail.committed:
            if revision > tail.base and sha_of(raw) == tail.sha:
                self._append(orjson.dumps({"commit": revision, "sha": tail.sha}) + b"\n")
                tail = _Tail(tail.offset, True, tail.sha, tail.base, revision)
            else:
                self._truncate(tail.offset)
                tail = self._tail(repair=True)
        if ours or tail is None:
            return None  # no journal yet: nothing to compare an outside change with
        sha = sha_of(raw)
        if sha == tail.sha or (tail.revision is not None and revision <= tail.revision):
            return None
        before = self._last_document(tail.sha)
        after = Document.from_json(raw, self.task_path)
        entry = new_entry(
            origin=Origin("outside", "outside"),
            time=time_now,
            changes=diff(before, after) if before is not None else [],
        )
        if before is None:
            entry["unknown"] = "the content before this change was not kept"
        elif entry["changes"]:
            reverted = reversions(entry["changes"], self.recent(LOOKBACK_ENTRIES))
            if reverted:
                entry["reverts"] = reverted
        entry["revision"] = revision
        line = {"base": tail.revision or 0, "sha": sha, "entry": entry}
        commit = orjson.dumps({"commit": revision, "sha": sha})
        self._append(encode_line(line) + commit + b"\n")
        self._write_last(raw)
        return entry

    def begin(self, entries: list[Entry], base: int, new: bytes, *, sha: str | None = None) -> None:
        """Before the rename: the entries of the commit about to happen (one per command of a
        group, each but the last with its revision), in one line, flushed. `sha`: the hash of
        `new`, when the caller took it already."""
        if not self.enabled:
            return
        self._pending_sha = sha if sha is not None else sha_of(new)
        self._pending_count = len(entries)
        record: dict[str, Any] = {"base": base, "sha": self._pending_sha, "entry": entries[-1]}
        if len(entries) > 1:
            record["batch"] = entries[:-1]
        self._append(encode_line(record), sync=self.durable)

    def abandon(self, prepared: Prepared, last: bytes) -> None:
        """After a commit that failed: wait for its worker, and if it copied the bytes that
        never committed, put back `last`, the last commit's (best effort: a copy that does
        not match reads as unknown)."""
        prepared.wait()
        if prepared.copied:
            self._write_last(last)

    def finish(self, revision: int, new: bytes, prepared: Prepared | None = None) -> None:
        """After the rename and the revision record: the commit line, then the copy of the
        committed bytes (unless `prepared` has it made); compaction when the journal has grown
        well past its retention."""
        if not self.enabled:
            return
        sha = self._pending_sha if self._pending_sha is not None else sha_of(new)
        commit: dict[str, Any] = {"commit": revision, "sha": sha}
        if self._pending_count > 1:
            commit["count"] = self._pending_count
        line = orjson.dumps(commit) + b"\n"
        end = self._append(line) + len(line)
        self._pending_sha = None
        self._pending_count = 1
        if prepared is not None and prepared.copied:
            prepared.wait()
        else:
            self._write_last(new)
        self._maybe_compact(end)

    # reader side (no lock) ------------------------------------------------------------------
    def entries(
        self,
        current: Callable[[], tuple[int, bytes]] | None = None,
        after: int = 0,
        limit: int | None = None,
    ) -> list[Entry]:
        """The committed entries above revision `after`, oldest first. An unresolved last entry
        counts only if the task file proves it committed (`current` gives its revision and
        bytes). Read from the end, as far back as `after` needs."""
        found: list[Entry] = []
        pending: dict[str, Any] | None = None
        for _, record in _records(self._lines_after(after)):
            if record is None:
                pending = None  # a torn last line: a writer was killed mid-append
                continue
            if "commit" in record:
                if pending is not None and int(record["commit"]) > after:
                    for entry in _committed(pending, int(record["commit"])):
                        if entry["revision"] > after:
                            found.append(entry)
                            if limit is not None and len(found) >= limit:
                                return found
                pending = None
            elif "entry" in record:
                pending = record
        if pending is not None and current is not None:
            revision, raw = current()
            proven = revision > int(pending.get("base", 0)) and sha_of(raw) == pending.get("sha")
            if proven and revision > after:
                found.extend(e for e in _committed(pending, revision) if e["revision"] > after)
        return found[:limit] if limit is not None else found

    def recent(self, count: int) -> list[Entry]:
        """At least the last `count` committed entries (fewer if the journal holds fewer),
        oldest first: read from the end only as far as they need. Revisions are not
        consecutive numbers, so "the last N" cannot be asked for as "above revision R"."""
        data = self._last_lines(count)
        found: list[Entry] = []
        pending: dict[str, Any] | None = None
        for _, record in _records(data):
            if record is None:
                pending = None
            elif "commit" in record:
                if pending is not None:
                    found.extend(_committed(pending, int(record["commit"])))
                pending = None
            elif "entry" in record:
                pending = record
        return found

    def _last_lines(self, count: int) -> bytes:
        """Whole lines from the end of the journal holding at least `count` commit lines (or
        the whole journal)."""
        return self._tail_until(lambda data: data.count(b'{"commit":') > count)

    def _lines_after(self, after: int) -> bytes:
        """The journal's lines from (at most) the entry above `after` to the end."""

        def reaches_back(data: bytes) -> bool:
            first = _first_commit(data)
            return first is not None and first <= after

        return self._tail_until(reaches_back)

    def _tail_until(self, enough: Callable[[bytes], bool]) -> bytes:
        """Whole lines from the end of the journal: a chunk that grows until `enough` says
        it holds what the caller needs, or the whole journal."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return b""
        try:
            size = os.fstat(fd).st_size
            chunk = _TAIL_CHUNK
            while True:
                start = max(0, size - chunk)
                data = os.pread(fd, size - start, start)
                if start == 0:
                    return data
                data = data[data.find(b"\n") + 1 :]  # from the first whole line
                if enough(data):
                    return data
                chunk *= 4
        finally:
            os.close(fd)

    def size(self) -> int:
        """The journal's size in bytes (0: none yet): one stat."""
        try:
            return os.stat(self.path).st_size
        except FileNotFoundError:
            return 0

    def last_revision(self) -> int | None:
        """The revision of the last committed entry (an unresolved one not counted)."""
        tail = self._tail()
        return tail.revision if tail is not None and tail.committed else None

    def stats(self) -> dict[str, Any]:
        """Size, committed entries, oldest and newest revision: counted in the bytes, without
        parsing every entry (a scrape of /metrics reads this)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            data = b""
        last = self.last_revision() if data else None
        return {
            "bytes": len(data),
            "entries": count_entries(data),
            "oldest": _first_commit(data),
            "newest": last,
            "keep": self.keep,
            "max_age_s": self.max_age_s,
        }

    def check(self) -> dict[str, Any]:
        """What `tm doctor` reports of the sidecar, without the lock and without changing it:
        committed entries, lines that are not records of ours (a torn last line is one
        while a writer appends), whether the last entry is still unresolved, and whether the
        copy of the last commit (`.tm-last`) matches it."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return {"exists": False, "entries": 0, "bad_lines": 0, "unresolved": False}
        bad = sum(1 for _, record in _records(data) if record is None)
        tail = self._tail()
        last_copy: bool | None = None
        if tail is not None and tail.committed:
            try:
                last_copy = sha_of(self.last_path.read_bytes()) == tail.sha
            except OSError:
                last_copy = False
        return {
            "exists": True,
            "entries": count_entries(data),
            "bad_lines": bad,
            "unresolved": tail is not None and not tail.committed,
            "last_copy_matches": last_copy,
        }

    def compact(self, keep: int | None = None, max_age_s: float | None = None) -> int:
        """Keep the newest `keep` committed entries younger than `max_age_s` (the caller holds
        the write lock); an unresolved last entry is kept as it is. Returns how many went."""
        keep = self.keep if keep is None else keep
        max_age_s = self.max_age_s if max_age_s is None else max_age_s
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return 0
        pairs: list[tuple[bytes, bytes]] = []
        entry_line: bytes | None = None
        for line, record in _records(data):
            if record is None:
                continue
            if "commit" in record:
                if entry_line is not None:
                    pairs.append((entry_line, line))
                entry_line = None
            else:
                entry_line = line
        kept: list[tuple[bytes, bytes]] = []
        held = 0
        for pair in reversed(pairs):  # whole groups, newest first, until `keep` entries
            if held >= keep:
                break
            kept.insert(0, pair)
            held += count_entries(pair[1])
        if max_age_s is not None:
            horizon = time.time() - max_age_s
            kept = [pair for pair in kept if _entry_time(pair[0]) >= horizon]
        if len(kept) == len(pairs):
            return 0
        body = b"".join(e + b"\n" + c + b"\n" for e, c in kept)
        if entry_line is not None:
            body += entry_line + b"\n"
        replace_file(self.path, body, durable=self.durable)
        remaining = sum(count_entries(c) for _, c in kept)
        self._checked_size = len(body)
        with contextlib.suppress(OSError):  # what the next count starts from
            st = os.stat(self.path)
            self._counted = (st.st_ino, len(body), remaining)
        return sum(count_entries(c) for _, c in pairs) - remaining

    # internals ------------------------------------------------------------------------------
    def _append(self, data: bytes, *, sync: bool = False) -> int:
        """Append `data`; the offset it starts at (under the write lock nobody else appends,
        so the size before is where it goes)."""
        fd, st = self._writer.open()
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if sync:
                os.fdatasync(fd)
        except BaseException:
            self._writer.close()  # a failing disk: the next append starts from a fresh open
            raise
        return st.st_size

    def _truncate(self, offset: int) -> None:
        os.truncate(self.path, offset)

    def _tail(self, *, repair: bool = False) -> _Tail | None:
        """The last complete line. A torn one (a writer killed mid-append, or one appending
        right now) is left out; with `repair` (only under the write lock, where nobody is
        appending) it is cut off."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            size = os.fstat(fd).st_size
            chunk = _TAIL_CHUNK
            while size > 0:
                start = max(0, size - chunk)
                data = os.pread(fd, size - start, start)
                if not data.endswith(b"\n"):  # torn
                    cut = data.rfind(b"\n")
                    if cut < 0 and start > 0:
                        chunk *= 4
                        continue
                    size = start + cut + 1 if cut >= 0 else 0
                    if repair:
                        self._truncate(size)
                    continue
                body = data[:-1]
                cut = body.rfind(b"\n")
                if cut < 0 and start > 0:
                    chunk *= 4
                    continue
                offset = start + cut + 1
                try:
                    record = orjson.loads(body[cut + 1 :])
                except orjson.JSONDecodeError:
                    return None  # not a journal of ours any more; the next writer starts over
                if "commit" in record:
                    return _Tail(offset, True, str(record.get("sha")), 0, int(record["commit"]))
                return _Tail(
                    offset, False, str(record.get("sha")), int(record.get("base", 0)), None
                )
            return None
        finally:
            os.close(fd)

    def _last_document(self, sha: str) -> Document | None:
        try:
            raw = self.last_path.read_bytes()
        except OSError:
            return None
        if sha_of(raw) != sha:
            return None
        try:
            return Document.from_json(raw, self.last_path)
        except Exception:  # a damaged copy: the difference is unknown, not an error
            return None

    def _write_last(self, data: bytes) -> None:
        # In place (no fsync): a lost or stale copy only makes an outside change's difference
        # unknown, which its sha check detects.
        try:
            fd, _ = self._last_writer.open()
            view = memoryview(data)
            offset = 0
            while view:
                written = os.pwrite(fd, view, offset)
                view = view[written:]
                offset += written
            os.ftruncate(fd, len(data))
        except OSError:
            self._last_writer.close()

    def _maybe_compact(self, size: int) -> None:
        """Past each further MiB (`size`: the journal's, just after our append), count the
        entries; compact beyond twice the retention.

        Only the bytes added since the last count are read: a count of the whole journal is a
        full read of up to twice the retention, which a busy server would otherwise repeat
        every MiB. A journal replaced meanwhile (compacted by another process) is counted
        anew; the count only decides when to compact, and compaction counts exactly."""
        if size - self._checked_size < _CHECK_EVERY_BYTES:
            return
        self._checked_size = size
        try:
            with open(self.path, "rb") as handle:
                inode = os.fstat(handle.fileno()).st_ino
                counted_inode, counted_to, counted = self._counted
                if inode != counted_inode or counted_to > size:
                    counted_to, counted = 0, 0
                handle.seek(counted_to)
                counted += count_entries(handle.read(size - counted_to))
        except FileNotFoundError:
            return
        self._counted = (inode, size, counted)
        if counted > 2 * self.keep:
            self.compact()


def encode_line(record: dict[str, Any]) -> bytes:
    """One journal line (see `without_values` for values that nest too deep)."""
    try:
        return orjson.dumps(record) + b"\n"
    except orjson.JSONEncodeError:
        return orjson.dumps({**record, "entry": without_values(record["entry"])}) + b"\n"


_GROUP_COMMIT = re.compile(rb'^\{"commit":\d+,"sha":"[0-9a-f]*","count":(\d+)\}$', re.M)


def count_entries(data: bytes) -> int:
    """The committed entries in journal lines `data`, counted in the bytes: one per commit
    line, and a group's commit line says how many it holds."""
    extra = sum(int(count) - 1 for count in _GROUP_COMMIT.findall(data))
    return data.count(b'{"commit":') + extra


def _committed(record: dict[str, Any], revision: int) -> list[Entry]:
    """The entries of an entry line that committed as `revision`: a group's earlier ones at
    the revisions they were given, the last at `revision`."""
    entries = [dict(entry) for entry in record.get("batch") or ()]
    last = dict(record["entry"])
    last["revision"] = revision
    entries.append(last)
    return entries


def _records(data: bytes) -> Iterator[tuple[bytes, dict[str, Any] | None]]:
    """Each line of `data` with its record (None: a torn line, or not a record of ours)."""
    for line in data.split(b"\n"):
        if not line:
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            yield line, None
            continue
        yield line, record if isinstance(record, dict) else None


def _first_commit(data: bytes) -> int | None:
    """The revision of the first commit line in `data` (None: none)."""
    at = data.find(b'{"commit":')
    if at < 0:
        return None
    end = data.find(b"\n", at)
    try:
        return int(orjson.loads(data[at : end if end >= 0 else len(data)])["commit"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def _entry_time(line: bytes) -> float:
    from datetime import datetime

    try:
        stamp = orjson.loads(line)["entry"]["time"]
        return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()
    except Exception:
        return 0.0
