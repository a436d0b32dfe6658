"""The revision-validated cache: events make it fast, the revision check makes it correct."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from taskmaster.bus import LocalBus
from taskmaster.cache import RevisionCache
from taskmaster.commands import AddTask, UpdateTask
from taskmaster.compose import init_project
from taskmaster.events import TASK_UPDATED, Event
from taskmaster.model import TaskId
from taskmaster.storage.base import Draft
from taskmaster.storage.file import FileStorage


def test_a_hit_needs_the_entry_to_be_at_the_current_revision() -> None:
    revision = [1]
    builds: list[int] = []
    cache: RevisionCache[str] = RevisionCache(lambda: revision[0])

    def build() -> tuple[str, int]:
        builds.append(revision[0])
        return f"v{revision[0]}", revision[0]

    assert cache.get_or_build("GET:/api/v1/tasks", build) == ("v1", 1)
    assert cache.get_or_build("GET:/api/v1/tasks", build) == ("v1", 1)
    revision[0] = 2  # a change whose event never arrived
    assert cache.get_or_build("GET:/api/v1/tasks", build) == ("v2", 2)
    assert builds == [1, 2]
    assert (cache.stats.hits, cache.stats.misses) == (1, 2)


def test_pattern_invalidation_drops_only_matching_keys() -> None:
    cache: RevisionCache[str] = RevisionCache(lambda: 1)
    for key in ("GET:/api/v1/tasks", "GET:/api/v1/tasks/3", "GET:/api/v1/tags"):
        cache.get_or_build(key, lambda key=key: (key, 1))
    assert cache.clear_pattern("GET:/api/v1/tasks*") == 2
    assert len(cache) == 1
    assert cache.stats.invalidations == 2


def test_an_event_invalidates_and_older_builds_are_not_installed() -> None:
    cache: RevisionCache[str] = RevisionCache(lambda: 5)
    cache.get_or_build("k", lambda: ("old", 5))
    cache.on_event(Event(TASK_UPDATED, 9, origin="x"))
    assert len(cache) == 0
    # A build that raced with the change and read revision 7 must not be kept after 9 was seen.
    assert cache.get_or_build("k", lambda: ("raced", 7)) == ("raced", 7)
    assert len(cache) == 0
    assert cache.stats.refused == 1


def test_a_disabled_cache_always_builds() -> None:
    calls: list[int] = []
    cache: RevisionCache[int] = RevisionCache(lambda: 1, enabled=False)
    for _ in range(3):
        cache.get_or_build("k", lambda: (calls.append(1) or len(calls), 1))
    assert len(calls) == 3


OUT_OF_PROCESS_WRITER = """
import sys
from taskmaster.storage.file import FileStorage
storage = FileStorage(sys.argv[1])
for line in sys.stdin:
    task_id, title = line.rstrip("\\n").split(" ", 1)
    def rename(draft, task_id=int(task_id), title=title):
        draft.document.task("master", task_id)["title"] = title
    print(storage.transact(rename).revision, flush=True)
"""


class CacheMachine(RuleBasedStateMachine):
    """Writes in process, in another handle and in another process; events delivered late,
    out of order or never; reads through the cache must never be older than the last write."""

    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="tm-cache-"))
        self.project, _ = init_project(self.directory)
        self.core = self.project.core
        assert self.project.paths is not None
        self.tasks_file = self.project.paths.tasks_file
        for i in range(3):
            self.core.execute(AddTask(values={"title": f"task {i}"}))
        self.model = {1: "task 0", 2: "task 1", 3: "task 2"}
        self.latest = self.core.revision()
        self.pending: list[Event] = []
        # The cache hears events only through us: we choose to deliver, reorder or drop them.
        self.core.bus.subscribe(self.pending.append)
        self.cache: RevisionCache[dict[int, str]] = RevisionCache(self.core.revision)
        self.other = FileStorage(self.tasks_file)
        self.process = subprocess.Popen(
            [sys.executable, "-c", OUT_OF_PROCESS_WRITER, str(self.tasks_file)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def teardown(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=10)
        self.project.close()
        self.other.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    def _committed(self, revision: int, task_id: int, title: str) -> None:
        assert revision > self.latest
        self.latest = revision
        self.model[task_id] = title

    @rule(task_id=st.integers(1, 3), title=st.text("abc", min_size=1, max_size=6))
    def write_in_process(self, task_id: int, title: str) -> None:
        if self.model[task_id] == title:
            return
        self.core.execute(UpdateTask(id=TaskId(task_id), fields={"title": title}))
        self._committed(self.core.revision(), task_id, title)

    @rule(task_id=st.integers(1, 3), title=st.text("abc", min_size=1, max_size=6))
    def write_through_another_handle(self, task_id: int, title: str) -> None:
        if self.model[task_id] == title:
            return

        def rename(draft: Draft) -> None:
            draft.document.task("master", task_id)["title"] = title

        self._committed(self.other.transact(rename).revision, task_id, title)

    @rule(task_id=st.integers(1, 3), title=st.text("abc", min_size=1, max_size=6))
    def write_in_another_process(self, task_id: int, title: str) -> None:
        if self.model[task_id] == title:
            return
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"{task_id} {title}\n")
        self.process.stdin.flush()
        self._committed(int(self.process.stdout.readline()), task_id, title)

    @rule(data=st.data())
    def deliver_some_events_in_any_order(self, data: st.DataObject) -> None:
        if not self.pending:
            return
        chosen = data.draw(st.permutations(self.pending))
        count = data.draw(st.integers(1, len(chosen)))
        for event in chosen[:count]:
            self.pending.remove(event)
            self.cache.on_event(event)

    @rule()
    def drop_every_pending_event(self) -> None:
        self.pending.clear()

    @rule(key=st.sampled_from(["GET:/api/v1/tasks", "GET:/api/v1/tasks?status=pending"]))
    def read_through_the_cache(self, key: str) -> None:
        def build() -> tuple[dict[int, str], int]:
            snapshot = self.core.snapshot()
            tasks = snapshot.document.tasks("master")
            return {task["id"]: task["title"] for task in tasks}, snapshot.revision

        value, revision = self.cache.get_or_build(key, build)
        assert revision >= self.latest, "the cache answered from before the last write"
        assert value == self.model

    @invariant()
    def revision_is_the_latest_write(self) -> None:
        assert self.core.revision() == self.latest


CacheMachine.TestCase.settings = settings(max_examples=25, stateful_step_count=30, deadline=None)
TestCacheNeverServesStale = CacheMachine.TestCase


def test_the_bus_fed_cache_is_wired_by_subscribing_on_event(tmp_path: Path) -> None:
    bus = LocalBus()
    opened, _ = init_project(tmp_path)
    project = opened.core
    project.bus = bus
    cache: RevisionCache[int] = RevisionCache(project.revision)
    bus.subscribe(cache.on_event)
    cache.get_or_build("GET:/api/v1/tasks", lambda: (0, project.revision()))
    project.execute(AddTask(values={"title": "x"}))
    assert len(cache) == 0
    assert cache.stats.invalidations == 1


def test_an_entry_lives_for_the_ttl_at_most() -> None:
    now = [100.0]
    cache: RevisionCache[str] = RevisionCache(lambda: 1, ttl=10, clock=lambda: now[0])
    builds: list[float] = []

    def build() -> tuple[str, int]:
        builds.append(now[0])
        return "v", 1

    cache.get_or_build("a", build)
    now[0] = 109.9
    cache.get_or_build("a", build)
    assert builds == [100.0] and len(cache) == 1
    now[0] = 110.0  # expired: built again, though the revision is the same
    assert len(cache) == 0
    cache.get_or_build("a", build)
    assert builds == [100.0, 110.0]


def test_a_full_cache_drops_expired_entries_first_then_the_oldest_built() -> None:
    now = [0.0]
    cache: RevisionCache[str] = RevisionCache(lambda: 1, maxsize=2, ttl=10, clock=lambda: now[0])
    built: list[str] = []

    def builder(key: str) -> tuple[str, int]:
        built.append(key)
        return key, 1

    cache.get_or_build("a", lambda: builder("a"))
    now[0] = 5.0
    cache.get_or_build("b", lambda: builder("b"))
    now[0] = 6.0
    cache.get_or_build("c", lambda: builder("c"))  # full: "a" goes, the oldest built
    assert len(cache) == 2
    for key in ("b", "c"):
        cache.get_or_build(key, lambda: builder("again"))
    assert built == ["a", "b", "c"]
    now[0] = 15.5  # "b" expired: it makes room, "c" stays
    cache.get_or_build("d", lambda: builder("d"))
    cache.get_or_build("c", lambda: builder("again"))
    assert built == ["a", "b", "c", "d"]
    cache.get_or_build("a", lambda: builder("a"))  # "a" was dropped: built again
    assert built[-1] == "a"


def test_a_cache_of_size_zero_keeps_nothing() -> None:
    cache: RevisionCache[str] = RevisionCache(lambda: 1, maxsize=0)
    builds: list[int] = []
    for _ in range(2):
        cache.get_or_build("a", lambda: (builds.append(1), ("v", 1))[1])
    assert builds == [1, 1] and len(cache) == 0
