"""The revision sidecar: one record rewritten in place, stamped, checked, and read back safely."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from taskmaster.storage import Draft
from taskmaster.storage import revision as revision_module
from taskmaster.storage.file import FileStorage
from taskmaster.storage.revision import (
    RECORD_SIZE,
    SETTLE_WINDOW_NS,
    RecordedRevision,
    Signature,
    decode_record,
    derive_revision,
    encode_record,
)


def add_task(draft: Draft) -> None:
    document = draft.document
    document.tasks("master").append({"id": document.next_task_id("master"), "title": "t"})


@pytest.fixture
def reader(store: FileStorage) -> FileStorage:
    other = FileStorage(store.path)  # as another process would hold it
    yield other
    other.close()


def sidecar(store: FileStorage) -> Path:
    return store.path.with_name("tasks.json.tm-rev")


SIGNATURE = Signature(2049, 1234567, 71852, 1_760_000_000_123_456_789, 1_760_000_000_223_456_789)


# the record ------------------------------------------------------------------------------------


def test_a_record_round_trips_and_has_a_fixed_size() -> None:
    for revision, canonical in ((1, False), (1_760_000_000_123_456, True), (2**63, True)):
        raw = encode_record(revision, SIGNATURE, canonical)
        assert len(raw) == RECORD_SIZE
        assert raw.endswith(b"\n")
        assert decode_record(raw) == RecordedRevision(revision, SIGNATURE, canonical)


def test_every_torn_mix_of_two_records_is_rejected() -> None:
    """A read overlapping an in-place write sees a prefix of one record and the rest of the
    other (in either order, since the copy order is not specified): never a valid third one."""
    old = encode_record(1_760_000_000_123_456, SIGNATURE, True)
    new = encode_record(1_760_000_000_123_457, SIGNATURE._replace(ino=1234568), True)
    for first, second in ((old, new), (new, old)):
        for cut in range(1, RECORD_SIZE):
            mix = first[:cut] + second[cut:]
            if mix not in (old, new):
                assert decode_record(mix) is None, f"cut at {cut} accepted"


def test_a_damaged_record_is_rejected() -> None:
    raw = bytearray(encode_record(1_760_000_000_123_456, SIGNATURE, True))
    for position in range(len(raw.rstrip())):
        damaged = bytearray(raw)
        damaged[position] ^= 0x01
        assert decode_record(bytes(damaged)) is None, f"flip at {position} accepted"
    for raw in (b"", b"\0" * RECORD_SIZE, b"garbage", b"tm-rev 2 1 2 3\n"):
        assert decode_record(raw) is None


def test_the_json_record_of_earlier_versions_is_still_read() -> None:
    legacy = orjson.dumps({"revision": 42, "file": list(SIGNATURE), "canonical": True}) + b"\n"
    assert decode_record(legacy) == RecordedRevision(42, SIGNATURE, True)


def test_an_upgrade_keeps_the_revision_of_a_json_sidecar(store: FileStorage) -> None:
    signature = Signature.of(os.stat(store.path))
    payload = {"revision": 4242, "file": list(signature), "canonical": True}
    sidecar(store).write_bytes(orjson.dumps(payload) + b"\n")
    fresh = FileStorage(store.path)
    assert fresh.revision() == 4242
    assert fresh.transact(add_task).revision > 4242
    assert decode_record(sidecar(store).read_bytes()) is not None  # now in the new format
    fresh.close()


# writing in place ------------------------------------------------------------------------------


def test_the_sidecar_is_rewritten_in_place_and_stamped_with_the_revision(
    store: FileStorage,
) -> None:
    inode = os.stat(sidecar(store)).st_ino
    for _ in range(5):
        revision = store.transact(add_task).revision
        st = os.stat(sidecar(store))
        assert st.st_ino == inode
        assert st.st_size == RECORD_SIZE
        assert st.st_mtime_ns == revision * 1000
    assert sorted(p.name for p in store.path.parent.iterdir()) == [
        "state.json",
        "tasks.json",
        "tasks.json.tm-journal",
        "tasks.json.tm-last",
        "tasks.json.tm-rev",
    ]


def test_a_change_of_the_sidecar_alone_reaches_other_readers_at_once(
    store: FileStorage, reader: FileStorage
) -> None:
    """mark_changed leaves the task file alone, and many land in one tick of the coarse clock:
    only the stamp tells a reader's two-stat fast path that the revision moved."""
    seen = reader.revision()
    for _ in range(200):
        revision = store.mark_changed()
        assert reader.revision() == revision > seen
        seen = revision


def test_a_longer_sidecar_is_cut_to_one_record(store: FileStorage, reader: FileStorage) -> None:
    sidecar(store).write_bytes(b"x" * 1000)
    revision = store.transact(add_task).revision
    assert os.stat(sidecar(store)).st_size == RECORD_SIZE
    assert reader.revision() == revision


def test_where_the_stamp_does_not_stick_the_sidecar_is_replaced(
    store: FileStorage, reader: FileStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A filesystem that keeps whole seconds cannot carry the stamp: replace it instead, whose
    new inode number a reader sees, as it did before the in-place write."""
    real_utime = os.utime

    def seconds_only(target, *args, ns=None, **kwargs):  # type: ignore[no-untyped-def]
        if ns is not None:
            ns = tuple(value // 10**9 * 10**9 for value in ns)
        return real_utime(target, *args, ns=ns, **kwargs)

    monkeypatch.setattr(revision_module.os, "utime", seconds_only)
    seen = reader.revision()
    inodes = set()
    for _ in range(20):
        revision = store.mark_changed()
        inodes.add(os.stat(sidecar(store)).st_ino)
        assert reader.revision() == revision > seen
        seen = revision
    assert len(inodes) > 1


def test_a_sidecar_we_may_not_stamp_is_replaced(
    store: FileStorage, reader: FileStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a file's owner may set its times: another user's sidecar is replaced (by ours)."""

    def not_owner(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise PermissionError(1, "Operation not permitted")

    inode = os.stat(sidecar(store)).st_ino
    monkeypatch.setattr(revision_module.os, "utime", not_owner)
    revision = store.mark_changed()
    monkeypatch.undo()
    assert os.stat(sidecar(store)).st_ino != inode
    assert reader.revision() == revision
    assert store.mark_changed() > revision  # and in place again from then on
    assert reader.revision() > revision


# reading a record while it is being written ------------------------------------------------------


def _tear_reads(monkeypatch: pytest.MonkeyPatch, reader: FileStorage, times: int) -> list[int]:
    """Make the next `times` reads of the sidecar without the lock return a torn record.

    Under the lock no writer can be half way through the record, so those reads stay whole.
    """
    real_pread = os.pread
    real_locked = reader.locked
    calls: list[int] = []
    inside_lock = [0]

    @contextlib.contextmanager
    def counting_locked() -> Iterator[None]:
        with real_locked():
            inside_lock[0] += 1
            try:
                yield
            finally:
                inside_lock[0] -= 1

    monkeypatch.setattr(reader, "locked", counting_locked)

    def torn(fd: int, size: int, offset: int) -> bytes:
        raw = real_pread(fd, size, offset)
        if inside_lock[0]:
            return raw
        calls.append(fd)
        if len(calls) <= times:
            return raw[:50] + bytes([raw[50] ^ 1]) + raw[51:]
        return raw

    monkeypatch.setattr(revision_module.os, "pread", torn)
    return calls


def test_a_torn_read_of_the_sidecar_is_retried(
    store: FileStorage, reader: FileStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    revision = store.transact(add_task).revision

    def no_lock() -> None:
        raise AssertionError("a retried read needs no lock")

    monkeypatch.setattr(reader, "locked", no_lock)
    calls = _tear_reads(monkeypatch, reader, 2)
    assert reader.revision() == revision
    assert len(calls) == 3


def test_a_read_that_never_checks_counts_the_record_as_absent_without_the_lock(
    store: FileStorage, reader: FileStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    revision = store.transact(add_task).revision

    def no_lock() -> None:
        raise AssertionError("a reader never takes the write lock")

    _tear_reads(monkeypatch, reader, 10**6)
    monkeypatch.setattr(reader, "locked", no_lock)
    # Absent: derived above every revision written before this file, the same for every reader.
    derived = reader.revision()
    assert derived > revision
    assert reader.read().revision == derived


def test_a_sidecar_damaged_on_disk_restarts_above_every_revision(
    store: FileStorage, reader: FileStorage
) -> None:
    before = store.transact(add_task).revision
    raw = bytearray(sidecar(store).read_bytes())
    raw[20] ^= 0x01  # a crash tore the record
    sidecar(store).write_bytes(bytes(raw))
    after = reader.revision()
    assert after > before
    assert decode_record(sidecar(store).read_bytes()) is None  # readers write nothing
    assert store.transact(add_task).revision > after
    assert decode_record(sidecar(store).read_bytes()) is not None  # the writer repaired it


# another process writing while we read ---------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import sys
    from taskmaster.storage.file import FileStorage
    storage = FileStorage(sys.argv[1])
    def add(draft):
        document = draft.document
        tasks = document.tasks("master")
        tasks.append({"id": len(tasks) + 1, "title": "t"})
        return len(tasks)
    for _ in range(int(sys.argv[2])):
        commit = storage.transact(add)
        print(commit.revision, commit.result)
        print(storage.mark_changed(), commit.result)  # a revision of the sidecar alone
    """
)


def test_a_reader_never_sees_a_stale_or_mislabelled_version_while_another_process_writes(
    store: FileStorage, reader: FileStorage
) -> None:
    """Every read names a revision the writer committed, with that revision's content, and
    the revisions one reader sees never go back."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    start = reader.revision()
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(store.path), "300"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    seen: list[tuple[int, int]] = []
    try:
        while writer.poll() is None:
            snapshot = reader.read()
            seen.append((snapshot.revision, len(snapshot.document.tasks("master"))))
            seen.append((reader.revision(), -1))
    finally:
        out, _ = writer.communicate(timeout=60)
    assert writer.returncode == 0
    committed = {int(rev): int(count) for rev, count in (line.split() for line in out.splitlines())}
    committed[start] = 0  # the empty file we started from
    revisions = [revision for revision, _ in seen]
    assert revisions == sorted(revisions), "a reader went back to an older revision"
    for revision, count in seen:
        assert revision in committed, f"read revision {revision}, which was never committed"
        assert count in (-1, committed[revision]), f"revision {revision} with other content"
    assert len(set(revisions)) > 10, "the reader barely overlapped the writer"


# revisions derived by readers -----------------------------------------------------------------


def _signature(ctime_us: int, ino: int = 7) -> Signature:
    return Signature(1, ino, 100, ctime_us * 1000, ctime_us * 1000)


def test_a_derived_revision_is_above_the_record_and_grows_with_the_ctime() -> None:
    window_us = SETTLE_WINDOW_NS // 1000
    recorded = RecordedRevision(5_000_000 + window_us, _signature(5_000_000))
    derived = [
        derive_revision(recorded, _signature(5_000_000 + step)) for step in range(0, 90_000, 997)
    ]
    assert derived[0] > recorded.revision
    assert derived == sorted(set(derived))  # strictly increasing: no two versions share one
    # Without a record it starts above anything a writer gave an older version of the file.
    writer = derive_revision(RecordedRevision(1, _signature(4_999_000)), _signature(5_000_000))
    assert derive_revision(RecordedRevision(0, None), _signature(5_000_000)) > writer


def test_readers_agree_on_an_outside_change_without_writing_and_a_writer_records_it(
    store: FileStorage, reader: FileStorage
) -> None:
    written = store.transact(add_task).revision
    recorded = sidecar(store).read_bytes()
    os.utime(store.path)  # `touch`: the stat changes, the sidecar no longer vouches
    derived = reader.revision()
    assert derived > written
    assert FileStorage(store.path).revision() == derived  # every reader derives the same
    assert reader.read().revision == derived
    assert sidecar(store).read_bytes() == recorded  # readers wrote nothing
    unchanged = store.transact(lambda draft: None)
    assert not unchanged.changed and unchanged.revision == derived  # the writer records it
    assert decode_record(sidecar(store).read_bytes()).revision == derived
    assert store.transact(add_task).revision > derived
