"""The journal's contract, on every backend: one entry per commit, exact under concurrency and
under writers killed at any moment, undo through the facade, an outside change journaled."""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from taskmaster.commands import AddTask, RemoveTask, SetStatus, Undo, UpdateTask
from taskmaster.core import TaskMaster
from taskmaster.errors import UndoRefused
from taskmaster.journal.entry import Origin
from taskmaster.model import TaskId
from taskmaster.storage.base import Storage
from tests.contract.backends import OUTSIDE_JOURNALED, Backend, empty_document
from tests.contract.operations import add_task, titles

ROOT = Path(__file__).resolve().parents[2]
HANG_DEADLINE = 120


def facade(store: Storage, actor: str = "tester") -> TaskMaster:
    return TaskMaster(store, origin=Origin(actor, "test"))


def last_after(entries: list[dict[str, Any]], tag: str, item: str, field: str) -> Any:
    """The value the journal says `field` of `item` has now: the newest change of it (or of
    the whole item) replayed."""
    for entry in reversed(entries):
        for change in reversed(entry["changes"]):
            if change["tag"] != tag or change["id"] != item:
                continue
            if change["field"] == field:
                return change.get("after")
            if change["field"] is None:
                return (change.get("after") or {}).get(field)
    raise AssertionError(f"the journal never mentions {item}.{field}")


def test_every_commit_has_exactly_one_entry_in_order(backend: Backend) -> None:
    store = backend.make()
    core = facade(store)
    commits = [core.execute(AddTask(values={"title": f"t{i}"})).revision for i in range(5)]
    commits.append(core.execute(SetStatus(ids=(TaskId(2),), status="done")).revision)
    unchanged = core.execute(SetStatus(ids=(TaskId(2),), status="done"))
    assert not unchanged.changed
    entries = store.history()
    mine = [e for e in entries if e["revision"] in commits]
    assert [e["revision"] for e in mine] == commits
    assert [e["revision"] for e in entries] == sorted({e["revision"] for e in entries})
    assert entries[-1]["revision"] == store.revision()
    last = mine[-1]
    assert (last["actor"], last["via"], last["command"]) == ("tester", "test", "set-status")
    assert last["args"] == {"ids": ["2"], "status": "done"}
    assert {
        "tag": "master",
        "id": "2",
        "field": "status",
        "before": "pending",
        "after": "done",
    } in (last["changes"])
    assert [e["revision"] for e in store.history(commits[2])] == commits[3:]
    stats = store.journal_stats()
    assert stats["entries"] == len(entries) and stats["newest"] == store.revision()


def test_undo_restores_a_removed_task_and_is_refused_over_a_later_change(
    backend: Backend,
) -> None:
    store = backend.make()
    core = facade(store)
    for title in ("a", "b", "c"):
        core.execute(AddTask(values={"title": title, "dependencies": [1] if title == "c" else []}))
    before = store.read().document.tasks("master")
    removed = core.execute(RemoveTask(ids=(TaskId(1),)))
    assert [t["dependencies"] for t in store.read().document.tasks("master")] == [[], []]
    undone = core.execute(Undo(revision=removed.revision))
    assert store.read().document.tasks("master") == before
    entry = store.history(undone.revision - 1)[0]
    assert (entry["kind"], entry["undoes"]) == ("undo", removed.revision)
    renamed = core.execute(UpdateTask(id=TaskId(2), fields={"title": "b2"}))
    core.execute(UpdateTask(id=TaskId(2), fields={"title": "b3"}))
    with pytest.raises(UndoRefused) as refused:
        core.execute(Undo(revision=renamed.revision))
    assert refused.value.later == [store.revision()]
    assert titles(store) == ["a", "b3", "c"]


# processes --------------------------------------------------------------------------------

WRITER = """
import sys
{opener}
from taskmaster.core import TaskMaster
from taskmaster.commands import AddTask, UpdateTask
from taskmaster.journal.entry import Origin
from taskmaster.model import TaskId
core = TaskMaster(storage, origin=Origin(sys.argv[1], "test"))
i = 0
storage.revision()  # connected and warm: killed while writing, not while starting
print("ready", flush=True)
while True:
    commit = core.execute(AddTask(values={{"title": f"{{sys.argv[1]}}-{{i}}"}}))
    print(commit.revision, flush=True)  # acknowledged only once committed
    task = commit.result["id"]
    commit = core.execute(UpdateTask(id=TaskId(task), fields={{"details": f"d{{i}}"}}))
    print(commit.revision, flush=True)
    i += 1
    if i == int(sys.argv[2]):
        break
"""


def spawn(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def check_exact(store: Storage, acknowledged: list[int]) -> list[dict[str, Any]]:
    """Every acknowledged commit has its entry, entries only for revisions up to now, and the
    journal's newest values are the document's."""
    entries = store.history()
    revisions = [e["revision"] for e in entries]
    assert revisions == sorted(set(revisions)), "entries out of order or twice"
    missing = sorted(set(acknowledged) - set(revisions))
    assert not missing, f"acknowledged commits without an entry: {missing[:5]}"
    assert revisions and revisions[-1] <= store.revision()
    for task in store.read().document.tasks("master"):
        item = str(task["id"])
        assert last_after(entries, "master", item, "title") == task["title"]
        assert last_after(entries, "master", item, "details") == task.get("details")
    return entries


@pytest.mark.slow
def test_racing_processes_get_exactly_one_entry_per_commit(backend: Backend) -> None:
    store = backend.make(empty_document())
    writers = [spawn(WRITER.format(opener=backend.opener(store)), f"w{w}", "15") for w in range(3)]
    acknowledged: list[int] = []
    for writer in writers:
        out, _ = writer.communicate(timeout=HANG_DEADLINE)
        assert writer.returncode == 0
        acknowledged += [int(line) for line in out.split()[1:]]
    assert len(acknowledged) == 3 * 15 * 2
    entries = check_exact(backend.reopen(store), acknowledged)
    assert len([e for e in entries if e["revision"] in set(acknowledged)]) == len(acknowledged)
    assert {e["actor"] for e in entries if e.get("via") == "test"} == {"w0", "w1", "w2"}


@pytest.mark.slow
def test_writers_killed_at_any_moment_leave_the_journal_exact(backend: Backend) -> None:
    store = backend.make(empty_document())
    rng = random.Random(1606)
    acknowledged: list[int] = []
    for round_no in range(5):
        script = WRITER.format(opener=backend.opener(store))
        writers = [spawn(script, f"r{round_no}w{w}", "100000") for w in range(3)]
        for writer in writers:
            assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.3, 0.8))
        for writer in writers:
            writer.send_signal(signal.SIGKILL)
        for writer in writers:
            out, _ = writer.communicate(timeout=HANG_DEADLINE)
            acknowledged += [int(line) for line in out.split()]
        check_exact(backend.reopen(store), acknowledged)
        # The next writer resolves what the killed ones left, and the journal stays exact.
        reopened = backend.reopen(store)
        acknowledged.append(reopened.transact(add_task(f"after-{round_no}")).revision)
        check_exact(reopened, acknowledged)
    assert len(acknowledged) > 20, "the writers barely ran: the test proved little"


THREADED_WRITER = """
import sys, threading
{opener}
from taskmaster.core import TaskMaster
from taskmaster.commands import AddTask, UpdateTask
from taskmaster.journal.entry import Origin
from taskmaster.model import TaskId
core = TaskMaster(storage, origin=Origin(sys.argv[1], "test"))
storage.revision()
said = threading.Lock()

def say(revision):
    with said:  # one line per acknowledgement, whichever thread makes it
        sys.stdout.write(f"{{revision}}\\n")
        sys.stdout.flush()

def write(name):
    i = 0
    while True:
        commit = core.execute(AddTask(values={{"title": f"{{name}}-{{i}}"}}))
        say(commit.revision)  # acknowledged only once committed
        task = TaskId(commit.result["id"])
        commit = core.execute(UpdateTask(id=task, fields={{"details": f"d{{i}}"}}))
        say(commit.revision)
        i += 1

print("ready", flush=True)
for t in range(6):
    threading.Thread(target=write, args=(f"{{sys.argv[1]}}t{{t}}",), daemon=True).start()
threading.Event().wait()
"""


def _read_lines(proc: subprocess.Popen[str], count: int) -> str:
    """At least `count` lines of `proc`'s output (and whatever came with them)."""
    assert proc.stdout is not None
    received = b""
    deadline = time.monotonic() + HANG_DEADLINE
    while received.count(b"\n") < count:
        assert time.monotonic() < deadline, "the writer never wrote"
        ready, _, _ = select.select([proc.stdout], [], [], 1.0)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 65536)
            assert chunk, "the writer exited"
            received += chunk
    return received.decode()


@pytest.mark.slow
def test_a_process_killed_while_its_threads_commit_in_groups_leaves_the_journal_exact(
    backend: Backend,
) -> None:
    """Six threads of one process share its writes (group commit, where the backend groups
    them), and the process is SIGKILLed at random moments: whatever a group had reached."""
    store = backend.make(empty_document())
    rng = random.Random(1707)
    acknowledged: list[int] = []
    for round_no in range(6):
        writer = spawn(THREADED_WRITER.format(opener=backend.opener(store)), f"g{round_no}")
        # Killed once writing (the kill lands among commits, not before the first); read from
        # the descriptor, as `communicate` does, so no acknowledgement is left in a buffer.
        head = _read_lines(writer, 2)
        assert head.split()[0] == "ready"
        time.sleep(rng.uniform(0.05, 0.5))
        writer.send_signal(signal.SIGKILL)
        out, _ = writer.communicate(timeout=HANG_DEADLINE)
        acknowledged += [int(line) for line in (head + out).split()[1:]]
        check_exact(backend.reopen(store), acknowledged)
        reopened = backend.reopen(store)
        acknowledged.append(reopened.transact(add_task(f"after-{round_no}")).revision)
        check_exact(reopened, acknowledged)
    assert len(acknowledged) > 30, "the writers barely ran: the test proved little"


def test_an_outside_change_is_journaled_with_its_differences(
    backend: Backend, request: pytest.FixtureRequest
) -> None:
    backend.expect_gap(OUTSIDE_JOURNALED, request)
    store = backend.make()
    core = facade(store)
    core.execute(AddTask(values={"title": "mine"}))
    document = store.read().document
    document.tasks("master")[0]["title"] = "edited outside"
    backend.outside_change(store, document)
    core.execute(AddTask(values={"title": "after"}))
    entries = store.history()
    external = [e for e in entries if e["kind"] == "external"]
    assert len(external) == 1
    assert {"tag": "master", "id": "1", "field": "title", "before": "mine"} | {
        "after": "edited outside"
    } in external[0]["changes"]
    assert entries[-1]["command"] == "add-task"


def _command(name: str, args: dict[str, Any]) -> Any:
    from taskmaster.commands import COMMANDS

    return COMMANDS[name].from_args(args)


SEQUENCE = [
    ("add-task", {"title": "one"}),
    ("add-task", {"title": "two", "dependencies": ["1"]}),
    ("add-task", {"title": "three"}),
    ("add-subtask", {"parent": 1, "title": "sub a"}),
    ("add-subtask", {"parent": 1, "title": "sub b"}),
    ("set-status", {"ids": ["1.2"], "status": "done"}),
    ("update-task", {"id": "3", "fields": {"title": "three!", "priority": "high"}}),
    ("add-dependency", {"id": "3", "dependsOn": "2"}),
    ("move", {"from": ["3"], "to": ["7"]}),
    ("remove-subtask", {"ids": ["1.1"], "convert": True}),
    ("add-tag", {"name": "side", "copyFrom": "master"}),
    ("use-tag", {"name": "side"}),
    ("set-status", {"ids": ["2"], "status": "review"}),
    ("move-to-tag", {"ids": [1], "toTag": "master", "ignoreDependencies": True}),
    ("remove-task", {"ids": ["2"]}),
    ("rename-tag", {"old": "side", "new": "other"}),
    ("clear-subtasks", {"tag": "master"}),
    ("delete-tag", {"name": "other"}),
]


def test_each_entry_is_exactly_the_difference_its_commit_made(backend: Backend) -> None:
    """Whatever shortcut a backend takes (PostgreSQL compares only the rows it knows changed),
    an entry's changes are those of the documents read before and after its commit."""
    from taskmaster.journal.changes import diff

    store = backend.make()
    core = facade(store)
    reader = backend.reopen(store)
    for name, args in SEQUENCE:
        before = reader.read()
        commit = core.execute(_command(name, args))
        assert commit.changed, name
        after = reader.read()
        (entry,) = reader.history(before.revision)
        expected = diff(
            before.document,
            after.document,
            before.state.current_tag,
            after.state.current_tag,
        )
        if before.state.current_tag == after.state.current_tag:
            expected = [c for c in expected if c["field"] != "currentTag"]
        assert entry["changes"] == expected, name
        assert entry["command"] == name
