"""What MemoryStorage does beyond the contract (which `tests/contract/` checks for it)."""

from __future__ import annotations

import re
import threading

import pytest

from taskmaster.errors import CorruptTaskFile, TaskFileMissing
from taskmaster.model import Document
from taskmaster.storage import Draft, ProjectState
from taskmaster.storage.memory import MemoryStorage


def add(draft: Draft) -> None:
    document = draft.document
    document.tasks("master").append({"id": document.next_task_id("master"), "title": "t"})


def test_revisions_count_commits_from_one() -> None:
    store = MemoryStorage()
    assert store.create(Document.empty(), ProjectState()) == [store.key]
    assert store.revision() == 1
    assert [store.transact(add).revision for _ in range(3)] == [2, 3, 4]
    assert store.transact(lambda draft: None).revision == 4
    assert store.outside_write() == 5  # another program's write counts, even of equal content


def test_the_key_and_description_name_one_store() -> None:
    first, second = MemoryStorage(), MemoryStorage()
    assert re.fullmatch(r"memory:[0-9a-f]{16}", first.key)
    assert first.key != second.key
    assert first.describe() == {"backend": "memory", "location": first.key}
    assert repr(first) == f"<MemoryStorage {first.key} (not created)>"
    first.create(Document.empty(), ProjectState())
    assert repr(first) == f"<MemoryStorage {first.key} (revision 1)>"


def test_nothing_exists_before_create() -> None:
    store = MemoryStorage()
    for attempt in (store.revision, store.state, store.read, store.outside_write):
        with pytest.raises(TaskFileMissing, match=re.escape(store.key)):
            attempt()


def test_a_document_given_in_another_form_is_stored_as_a_read_would_parse_it() -> None:
    """String ids are normalised when stored, so the first transaction that changes nothing
    commits nothing, as with a file another program wrote."""
    store = MemoryStorage()
    store.create(Document({"master": {"tasks": [{"id": "1", "title": "a"}]}}), ProjectState())
    commit = store.transact(lambda draft: draft.document.task("master", 1)["title"])
    assert (commit.result, commit.changed, commit.revision) == ("a", False, 1)
    with pytest.raises(CorruptTaskFile):  # what could not be read back is refused at once
        store.outside_write(Document({"master": {"tasks": [{"id": "x"}]}}))
    assert store.revision() == 1


def test_outside_writes_are_announced_to_running_feeds_only() -> None:
    store = MemoryStorage()
    store.create(Document.empty(), ProjectState())
    running: list[int] = []
    stopped: list[int] = []
    feed = store.changes(running.append)
    other = store.changes(stopped.append)
    feed.start()
    store.transact(add)  # our own commit: no notice
    revision = store.outside_write(state=ProjectState("feature"))
    assert running == [revision] and stopped == []
    assert store.state() == ProjectState("feature")
    store.close()
    assert not feed.running and not other.running
    store.outside_write()
    assert running == [revision]


def test_a_feed_callback_may_write_to_the_store() -> None:
    """Notices are delivered outside the write lock: a callback that commits, from any thread,
    does not deadlock."""
    store = MemoryStorage()
    store.create(Document.empty(), ProjectState())

    def on_change(revision: int) -> None:
        worker = threading.Thread(target=store.transact, args=(add,))
        worker.start()
        worker.join(timeout=5)
        assert not worker.is_alive()

    store.changes(on_change).start()
    revision = store.outside_write()
    assert store.revision() == revision + 1
