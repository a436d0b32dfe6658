"""Paging and projection of task lists (taskmaster/paging.py)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskmaster.paging import (
    VALID_FIELDS,
    Cursor,
    CursorError,
    decode_cursor,
    page,
    parse_fields,
    project,
)


def _tasks(*ids: int) -> list[dict]:
    return [{"id": i, "title": f"t{i}", "status": "pending", "subtasks": []} for i in ids]


def test_pages_cover_the_tag_in_order_and_the_last_has_no_cursor() -> None:
    tasks = _tasks(*range(1, 8))
    first = page(tasks, "master", limit=3)
    assert [t["id"] for t in first.tasks] == [1, 2, 3]
    second = page(tasks, "master", limit=3, cursor=first.next_cursor)
    assert [t["id"] for t in second.tasks] == [4, 5, 6]
    third = page(tasks, "master", limit=3, cursor=second.next_cursor)
    assert [t["id"] for t in third.tasks] == [7]
    assert third.next_cursor is None
    assert not (first.changed or second.changed or third.changed)


def test_a_removed_task_continues_where_it_would_have_been_and_says_changed() -> None:
    tasks = _tasks(1, 2, 3, 4, 5)
    first = page(tasks, "master", limit=2)
    rest = page(_tasks(1, 4, 5), "master", limit=2, cursor=first.next_cursor)
    assert [t["id"] for t in rest.tasks] == [4, 5]
    assert rest.changed


def test_a_cursor_for_another_tag_is_refused_by_name() -> None:
    cursor = page(_tasks(1, 2), "a", limit=1).next_cursor
    assert cursor is not None
    with pytest.raises(CursorError, match="'a'"):
        page(_tasks(1, 2), "b", limit=1, cursor=cursor)


@pytest.mark.parametrize(
    "text",
    [
        "not base64 !!",
        base64.urlsafe_b64encode(b"[1]").decode(),
        base64.urlsafe_b64encode(b'{"v":1,"t":"master","a":"x","f":""}').decode(),
        Cursor("master", 1, "f").encode()[:-3],
    ],
)
def test_a_tampered_cursor_is_refused(text: str) -> None:
    with pytest.raises(CursorError):
        decode_cursor(text, "master")


def test_fields_are_checked_and_name_the_valid_ones() -> None:
    assert parse_fields("id,title,title") == ("id", "title")
    with pytest.raises(ValueError, match="valid fields: id, title"):
        parse_fields("id,colour")
    with pytest.raises(ValueError):
        parse_fields("")
    assert "dependencies" in VALID_FIELDS


def test_projection_drops_subtasks_unless_named() -> None:
    task = {"id": 1, "title": "a", "details": "x", "subtasks": [{"id": 1, "title": "s"}]}
    assert project(task, ("id", "title")) == {"id": 1, "title": "a"}
    assert project(task, ("id", "subtasks")) == {"id": 1, "subtasks": [{"id": 1}]}


writes = st.lists(
    st.tuples(st.sampled_from(["add", "remove", "change"]), st.integers(0, 1000)), max_size=4
)


@settings(max_examples=200, deadline=None)
@given(
    count=st.integers(0, 30),
    limit=st.integers(1, 7),
    between=st.lists(writes, max_size=40),
)
def test_paging_under_writes_never_repeats_and_misses_no_lasting_task(
    count: int, limit: int, between: list[list[tuple[str, int]]]
) -> None:
    tasks = _tasks(*range(1, count + 1))
    next_id = count + 1
    lasting = {t["id"] for t in tasks}
    seen: list[int] = []
    cursor: str | None = None
    rounds = iter(between)
    while True:
        result = page(tasks, "master", limit=limit, cursor=cursor)
        seen += [t["id"] for t in result.tasks]
        if result.next_cursor is None:
            break
        cursor = result.next_cursor
        for kind, pick in next(rounds, []):
            if kind == "add":
                tasks.append(_tasks(next_id)[0])
                next_id += 1
            elif tasks and kind == "remove":
                lasting.discard(tasks.pop(pick % len(tasks))["id"])
            elif tasks:
                tasks[pick % len(tasks)] = {**tasks[pick % len(tasks)], "title": "new"}
    assert len(seen) == len(set(seen))
    assert lasting <= set(seen)
