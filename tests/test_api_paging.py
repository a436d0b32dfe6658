"""`GET /api/v1/tasks` a page at a time (`limit`, `cursor`) and with `fields`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_api_support import Api, assert_problem

from taskmaster.commands.tasks import AddTask, RemoveTask
from taskmaster.model import TaskId


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    api = Api(tmp_path)
    for i in range(1, 8):
        api.core.execute(AddTask(values={"title": f"t{i}"}))
    yield api
    api.close()


def _ids(body: dict) -> list[int]:
    return [task["id"] for task in body["tasks"]]


def test_pages_cover_the_tag_once_and_the_last_has_no_next(api: Api) -> None:
    first = api.get("/api/v1/tasks", params={"limit": "3"}).json
    assert _ids(first) == [1, 2, 3] and first["changed"] is False
    second = api.get("/api/v1/tasks", params={"limit": "3", "cursor": first["nextCursor"]}).json
    third = api.get("/api/v1/tasks", params={"limit": "3", "cursor": second["nextCursor"]}).json
    assert _ids(second) == [4, 5, 6] and _ids(third) == [7]
    assert third["nextCursor"] is None


def test_a_cursor_survives_writes_and_says_the_tag_changed(api: Api) -> None:
    first = api.get("/api/v1/tasks", params={"limit": "3"}).json
    api.core.execute(RemoveTask(ids=(TaskId(3),)))  # the task the cursor continues after
    api.core.execute(AddTask(values={"title": "new"}))
    rest = api.get("/api/v1/tasks", params={"limit": "10", "cursor": first["nextCursor"]}).json
    assert _ids(rest) == [4, 5, 6, 7, 8]
    assert rest["changed"] is True


def test_without_paging_the_answer_is_as_before(api: Api) -> None:
    body = api.get("/api/v1/tasks").json
    assert set(body) == {"tag", "revision", "tasks"} and len(body["tasks"]) == 7


def test_fields_keep_only_the_named_keys(api: Api) -> None:
    body = api.get("/api/v1/tasks", params={"fields": "id,status"}).json
    assert body["tasks"][0] == {"id": 1, "status": "pending"}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"fields": "id,colour"}, "fields"),
    ],
)
def test_a_bad_paging_parameter_is_a_400_naming_it(
    api: Api, params: dict[str, str], field: str
) -> None:
    assert_problem(api.get("/api/v1/tasks", params=params), 400, field=field)


def test_a_cursor_of_another_tag_is_refused(api: Api) -> None:
    api.post("/api/v1/tags", {"name": "other"})
    cursor = api.get("/api/v1/tasks", params={"limit": "2"}).json["nextCursor"]
    result = api.get("/api/v1/tasks", params={"tag": "other", "cursor": cursor})
    problem = assert_problem(result, 400, field="cursor")
    assert "master" in str(problem)


def test_each_page_has_the_revision_as_its_etag(api: Api) -> None:
    first = api.get("/api/v1/tasks", params={"limit": "2"})
    again = api.get(
        "/api/v1/tasks", params={"limit": "2"}, headers={"If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304
    api.core.execute(AddTask(values={"title": "more"}))
    changed = api.get(
        "/api/v1/tasks", params={"limit": "2"}, headers={"If-None-Match": first.headers["etag"]}
    )
    assert changed.status_code == 200
