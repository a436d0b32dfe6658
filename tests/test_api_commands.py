"""The routes for what the CLI and MCP do beyond one resource: several statuses at once, move,
clear subtasks, validate and fix dependencies, the current tag, generate."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from test_api_support import Api, assert_problem, etag_of


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    api = Api(tmp_path)
    api.add("one")
    api.add("two")
    api.add("three", dependencies=[1])
    api.post("/api/v1/tasks/1/subtasks", {"title": "first step"})
    api.post("/api/v1/tasks/1/subtasks", {"title": "second step", "dependencies": ["1.1"]})
    yield api
    api.close()


def _stored(api: Api, tag: str = "master") -> list[dict]:
    return orjson.loads(api.tasks_file.read_bytes())[tag]["tasks"]


def _stale(api: Api) -> dict[str, str]:
    return {"If-Match": f'"{api.core.revision() - 1}"'}


# several statuses -----------------------------------------------------------------------------


def test_set_status_changes_several_items_in_one_write(api: Api) -> None:
    revision = api.core.revision()
    result = api.post("/api/v1/set-status", {"ids": [2, "1.1", "3"], "status": "done"})
    assert result.status_code == 200, result.text
    assert [item["id"] for item in result.json] == [2, "1.1", 3]
    assert all(item["status"] == "done" for item in result.json)
    assert etag_of(result) == api.core.revision() > revision
    stored = {task["id"]: task for task in _stored(api)}
    assert stored[2]["status"] == stored[3]["status"] == "done"
    assert stored[1]["subtasks"][0]["status"] == "done"


def test_set_status_with_an_unknown_id_changes_nothing(api: Api) -> None:
    before = api.tasks_file.read_bytes()
    result = api.post("/api/v1/set-status", {"ids": [1, 9], "status": "done"})
    assert_problem(result, 404, kind="task-not-found")
    assert api.tasks_file.read_bytes() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ids": [], "status": "done"}, "ids"),
        ({"ids": "1,2", "status": "done"}, "ids"),
        ({"ids": [1]}, "status"),
        ({"ids": [1], "status": "finished"}, "status"),
        ({"ids": ["x"], "status": "done"}, "ids"),
        ({"ids": [1], "status": "done", "tag": "master"}, "tag"),
    ],
)
def test_set_status_refuses_bad_bodies_naming_the_field(api: Api, body: dict, field: str) -> None:
    assert_problem(api.post("/api/v1/set-status", body), 400, field=field)


def test_set_status_honours_if_match(api: Api) -> None:
    result = api.post("/api/v1/set-status", {"ids": [1], "status": "done"}, headers=_stale(api))
    assert_problem(result, 412, kind="revision-mismatch")


# subtask notes --------------------------------------------------------------------------------


def test_a_note_is_appended_to_a_subtask_with_its_time(api: Api) -> None:
    result = api.post("/api/v1/tasks/1.2/notes", {"text": "Found the cause"})
    assert result.status_code == 200, result.text
    assert result.json["id"] == "1.2"
    assert etag_of(result) == api.core.revision()
    details = _stored(api)[0]["subtasks"][1]["details"]
    assert (
        details.startswith("<info added on ") and "\nFound the cause\n</info added on " in details
    )
    again = api.post("/api/v1/tasks/1.2/notes", {"text": "Fixed"}).json["details"]
    assert again.startswith(details) and again.count("<info added on ") == 2


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/api/v1/tasks/1/notes", {"text": "x"}, 400, "id"),
        ("/api/v1/tasks/1.2/notes", {"text": "  "}, 400, "text"),
        ("/api/v1/tasks/1.2/notes", {"text": None}, 400, "text"),
        ("/api/v1/tasks/1.2/notes", {}, 400, "text"),
        ("/api/v1/tasks/1.2/notes", {"text": "x", "prompt": "y"}, 400, "prompt"),
        ("/api/v1/tasks/1.9/notes", {"text": "x"}, 404, None),
    ],
)
def test_a_note_is_refused_without_a_subtask_or_text(
    api: Api, path: str, body: dict, status: int, field: str | None
) -> None:
    before = api.tasks_file.read_bytes()
    assert_problem(api.post(path, body), status, field=field)
    assert api.tasks_file.read_bytes() == before


# move -----------------------------------------------------------------------------------------


def test_move_renumbers_a_task_to_an_unused_id(api: Api) -> None:
    result = api.post("/api/v1/move", {"from": [2], "to": [7]})
    assert result.status_code == 200, result.text
    assert [item["id"] for item in result.json] == [7]
    assert etag_of(result) == api.core.revision()
    assert 7 in [task["id"] for task in _stored(api)]
    assert 2 not in [task["id"] for task in _stored(api)]


def test_move_makes_a_task_a_subtask(api: Api) -> None:
    result = api.post("/api/v1/move", {"from": [2], "to": ["1.3"]})
    assert result.status_code == 200, result.text
    assert result.json[0]["id"] == "1.3"
    assert [sub["title"] for sub in _stored(api)[0]["subtasks"]][-1] == "two"


def test_move_before_reorders_without_renumbering(api: Api) -> None:
    result = api.post("/api/v1/move", {"from": [3], "before": 1})
    assert result.status_code == 200, result.text
    assert result.json["id"] == 3
    assert etag_of(result) == api.core.revision()
    assert [task["id"] for task in _stored(api)] == [3, 1, 2]
    assert_problem(api.post("/api/v1/move", {"from": [1, 2], "before": 3}), 400, field="from")
    assert_problem(api.post("/api/v1/move", {"from": [1], "to": [9], "before": 3}), 400, field="to")
    assert_problem(api.post("/api/v1/move", {"from": [1], "before": "x"}), 400, field="before")
    assert [task["id"] for task in _stored(api)] == [3, 1, 2]


def test_move_to_another_tag(api: Api) -> None:
    assert api.post("/api/v1/tags", {"name": "feature"}).status_code == 201
    result = api.post("/api/v1/move", {"from": [2], "toTag": "feature"})
    assert result.status_code == 200, result.text
    assert [task["title"] for task in _stored(api, "feature")] == ["two"]
    assert "two" not in [task["title"] for task in _stored(api)]
    # Task 3 depends on task 1: moving it alone needs a decision about that dependency.
    assert api.post("/api/v1/move", {"from": [3], "toTag": "feature"}).status_code == 400
    result = api.post("/api/v1/move", {"from": [3], "toTag": "feature", "withDependencies": True})
    assert result.status_code == 200, result.text
    assert {task["title"] for task in _stored(api, "feature")} == {"one", "two", "three"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"to": [5]}, "from"),
        ({"from": [2]}, "to"),
        ({"from": [2], "fromTag": "master", "to": [5]}, "fromTag"),
        ({"from": [2], "to": [5], "withDependencies": True}, "withDependencies"),
        ({"from": [2], "toTag": "master"}, "toTag"),
        ({"from": [2], "toTag": "feature", "to": [5]}, "to"),
        ({"from": [2], "toTag": "x/../y"}, "toTag"),
        (
            {"from": [2], "toTag": "f", "withDependencies": True, "ignoreDependencies": True},
            "ignoreDependencies",
        ),
        ({"from": [2], "toTag": "f", "withDependencies": "yes"}, "withDependencies"),
    ],
)
def test_move_refuses_contradictory_bodies_naming_the_field(
    api: Api, body: dict, field: str
) -> None:
    before = api.tasks_file.read_bytes()
    assert_problem(api.post("/api/v1/move", body), 400, field=field)
    assert api.tasks_file.read_bytes() == before


# clear subtasks -------------------------------------------------------------------------------


def test_delete_on_a_tasks_subtasks_clears_them(api: Api) -> None:
    result = api.delete("/api/v1/tasks/1/subtasks")
    assert result.status_code == 204
    assert etag_of(result) == api.core.revision()
    assert _stored(api)[0]["subtasks"] == []
    assert_problem(api.delete("/api/v1/tasks/1.1/subtasks"), 400, field="id")
    assert_problem(api.delete("/api/v1/tasks/9/subtasks"), 404, kind="task-not-found")


def test_clear_subtasks_of_listed_tasks_or_of_all(api: Api) -> None:
    api.post("/api/v1/tasks/2/subtasks", {"title": "other step"})
    result = api.post("/api/v1/clear-subtasks", {"ids": [2]})
    assert result.status_code == 200, result.text
    assert [task["id"] for task in result.json] == [2]
    assert len(_stored(api)[0]["subtasks"]) == 2
    result = api.post("/api/v1/clear-subtasks", {"all": True})
    assert [task["id"] for task in result.json] == [1]
    assert all(not task.get("subtasks") for task in _stored(api))


@pytest.mark.parametrize("body", [{}, {"ids": [1], "all": True}, {"all": False}])
def test_clear_subtasks_needs_ids_or_all_but_not_both(api: Api, body: dict) -> None:
    assert_problem(api.post("/api/v1/clear-subtasks", body), 400, field="ids")


# dependencies ---------------------------------------------------------------------------------


def _break_a_dependency(api: Api) -> None:
    document = orjson.loads(api.tasks_file.read_bytes())
    document["master"]["tasks"][1]["dependencies"] = [9, 2]
    api.tasks_file.write_bytes(orjson.dumps(document))


def test_validation_reports_issues_and_fix_removes_them(api: Api) -> None:
    valid = api.get("/api/v1/dependencies/validation")
    assert valid.status_code == 200
    assert valid.json == {"tag": "master", "valid": True, "issues": []}
    _break_a_dependency(api)
    report = api.get("/api/v1/dependencies/validation")
    assert report.json["valid"] is False
    assert {issue["kind"] for issue in report.json["issues"]} == {"missing", "self"}
    assert etag_of(report) == api.core.revision()
    assert (
        api.get(
            "/api/v1/dependencies/validation", headers={"If-None-Match": report.headers["etag"]}
        ).status_code
        == 304
    )

    fixed = api.post("/api/v1/dependencies/fix")
    assert fixed.status_code == 200, fixed.text
    assert fixed.json["tag"] == "master"
    assert len(fixed.json["fixed"]) == 2
    assert etag_of(fixed) == api.core.revision()
    assert _stored(api)[1]["dependencies"] == []
    assert api.get("/api/v1/dependencies/validation").json["valid"] is True


def test_validation_of_an_unknown_tag_is_a_404(api: Api) -> None:
    result = api.get("/api/v1/dependencies/validation", params={"tag": "nope"})
    assert_problem(result, 404, kind="tag-not-found")
    assert_problem(api.post("/api/v1/dependencies/fix?tag=nope"), 404, kind="tag-not-found")


# current tag ----------------------------------------------------------------------------------


def test_the_current_tag_can_be_read_and_switched(api: Api) -> None:
    current = api.get("/api/v1/current-tag")
    assert current.status_code == 200
    assert current.json["name"] == "master" and current.json["current"] is True
    api.post("/api/v1/tags", {"name": "feature"})
    before = api.core.revision()
    switched = api.put("/api/v1/current-tag", {"name": "feature"})
    assert switched.status_code == 200, switched.text
    assert switched.json["name"] == "feature" and switched.json["current"] is True
    assert etag_of(switched) == api.core.revision() > before
    assert api.core.current_tag() == "feature"
    # Requests without a tag now work on it, and cached answers moved on.
    assert api.get("/api/v1/tasks").json["tag"] == "feature"
    assert api.get("/api/v1/current-tag").json["name"] == "feature"


def test_switching_to_an_unknown_tag_or_with_a_stale_revision_changes_nothing(api: Api) -> None:
    assert_problem(api.put("/api/v1/current-tag", {"name": "nope"}), 404, kind="tag-not-found")
    assert_problem(api.put("/api/v1/current-tag", {"name": "a b"}), 400, field="name")
    api.post("/api/v1/tags", {"name": "feature"})
    result = api.put("/api/v1/current-tag", {"name": "feature"}, headers=_stale(api))
    assert_problem(result, 412, kind="revision-mismatch")
    assert api.core.current_tag() == "master"


# generate -------------------------------------------------------------------------------------


def test_generate_writes_one_file_per_task(api: Api) -> None:
    result = api.post("/api/v1/generate")
    assert result.status_code == 200, result.text
    directory = api.root / ".taskmaster" / "tasks"
    assert result.json["outputDir"] == str(directory)
    assert sorted(Path(p).name for p in result.json["files"]) == [
        "task_001.md",
        "task_002.md",
        "task_003.md",
    ]
    assert (directory / "task_001.md").read_text().count("first step") == 1
    assert etag_of(result) == api.core.revision()
    again = api.post("/api/v1/generate")
    assert again.json["written"] == []


def test_generate_honours_if_match(api: Api) -> None:
    assert_problem(api.post("/api/v1/generate", headers=_stale(api)), 412)
    assert not (api.root / ".taskmaster" / "tasks").exists()


# the rules every write follows ----------------------------------------------------------------


def test_the_new_writes_need_the_token_when_the_server_has_one(tmp_path: Path) -> None:
    api = Api.with_config(tmp_path, api_token="secret")
    try:
        for method, path, body in [
            ("POST", "/api/v1/set-status", {"ids": [1], "status": "done"}),
            ("POST", "/api/v1/move", {"from": [1], "to": [2]}),
            ("POST", "/api/v1/clear-subtasks", {"all": True}),
            ("DELETE", "/api/v1/tasks/1/subtasks", None),
            ("POST", "/api/v1/dependencies/fix", None),
            ("PUT", "/api/v1/current-tag", {"name": "master"}),
            ("POST", "/api/v1/generate", None),
        ]:
            kwargs = {"body": orjson.dumps(body)} if body is not None else {}
            result = api.client.simulate_request(method, path, **kwargs)
            assert_problem(result, 401, kind="unauthorized")
    finally:
        api.close()
