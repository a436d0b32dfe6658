"""The response cache behind GET: hits are served from bytes, and never stale.

Freshness has two mechanisms and each is tested alone: the revision check (no watcher, so no
event ever arrives) and event invalidation (the watcher announces another process's write).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_api_support import Api, etag_of

from taskmaster.commands import SetStatus, UpdateTask
from taskmaster.compose import open_project
from taskmaster.model import TaskId


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    api = Api(tmp_path)
    api.add("cached")
    yield api
    api.close()


def test_a_second_get_is_a_hit_with_the_same_bytes(api: Api) -> None:
    first = api.get("/api/v1/tasks")
    stats = api.cache.stats
    hits = stats.hits
    second = api.get("/api/v1/tasks")
    assert api.cache.stats.hits == hits + 1
    assert second.content == first.content
    assert second.headers["etag"] == first.headers["etag"]


def test_equivalent_queries_share_one_entry(api: Api) -> None:
    api.get("/api/v1/tasks", query_string="status=pending,done&ready=false")
    hits = api.cache.stats.hits
    api.get("/api/v1/tasks", query_string="ready=0&status=done&status=pending&junk=1")
    assert api.cache.stats.hits == hits + 1


def test_a_plain_list_and_one_naming_the_defaults_share_one_entry(api: Api) -> None:
    """A request without a query skips the parsing; it must mean what the defaults mean."""
    plain = api.get("/api/v1/tasks")
    hits = api.cache.stats.hits
    spelled = api.get("/api/v1/tasks", query_string="ready=false&with_subtasks=true&junk=1")
    assert api.cache.stats.hits == hits + 1
    assert spelled.content == plain.content
    api.get("/api/v1/tasks", query_string="with_subtasks=false")
    assert api.cache.stats.hits == hits + 1  # not the defaults: an entry of its own


def test_a_write_through_the_api_makes_the_next_get_fresh(api: Api) -> None:
    assert api.get("/api/v1/tasks/1").json["status"] == "pending"
    api.put("/api/v1/tasks/1/status", {"status": "done"})
    assert api.cache.stats.invalidations >= 1  # the facade's event reached the cache
    result = api.get("/api/v1/tasks/1")
    assert result.json["status"] == "done"
    assert etag_of(result) == api.core.revision()


def test_another_process_write_without_any_event_is_still_seen(api: Api) -> None:
    """No watcher: the event is dropped, so only the revision check can save us."""
    assert api.app.state.watcher is None
    assert api.get("/api/v1/tasks/1").json["title"] == "cached"
    api.get("/api/v1/tasks/1")  # now certainly cached
    invalidations = api.cache.stats.invalidations
    other = open_project(api.root)  # another "process": its own bus, nobody listening
    try:
        other.core.execute(UpdateTask(id=TaskId(1), fields={"title": "changed elsewhere"}))
    finally:
        other.close()
    result = api.get("/api/v1/tasks/1")
    assert result.json["title"] == "changed elsewhere"
    assert api.cache.stats.invalidations == invalidations  # no event came
    assert etag_of(result) == api.core.revision()


def test_an_outside_edit_in_place_is_seen_too(api: Api) -> None:
    api.get("/api/v1/tasks")
    text = api.tasks_file.read_text().replace('"cached"', '"edited"')
    api.tasks_file.write_text(text)  # an editor writing in place, no lock, no sidecar
    assert api.get("/api/v1/tasks").json["tasks"][0]["title"] == "edited"


def test_with_the_watcher_another_process_write_invalidates_by_event(tmp_path: Path) -> None:
    api = Api.with_config(tmp_path, watch=True)
    try:
        api.add("watched")
        assert api.app.state.watcher is not None and api.app.state.watcher.running
        api.get("/api/v1/tasks/1")
        invalidations = api.cache.stats.invalidations
        other = open_project(api.root)
        try:
            other.core.execute(SetStatus(ids=(TaskId(1),), status="done"))
        finally:
            other.close()
        deadline = time.monotonic() + 5
        while api.cache.stats.invalidations == invalidations and time.monotonic() < deadline:
            time.sleep(0.005)
        assert api.cache.stats.invalidations > invalidations, "no change event arrived"
        assert api.get("/api/v1/tasks/1").json["status"] == "done"
        metrics = api.get("/metrics").text
        # Announced from the other process's journal entry, as what it was.
        assert 'tm_events_total{kind="task.updated"}' in metrics
    finally:
        api.close()


def test_the_cache_can_be_switched_off(tmp_path: Path) -> None:
    api = Api.with_config(tmp_path, cache_enabled=False)
    try:
        api.add("t")
        for _ in range(3):
            assert api.get("/api/v1/tasks").status_code == 200
        assert api.cache.stats.hits == 0
        assert len(api.cache) == 0
        # Conditional GETs work without a cache all the same.
        revision = etag_of(api.get("/api/v1/tasks"))
        cached = api.get("/api/v1/tasks", headers={"If-None-Match": f'"{revision}"'})
        assert cached.status_code == 304
    finally:
        api.close()


def test_closing_the_app_unsubscribes_the_cache(tmp_path: Path) -> None:
    api = Api(tmp_path)
    api.add("t")
    api.get("/api/v1/tasks")
    api.app.close()
    invalidations = api.cache.stats.invalidations
    # Published on the bus: nobody should be listening.
    api.core.execute(SetStatus(ids=(TaskId(1),), status="done"))
    assert api.cache.stats.invalidations == invalidations
    api.core.close()
