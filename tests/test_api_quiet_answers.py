"""Answers kept for the storage's change epoch: a repeated read is answered after one check,
and never once anything it read has changed, whoever changed it."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from test_api_support import TEST_CONFIG, Api, etag_of

from taskmaster.api.quiet_answers import QuietAnswers

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify: Linux")
TM = str(Path(sys.executable).with_name("tm"))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Api]:
    """An app over a storage as `tm serve` opens it: one that keeps its document, and with it
    a change gate."""
    api = Api(tmp_path, keep_document=True)
    api.add("first")
    api.add("second")
    yield api
    api.close()


def _count_handler_reads(api: Api) -> list[str]:
    """The paths whose answer went through a handler's cached read (not a kept answer)."""
    state = api.app.state
    seen: list[str] = []
    original = state.cached

    def counting(path: str, params: Any, build: Any) -> tuple[bytes, int]:
        seen.append(path)
        return original(path, params, build)

    state.cached = counting  # type: ignore[method-assign]
    return seen


def _tm(root: Path, *args: str) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TM_")}
    subprocess.run([TM, "--project", str(root), *args], check=True, timeout=60, env=env)


def test_a_repeated_read_is_answered_again_and_counted_as_a_hit(server: Api) -> None:
    server.get("/api/v1/tasks")  # the first read after the writes drains their events
    handled = _count_handler_reads(server)
    first = server.get("/api/v1/tasks")
    hits = server.cache.stats.hits
    again = [server.get("/api/v1/tasks") for _ in range(3)]
    assert handled == ["/api/v1/tasks"]
    assert all(answer.content == first.content for answer in again)
    assert all(answer.headers["etag"] == first.headers["etag"] for answer in again)
    assert server.cache.stats.hits == hits + 3


def test_another_process_write_ends_the_kept_answer(server: Api) -> None:
    assert server.get("/api/v1/tasks/1").json["status"] == "pending"
    server.get("/api/v1/tasks/1")
    _tm(server.root, "set-status", "--id", "1", "--status", "done")
    fresh = server.get("/api/v1/tasks/1")
    assert fresh.json["status"] == "done"
    assert etag_of(fresh) == server.core.revision()


def test_a_current_tag_chosen_by_another_program_is_seen_at_once(server: Api) -> None:
    server.core.storage.transact(
        lambda draft: draft.document.data.setdefault("other", {"tasks": []})
    )
    assert [task["title"] for task in server.get("/api/v1/tasks").json["tasks"]] == [
        "first",
        "second",
    ]
    server.get("/api/v1/tasks")
    state = server.root / ".taskmaster" / "state.json"
    code = "import sys, pathlib; pathlib.Path(sys.argv[1]).write_bytes(sys.argv[2].encode())"
    payload = orjson.dumps({"currentTag": "other"}).decode()
    subprocess.run([sys.executable, "-c", code, str(state), payload], check=True)
    answer = server.get("/api/v1/tasks").json
    assert (answer["tag"], answer["tasks"]) == ("other", [])


def test_a_write_through_the_api_ends_the_kept_answer(server: Api) -> None:
    server.get("/api/v1/tasks")
    server.get("/api/v1/tasks")
    server.put("/api/v1/tasks/2/status", {"status": "done"})
    statuses = {task["id"]: task["status"] for task in server.get("/api/v1/tasks").json["tasks"]}
    assert statuses == {1: "pending", 2: "done"}


def test_a_client_holding_the_revision_gets_304_from_a_kept_answer(server: Api) -> None:
    first = server.get("/api/v1/tasks")
    server.get("/api/v1/tasks")
    again = server.get("/api/v1/tasks", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.headers["etag"] == first.headers["etag"]


def test_each_query_keeps_its_own_answer(server: Api) -> None:
    everything = server.get("/api/v1/tasks").json["tasks"]
    done = server.get("/api/v1/tasks", query_string="status=done").json["tasks"]
    assert len(everything) == 2 and done == []
    assert server.get("/api/v1/tasks").json["tasks"] == everything
    assert server.get("/api/v1/tasks", query_string="status=done").json["tasks"] == []


def test_the_rate_limit_still_counts_kept_answers(tmp_path: Path) -> None:
    api = Api(tmp_path, dataclasses.replace(TEST_CONFIG, rate_limit="3/minute"), keep_document=True)
    try:
        handled = _count_handler_reads(api)
        codes = [api.get("/api/v1/tasks").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        assert len(handled) == 1  # two of the answers were kept ones
    finally:
        api.close()


def test_nothing_is_kept_where_the_storage_has_no_epoch(tmp_path: Path) -> None:
    """A one-shot storage (and PostgreSQL, and memory) tells no epoch: every read is checked."""
    api = Api(tmp_path)
    try:
        handled = _count_handler_reads(api)
        for _ in range(3):
            api.get("/api/v1/tasks")
        assert api.core.change_epoch() is None
        assert len(handled) == 3
    finally:
        api.close()


# the answers themselves --------------------------------------------------------------------------


def test_an_answer_is_recalled_only_in_the_epoch_it_was_built_in() -> None:
    answers = QuietAnswers(lambda: None, ttl=60, clock=lambda: 0.0)
    answers.remember("a", 4, b"four", 40)
    assert answers.recall("a", 4) == (b"four", 40)
    assert answers.recall("a", 6) is None
    answers.remember("a", 2, b"older", 20)  # built in an epoch already over: dropped
    assert answers.recall("a", 4) == (b"four", 40)
    answers.remember("b", 6, b"six", 60)  # a newer epoch: the older answers go
    assert answers.recall("a", 4) is None and answers.recall("a", 6) is None
    assert answers.recall("b", 6) == (b"six", 60)


def test_an_answer_lives_no_longer_than_the_ttl_and_the_oldest_makes_room() -> None:
    now = [0.0]
    answers = QuietAnswers(lambda: None, maxsize=2, ttl=10, clock=lambda: now[0])
    answers.remember("a", 0, b"a", 1)
    answers.remember("b", 0, b"b", 1)
    answers.remember("c", 0, b"c", 1)  # full: "a", kept the longest, goes
    assert [answers.recall(key, 0) for key in "abc"] == [None, (b"b", 1), (b"c", 1)]
    now[0] = 10.0
    assert answers.recall("b", 0) is None
