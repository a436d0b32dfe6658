"""The contract between users of one store: other handles, other programs, threads, processes,
change notices, and a document another program left unreadable."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from taskmaster.errors import CorruptTaskFile
from taskmaster.model import Document
from taskmaster.storage.base import Draft, ProjectState, Storage
from tests.contract.backends import OUTSIDE_STATE_REVISION, Backend, empty_document
from tests.contract.operations import add_task, switch_to, titles

ROOT = Path(__file__).resolve().parents[2]
HANG_DEADLINE = 120


def counter_document() -> Document:
    document = empty_document()
    document.tasks("master").append({"id": 1, "title": "counter", "count": 0})
    return document


def increment(draft: Draft) -> int:
    task = draft.document.tasks("master")[0]
    task["count"] += 1
    return int(task["count"])


def yielding_increment(draft: Draft) -> int:
    """An increment that lets other threads run between its read and its write, as any
    operation that does I/O would: without the store's exclusion, updates are lost."""
    task = draft.document.tasks("master")[0]
    seen = task["count"]
    time.sleep(0)
    task["count"] = seen + 1
    return int(task["count"])


def count(store: Storage) -> int:
    return int(store.read().document.tasks("master")[0]["count"])


def wait_for(condition: Callable[[], bool], deadline: float) -> bool:
    give_up = time.monotonic() + deadline
    while not condition():
        if time.monotonic() >= give_up:
            return False
        time.sleep(0.005)
    return True


# other handles and other programs ------------------------------------------------------------


def test_a_second_handle_sees_every_commit_of_the_first(backend: Backend) -> None:
    writer = backend.make()
    reader = backend.reopen(writer)
    for i in range(20):
        commit = writer.transact(add_task(f"t{i}"))
        snapshot = reader.read()
        assert snapshot.revision == commit.revision == reader.revision()
        assert len(snapshot.document.tasks("master")) == i + 1
    state = reader.transact(switch_to("feature"))
    assert writer.state() == ProjectState("feature")
    assert writer.read().revision == state.revision


def test_an_outside_change_gets_a_new_revision_and_is_read(backend: Backend) -> None:
    store = backend.make()
    store.transact(add_task("ours"))
    before = store.revision()
    backend.outside_change(store)
    after = store.revision()
    assert after > before
    snapshot = store.read()
    assert snapshot.revision == after
    assert titles(store) == ["ours", "changed outside"]
    assert backend.reopen(store).revision() == after
    commit = store.transact(add_task("ours again"))  # applied to the outside version
    assert commit.revision > after
    assert titles(store) == ["ours", "changed outside", "ours again"]


def test_an_outside_change_of_the_state_is_read(backend: Backend) -> None:
    store = backend.make()
    backend.outside_change(store, state=ProjectState("feature"))
    assert store.state() == ProjectState("feature")
    assert store.read().state == ProjectState("feature")
    assert backend.reopen(store).state() == ProjectState("feature")
    assert titles(store) == []  # the document was left alone


def test_an_outside_change_of_the_state_alone_takes_a_new_revision_and_is_announced(
    backend: Backend, request: pytest.FixtureRequest
) -> None:
    """A reader that caches by revision would otherwise keep answering for the old tag."""
    backend.expect_gap(OUTSIDE_STATE_REVISION, request)
    store = backend.make()
    seen: list[int] = []
    feed = store.changes(seen.append)
    feed.start()
    try:
        before = store.revision()
        backend.outside_change(store, state=ProjectState("feature"))
        assert store.revision() > before
        assert wait_for(lambda: store.revision() in seen, backend.notice_deadline), seen
    finally:
        feed.stop()


# change notices ---------------------------------------------------------------------------------


def test_the_feed_delivers_outside_changes_while_it_runs(backend: Backend) -> None:
    store = backend.make()
    seen: list[int] = []
    feed = store.changes(seen.append)
    assert not feed.running
    feed.start()
    feed.start()
    assert feed.running
    try:
        before = store.revision()
        backend.outside_change(store)
        assert wait_for(lambda: store.revision() in seen, backend.notice_deadline), seen
        assert all(revision > before for revision in seen)
        assert len(seen) == len(set(seen)), f"a revision was announced twice: {seen}"
    finally:
        feed.stop()
        feed.stop()
    assert not feed.running
    delivered = list(seen)
    backend.outside_change(store)
    time.sleep(backend.quiet_period)
    assert seen == delivered, "a stopped feed still delivered"


def test_the_feed_does_not_announce_commits_of_its_own_store(backend: Backend) -> None:
    store = backend.make()
    seen: list[int] = []
    feed = store.changes(seen.append)
    feed.start()
    try:
        own = store.transact(add_task("ours")).revision
        backend.outside_change(store)
        outside = store.revision()
        # The outside change arriving shows the feed was live while our commit was made.
        assert wait_for(lambda: outside in seen, backend.notice_deadline), seen
        time.sleep(backend.quiet_period)
        assert own not in seen
    finally:
        feed.stop()


# threads ----------------------------------------------------------------------------------------

THREADS = 8
THREAD_INCREMENTS = 25


def test_threads_sharing_a_store_lose_no_increment(backend: Backend) -> None:
    store = backend.make(counter_document())
    start = threading.Barrier(THREADS)
    outcomes: list[list[tuple[int, int]]] = [[] for _ in range(THREADS)]
    errors: list[BaseException] = []

    def work(mine: list[tuple[int, int]], handle: Storage) -> None:
        try:
            start.wait()
            for _ in range(THREAD_INCREMENTS):
                commit = handle.transact(yielding_increment)
                assert commit.changed
                mine.append((commit.result, commit.revision))
        except BaseException as err:
            errors.append(err)

    # Half the threads through a second handle: the exclusion is the store's, not the object's.
    handles = [store, backend.reopen(store)]
    threads = [
        threading.Thread(target=work, args=(outcomes[i], handles[i % 2])) for i in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=HANG_DEADLINE)
    assert not errors, errors
    total = THREADS * THREAD_INCREMENTS
    assert count(store) == total
    results = sorted(result for mine in outcomes for result, _ in mine)
    assert results == list(range(1, total + 1)), "two increments saw the same count"
    revisions = [revision for mine in outcomes for _, revision in mine]
    assert len(set(revisions)) == total
    for mine in outcomes:
        assert [revision for _, revision in mine] == sorted(revision for _, revision in mine)


# processes --------------------------------------------------------------------------------------

PROCESSES = 4
PROCESS_INCREMENTS = 50

INCREMENTER = """
import sys
{opener}
def increment(draft):
    task = draft.document.tasks("master")[0]
    task["count"] += 1
print("ready", flush=True)
sys.stdin.readline()  # every writer starts at once
for _ in range(int(sys.argv[1])):
    if storage.transact(increment).changed:
        print("ok", flush=True)
"""

APPENDER = """
import sys
{opener}
name = sys.argv[1]
i = 0
while True:
    token = f"{{name}}-{{i}}"
    def append(draft, token=token):
        document = draft.document
        document.tasks("master").append(
            {{"id": document.next_task_id("master"), "title": token, "details": "x" * 2000}}
        )
    storage.transact(append)
    print(token, flush=True)  # acknowledged only once committed
    i += 1
"""


def spawn(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


@pytest.mark.slow
def test_processes_sharing_a_store_lose_no_increment(backend: Backend) -> None:
    store = backend.make(counter_document())
    script = INCREMENTER.format(opener=backend.opener(store))
    writers = [spawn(script, str(PROCESS_INCREMENTS)) for _ in range(PROCESSES)]
    try:
        for writer in writers:
            assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        for writer in writers:
            assert writer.stdin is not None
            writer.stdin.write("go\n")
            writer.stdin.flush()
        acknowledged = 0
        for writer in writers:
            out, _ = writer.communicate(timeout=HANG_DEADLINE)
            assert writer.returncode == 0
            acknowledged += out.split().count("ok")
    finally:
        for writer in writers:
            if writer.poll() is None:
                writer.kill()
                writer.wait()
    assert acknowledged == PROCESSES * PROCESS_INCREMENTS
    assert count(store) == acknowledged
    assert count(backend.reopen(store)) == acknowledged


@pytest.mark.slow
def test_writers_killed_mid_loop_never_tear_the_document_or_lose_an_acknowledged_write(
    backend: Backend,
) -> None:
    store = backend.make()
    script = APPENDER.format(opener=backend.opener(store))
    rng = random.Random(4321)
    acknowledged: list[str] = []
    for round_no in range(6):
        writers = [spawn(script, f"r{round_no}w{w}") for w in range(3)]
        # Killed once they are all writing, not while some are still starting up (a backend
        # with a slower start would otherwise be killed before its first write).
        for writer in writers:
            assert writer.stdout is not None
            acknowledged.append(writer.stdout.readline().strip())
        time.sleep(rng.uniform(0.3, 0.8))
        for writer in writers:
            writer.send_signal(signal.SIGKILL)
        for writer in writers:
            out, _ = writer.communicate(timeout=HANG_DEADLINE)
            acknowledged += out.split()
        present = set(titles(backend.reopen(store)))  # always readable: never torn
        missing = [token for token in acknowledged if token not in present]
        assert not missing, f"round {round_no}: acknowledged writes lost: {missing[:5]}"
    assert len(acknowledged) > 20, "the writers barely ran: the test proved little"


# a document another program left unreadable ----------------------------------------------------


def test_an_unreadable_document_is_refused_and_never_written_over(backend: Backend) -> None:
    store = backend.make(state=ProjectState("feature"))
    store.transact(add_task("before"))
    backend.corrupt(store)
    raw = backend.stored_bytes(store)
    revision = store.revision()
    ran: list[bool] = []

    def operation(draft: Draft) -> None:
        ran.append(True)
        draft.document.tasks("master").clear()

    for handle in (store, backend.reopen(store)):
        with pytest.raises(CorruptTaskFile):
            handle.read()
        with pytest.raises(CorruptTaskFile):
            handle.transact(operation)
        with pytest.raises(CorruptTaskFile):
            handle.transact(switch_to("master"))
        assert handle.create(Document.empty(), ProjectState()) == []
    assert ran == []
    assert backend.stored_bytes(store) == raw
    assert store.revision() == revision
    assert store.state() == ProjectState("feature")
    # Repaired by the program that broke it: readable again, at a new revision.
    repaired = empty_document()
    repaired.tasks("master").append({"id": 1, "title": "repaired"})
    backend.outside_change(store, repaired)
    assert store.revision() > revision
    assert titles(store) == ["repaired"]
