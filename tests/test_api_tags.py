"""The tag resources: list, create (201 + Location), read, rename, delete, and their errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_api_support import Api, assert_problem, etag_of

from taskmaster.commands import UseTag


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    api = Api(tmp_path)
    yield api
    api.close()


def test_list_tags_marks_the_current_one(api: Api) -> None:
    result = api.get("/api/v1/tags")
    assert result.status_code == 200
    body = result.json
    assert body["revision"] == etag_of(result)
    assert [(t["name"], t["current"]) for t in body["tags"]] == [("master", True)]


def test_create_a_tag_copying_another(api: Api) -> None:
    api.add("shared")
    result = api.post("/api/v1/tags", {"name": "feature", "description": "X", "copyFrom": "master"})
    assert result.status_code == 201
    assert result.headers["location"] == "/api/v1/tags/feature"
    assert etag_of(result) == api.core.revision()
    info = api.get(result.headers["location"]).json
    assert info["name"] == "feature" and info["taskCount"] == 1
    assert info["metadata"]["description"] == "X"
    assert info["current"] is False
    tasks = api.get("/api/v1/tasks", params={"tag": "feature"}).json["tasks"]
    assert [t["title"] for t in tasks] == ["shared"]


def test_an_existing_tag_is_a_409(api: Api) -> None:
    api.post("/api/v1/tags", {"name": "feature"})
    problem = assert_problem(api.post("/api/v1/tags", {"name": "feature"}), 409, kind="tag-exists")
    assert problem["tag"] == "feature"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": "has space"}, "name"),
        ({"name": 3}, "name"),
        ({"name": "ok", "copyFrom": "bad name"}, "copyFrom"),
        ({"name": "ok", "description": 1}, "description"),
        ({"name": "ok", "extra": 1}, "extra"),
    ],
)
def test_create_refuses_invalid_fields(api: Api, body: dict[str, object], field: str) -> None:
    assert_problem(api.post("/api/v1/tags", body), 400, field=field)


def test_copy_from_a_missing_tag_is_a_404(api: Api) -> None:
    assert_problem(api.post("/api/v1/tags", {"name": "x", "copyFrom": "ghost"}), 404)


def test_rename_a_tag(api: Api) -> None:
    api.post("/api/v1/tags", {"name": "old"})
    result = api.patch("/api/v1/tags/old", {"name": "new"})
    assert result.status_code == 200
    assert result.json["name"] == "new"
    assert result.headers["content-location"] == "/api/v1/tags/new"
    assert_problem(api.get("/api/v1/tags/old"), 404, kind="tag-not-found")
    assert api.get("/api/v1/tags/new").status_code == 200


def test_master_cannot_be_renamed_or_deleted(api: Api) -> None:
    assert_problem(api.patch("/api/v1/tags/master", {"name": "x"}), 409, kind="protected-tag")
    assert_problem(api.delete("/api/v1/tags/master"), 409, kind="protected-tag")


def test_rename_onto_an_existing_tag_is_a_409(api: Api) -> None:
    api.post("/api/v1/tags", {"name": "a"})
    api.post("/api/v1/tags", {"name": "b"})
    assert_problem(api.patch("/api/v1/tags/a", {"name": "b"}), 409, kind="tag-exists")
    assert_problem(api.patch("/api/v1/tags/a", {}), 400, field="name")
    assert_problem(api.patch("/api/v1/tags/ghost", {"name": "c"}), 404)


def test_delete_a_tag(api: Api) -> None:
    api.post("/api/v1/tags", {"name": "temp"})
    result = api.delete("/api/v1/tags/temp")
    assert result.status_code == 204
    assert etag_of(result) == api.core.revision()
    assert [t["name"] for t in api.get("/api/v1/tags").json["tags"]] == ["master"]
    assert_problem(api.delete("/api/v1/tags/temp"), 404)


def test_a_tag_name_in_the_path_is_checked(api: Api) -> None:
    assert_problem(api.get("/api/v1/tags/bad%20name"), 400, field="name")


def test_the_tag_list_follows_the_current_tag_even_without_a_new_revision(api: Api) -> None:
    """`tm tags use` changes state.json, not the task file: the cache must still notice."""
    api.post("/api/v1/tags", {"name": "feature"})
    api.add("in master")
    assert api.get("/api/v1/tasks").json["tag"] == "master"
    api.core.execute(UseTag(tag="feature"))
    assert api.get("/api/v1/tasks").json["tag"] == "feature"
    current = [t["name"] for t in api.get("/api/v1/tags").json["tags"] if t["current"]]
    assert current == ["feature"]
