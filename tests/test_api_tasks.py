"""The task resources through falcon's TestClient: every route, its success and its errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_api_support import Api, assert_problem, etag_of


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    api = Api(tmp_path)
    yield api
    api.close()


# listing -----------------------------------------------------------------------------------


def test_list_returns_the_tag_the_revision_and_the_stored_tasks(api: Api) -> None:
    api.add("first")
    result = api.get("/api/v1/tasks")
    assert result.status_code == 200
    body = result.json
    assert body["tag"] == "master"
    assert body["revision"] == api.core.revision() == etag_of(result)
    assert [task["title"] for task in body["tasks"]] == ["first"]
    # The stored shape, camelCase like the file.
    assert set(body["tasks"][0]) >= {"id", "title", "testStrategy", "dependencies", "subtasks"}


def test_list_filters_by_comma_separated_statuses(api: Api) -> None:
    for title, status in (("a", "pending"), ("b", "done"), ("c", "in-progress")):
        api.add(title, status=status)
    result = api.get("/api/v1/tasks", params={"status": "done,in-progress"})
    assert [t["title"] for t in result.json["tasks"]] == ["b", "c"]
    repeated = api.get("/api/v1/tasks", query_string="status=done&status=pending")
    assert [t["title"] for t in repeated.json["tasks"]] == ["a", "b"]


def test_list_ready_keeps_tasks_whose_dependencies_are_done(api: Api) -> None:
    api.add("base")
    api.add("waits", dependencies=[1])
    result = api.get("/api/v1/tasks", params={"ready": "true"})
    assert [t["id"] for t in result.json["tasks"]] == [1]


def test_list_without_subtasks_strips_them_and_leaves_the_file_alone(api: Api) -> None:
    api.add("parent")
    api.post("/api/v1/tasks/1/subtasks", {"title": "child"})
    assert len(api.get("/api/v1/tasks").json["tasks"][0]["subtasks"]) == 1
    stripped = api.get("/api/v1/tasks", params={"with_subtasks": "false"}).json["tasks"][0]
    assert "subtasks" not in stripped
    assert len(api.get("/api/v1/tasks").json["tasks"][0]["subtasks"]) == 1


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=finished", "status"),
        ("ready=maybe", "ready"),
        ("with_subtasks=2", "with_subtasks"),
        ("tag=no%20spaces", "tag"),
    ],
)
def test_list_refuses_bad_query_parameters_naming_them(api: Api, query: str, field: str) -> None:
    assert_problem(api.get("/api/v1/tasks", query_string=query), 400, field=field)


def test_list_of_an_unknown_tag_is_a_404_problem(api: Api) -> None:
    problem = assert_problem(
        api.get("/api/v1/tasks", params={"tag": "nope"}), 404, kind="tag-not-found"
    )
    assert problem["tag"] == "nope"


# creating ----------------------------------------------------------------------------------


def test_post_creates_a_task_with_location_and_the_new_revision(api: Api) -> None:
    before = api.core.revision()
    result = api.post(
        "/api/v1/tasks",
        {
            "title": "Set up CI",
            "description": "on every push",
            "details": "GitHub Actions",
            "testStrategy": "a green run",
            "priority": "high",
            "status": "in-progress",
        },
    )
    assert result.status_code == 201
    task = result.json
    assert result.headers["location"] == f"/api/v1/tasks/{task['id']}"
    assert etag_of(result) == api.core.revision() > before
    assert task["testStrategy"] == "a green run"
    assert task["priority"] == "high" and task["status"] == "in-progress"
    assert api.get(result.headers["location"]).json == task


def test_post_takes_a_prompt_as_title_and_description(api: Api) -> None:
    task = api.post("/api/v1/tasks", {"prompt": "  Build   feature X "}).json
    assert task["title"] == "Build feature X"
    assert task["description"] == "  Build   feature X "


def test_post_takes_dependencies_as_numbers_or_strings(api: Api) -> None:
    api.add("one")
    api.add("two")
    api.post("/api/v1/tasks/1/subtasks", {"title": "sub"})
    task = api.add("three", dependencies=[1, "2"])
    assert task["dependencies"] == [1, 2]


def test_post_puts_the_task_in_the_tag_of_the_query_or_the_body(api: Api) -> None:
    api.post("/api/v1/tags", {"name": "feature"})
    api.post("/api/v1/tasks", {"title": "by query"}, params={"tag": "feature"})
    api.post("/api/v1/tasks", {"title": "by body", "tag": "feature"})
    titles = [t["title"] for t in api.get("/api/v1/tasks", params={"tag": "feature"}).json["tasks"]]
    assert titles == ["by query", "by body"]
    clash = api.post("/api/v1/tasks", {"title": "x", "tag": "master"}, params={"tag": "feature"})
    assert_problem(clash, 400, field="tag")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "title"),
        ({"title": "   "}, "title"),
        ({"title": 5}, "title"),
        ({"title": "x", "priority": "urgent"}, "priority"),
        ({"title": "x", "status": "finished"}, "status"),
        ({"title": "x", "dependencies": "1"}, "dependencies"),
        ({"title": "x", "dependencies": [0]}, "dependencies"),
        ({"title": "x", "dependencies": [True]}, "dependencies"),
        ({"title": "x", "colour": "red"}, "colour"),
        ([1, 2], "body"),
    ],
)
def test_post_refuses_invalid_fields_naming_them(api: Api, body: object, field: str) -> None:
    problem = assert_problem(api.post("/api/v1/tasks", body), 400, field=field)
    assert problem["type"] == "urn:taskmaster:problem:invalid-input"
    assert api.get("/api/v1/tasks").json["tasks"] == []


def test_post_with_invalid_json_says_so(api: Api) -> None:
    result = api.client.simulate_post(
        "/api/v1/tasks", body=b'{"title": ', headers={"Content-Type": "application/json"}
    )
    problem = assert_problem(result, 400, field="body")
    assert "not valid JSON" in problem["detail"]


def test_post_without_a_body_is_refused(api: Api) -> None:
    assert_problem(api.client.simulate_post("/api/v1/tasks"), 400, field="body")


def test_post_depending_on_a_missing_task_is_a_400(api: Api) -> None:
    problem = assert_problem(api.post("/api/v1/tasks", {"title": "x", "dependencies": [7]}), 400)
    assert "7" in problem["detail"]


# one task -----------------------------------------------------------------------------------


def test_get_a_task_and_a_subtask_by_dotted_id(api: Api) -> None:
    api.add("parent")
    created = api.post("/api/v1/tasks/1/subtasks", {"title": "child", "details": "d"})
    assert created.status_code == 201
    assert created.headers["location"] == "/api/v1/tasks/1.1"
    sub = api.get("/api/v1/tasks/1.1").json
    assert sub["id"] == "1.1" and sub["parentId"] == 1 and sub["title"] == "child"
    assert api.get("/api/v1/tasks/1").json["subtasks"][0]["title"] == "child"


def test_get_a_missing_task_is_a_404_naming_it(api: Api) -> None:
    problem = assert_problem(api.get("/api/v1/tasks/9"), 404, kind="task-not-found")
    assert problem["taskId"] == "9"
    assert problem["tag"] == "master"


@pytest.mark.parametrize("bad", ["abc", "0", "1.2.3", "-1"])
def test_a_malformed_id_is_a_400(api: Api, bad: str) -> None:
    assert_problem(api.get(f"/api/v1/tasks/{bad}"), 400, field="id")


def test_patch_changes_only_the_given_fields(api: Api) -> None:
    api.add("old", description="keep")
    result = api.patch(
        "/api/v1/tasks/1", {"title": "new", "priority": "low", "metadata": {"owner": "me"}}
    )
    assert result.status_code == 200
    assert etag_of(result) == api.core.revision()
    task = api.get("/api/v1/tasks/1").json
    assert (task["title"], task["description"], task["priority"]) == ("new", "keep", "low")
    assert task["metadata"] == {"owner": "me"}


def test_patch_a_subtask_returns_its_view(api: Api) -> None:
    api.add("parent")
    api.post("/api/v1/tasks/1/subtasks", {"title": "child"})
    view = api.patch("/api/v1/tasks/1.1", {"status": "done"}).json
    assert view["id"] == "1.1" and view["status"] == "done"
    assert api.get("/api/v1/tasks/1.1").json["status"] == "done"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"title": None}, "title"),
        ({"title": ""}, "title"),
        ({"status": "finished"}, "status"),
        ({"metadata": []}, "metadata"),
        ({"id": 5}, "id"),
        ({"dependencies": [2]}, "dependencies"),
    ],
)
def test_patch_refuses_invalid_fields(api: Api, body: dict[str, object], field: str) -> None:
    api.add("t")
    assert_problem(api.patch("/api/v1/tasks/1", body), 400, field=field)


def test_patch_a_missing_task_is_a_404(api: Api) -> None:
    assert_problem(api.patch("/api/v1/tasks/4", {"title": "x"}), 404)


def test_delete_removes_the_task(api: Api) -> None:
    api.add("gone")
    api.add("stays")
    result = api.delete("/api/v1/tasks/1")
    assert result.status_code == 204
    assert result.text == ""
    assert etag_of(result) == api.core.revision()
    assert_problem(api.get("/api/v1/tasks/1"), 404)
    assert api.get("/api/v1/tasks/2").status_code == 200
    assert_problem(api.delete("/api/v1/tasks/1"), 404)


def test_delete_a_subtask(api: Api) -> None:
    api.add("parent")
    api.post("/api/v1/tasks/1/subtasks", {"title": "child"})
    assert api.delete("/api/v1/tasks/1.1").status_code == 204
    assert api.get("/api/v1/tasks/1").json["subtasks"] == []


def test_put_status_returns_the_changed_item(api: Api) -> None:
    api.add("t")
    result = api.put("/api/v1/tasks/1/status", {"status": "done"})
    assert result.status_code == 200
    assert result.json["status"] == "done"
    assert etag_of(result) == api.core.revision()
    assert api.get("/api/v1/tasks/1").json["status"] == "done"


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "status"), ({"status": "finished"}, "status"), ({"status": None}, "status")],
)
def test_put_status_refuses_a_bad_status(api: Api, body: dict[str, object], field: str) -> None:
    api.add("t")
    assert_problem(api.put("/api/v1/tasks/1/status", body), 400, field=field)


def test_subtasks_do_not_nest(api: Api) -> None:
    api.add("parent")
    api.post("/api/v1/tasks/1/subtasks", {"title": "child"})
    assert_problem(api.post("/api/v1/tasks/1.1/subtasks", {"title": "x"}), 400, field="id")
    assert_problem(api.post("/api/v1/tasks/1/subtasks", {}), 400, field="title")
    assert_problem(api.post("/api/v1/tasks/1/subtasks", {"title": None}), 400, field="title")
    assert_problem(api.post("/api/v1/tasks/2/subtasks", {"title": "x"}), 404)


# dependencies -------------------------------------------------------------------------------


def test_add_and_remove_a_dependency(api: Api) -> None:
    api.add("one")
    api.add("two")
    added = api.post("/api/v1/tasks/2/dependencies", {"dependsOn": "1"})
    assert added.status_code == 200
    assert added.json["dependencies"] == [1]
    removed = api.delete("/api/v1/tasks/2/dependencies/1")
    assert removed.status_code == 200
    assert removed.json["dependencies"] == []
    assert etag_of(removed) == api.core.revision()


def test_a_dependency_cycle_is_a_409_naming_the_cycle(api: Api) -> None:
    api.add("one")
    api.add("two", dependencies=[1])
    api.add("three", dependencies=[2])
    problem = assert_problem(
        api.post("/api/v1/tasks/1/dependencies", {"dependsOn": 3}), 409, kind="dependency-cycle"
    )
    assert problem["cycle"][0] == problem["cycle"][-1] == "1"
    assert set(problem["cycle"]) == {"1", "2", "3"}
    assert "1 -> " in problem["detail"]


def test_dependency_errors(api: Api) -> None:
    api.add("one")
    assert_problem(api.post("/api/v1/tasks/1/dependencies", {}), 400, field="dependsOn")
    assert_problem(
        api.post("/api/v1/tasks/1/dependencies", {"dependsOn": "x"}), 400, field="dependsOn"
    )
    assert_problem(api.post("/api/v1/tasks/1/dependencies", {"dependsOn": 1}), 400)  # itself
    assert_problem(api.post("/api/v1/tasks/1/dependencies", {"dependsOn": 5}), 400)  # missing
    assert_problem(api.delete("/api/v1/tasks/1/dependencies/5"), 400)  # not a dependency
    assert_problem(api.delete("/api/v1/tasks/1/dependencies/x"), 400, field="dep")


# next -------------------------------------------------------------------------------------


def test_next_is_null_when_nothing_is_ready(api: Api) -> None:
    result = api.get("/api/v1/next")
    assert result.status_code == 200
    assert result.text == "null"
    assert result.json is None


def test_next_is_the_ready_task_with_the_highest_priority(api: Api) -> None:
    api.add("low", priority="low")
    api.add("high", priority="high")
    api.add("blocked", priority="critical", dependencies=[1])
    assert api.get("/api/v1/next").json["title"] == "high"
    api.put("/api/v1/tasks/2/status", {"status": "done"})
    assert api.get("/api/v1/next").json["title"] == "low"


# ids and nesting the file cannot hold ---------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "1" * 5000,  # int() refuses more than 4,300 digits
        str(2**53),  # beyond what the reference tool's JSON numbers hold exactly
        "18446744073709551615",
        f"1.{2**53}",
        "%D9%A1",  # Arabic-Indic digit one
        "%EF%BC%91",  # fullwidth digit one
        "%C2%B2",  # superscript two
    ],
)
def test_a_path_id_that_is_not_ascii_digits_below_2_53_is_a_400(api: Api, raw: str) -> None:
    api.add("first")
    for result in (
        api.get(f"/api/v1/tasks/{raw}"),
        api.patch(f"/api/v1/tasks/{raw}", {"title": "x"}),
        api.delete(f"/api/v1/tasks/{raw}"),
        api.delete(f"/api/v1/tasks/1/dependencies/{raw}"),
    ):
        problem = assert_problem(result, 400, kind="invalid-input")
        assert problem["field"] in ("id", "dep")
        assert len(problem["detail"]) < 200  # a huge id is not echoed back whole


def test_the_largest_id_the_reference_tool_holds_is_merely_not_found(api: Api) -> None:
    assert_problem(api.get(f"/api/v1/tasks/{2**53 - 1}"), 404, kind="task-not-found")


@pytest.mark.parametrize("value", [2**53, 2**64 - 1, "١", str(2**53)])
def test_a_body_id_beyond_the_range_is_a_400_naming_the_field(api: Api, value: object) -> None:
    api.add("first")
    result = api.post("/api/v1/tasks", {"title": "x", "dependencies": [value]})
    assert_problem(result, 400, field="dependencies")
    assert_problem(api.post("/api/v1/tasks/1/dependencies", {"dependsOn": value}), 400)


def _nested(depth: int) -> dict[str, object]:
    value: dict[str, object] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def test_metadata_nested_deeper_than_the_file_can_store_is_a_400(api: Api) -> None:
    api.add("first")
    before = api.tasks_file.read_bytes()
    for depth in (300, 1000):
        # Written by hand: orjson itself cannot serialise what the server must refuse.
        body = '{"metadata": ' + '{"a": ' * (depth - 1) + "{}" + "}" * depth
        result = api.client.simulate_patch(
            "/api/v1/tasks/1", body=body, headers={"Content-Type": "application/json"}
        )
        problem = assert_problem(result, 400, field="metadata")
        assert "deep" in problem["detail"]
    assert api.tasks_file.read_bytes() == before


def test_metadata_as_deep_as_the_file_can_store_is_written_and_read_back(api: Api) -> None:
    from taskmaster.api.inputs import MAX_MEMBER_DEPTH

    api.add("first")
    api.post("/api/v1/tasks/1/subtasks", {"title": "child"})
    deepest = _nested(MAX_MEMBER_DEPTH)
    # A subtask's metadata is the deepest place in the file a request writes to.
    result = api.patch("/api/v1/tasks/1.1", {"metadata": deepest})
    assert result.status_code == 200, result.text
    assert api.get("/api/v1/tasks/1.1").json["metadata"] == deepest
    assert api.patch("/api/v1/tasks/1", {"title": "still writable"}).status_code == 200
