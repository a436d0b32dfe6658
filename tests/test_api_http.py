"""HTTP semantics across all routes: ETag/304, If-Match/412, body limits (413/415), the bearer
token (401), rate limiting (429), storage trouble (503), unexpected errors (500), unknown
routes (404/405): every error an RFC 9457 problem without a traceback."""

from __future__ import annotations

import fcntl
import logging
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_api_support import Api, assert_problem, etag_of

from taskmaster.storage.file import lock_path_for


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    api = Api(tmp_path)
    yield api
    api.close()


# conditional requests --------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/api/v1/tasks", "/api/v1/tasks/1", "/api/v1/next", "/api/v1/tags"]
)
def test_if_none_match_with_the_current_revision_is_a_304(api: Api, path: str) -> None:
    api.add("t")
    first = api.get(path)
    assert first.status_code == 200
    revision = etag_of(first)
    for header in (f'"{revision}"', f'W/"{revision}"', f'"1", "{revision}"', "*"):
        result = api.get(path, headers={"If-None-Match": header})
        assert result.status_code == 304, header
        assert result.text == ""
        assert etag_of(result) == revision


def test_if_none_match_with_an_old_revision_gets_the_new_body(api: Api) -> None:
    api.add("t")
    old = etag_of(api.get("/api/v1/tasks/1"))
    api.put("/api/v1/tasks/1/status", {"status": "done"})
    result = api.get("/api/v1/tasks/1", headers={"If-None-Match": f'"{old}"'})
    assert result.status_code == 200
    assert result.json["status"] == "done"
    assert etag_of(result) > old


def test_if_match_with_the_current_revision_writes(api: Api) -> None:
    api.add("t")
    revision = etag_of(api.get("/api/v1/tasks/1"))
    result = api.patch("/api/v1/tasks/1", {"title": "new"}, headers={"If-Match": f'"{revision}"'})
    assert result.status_code == 200
    assert etag_of(result) > revision


def test_if_match_with_a_stale_revision_is_a_412_and_writes_nothing(api: Api) -> None:
    api.add("t")
    stale = etag_of(api.get("/api/v1/tasks/1"))
    api.put("/api/v1/tasks/1/status", {"status": "done"})  # someone else wrote meanwhile
    before = api.tasks_file.read_bytes()
    result = api.patch("/api/v1/tasks/1", {"title": "lost?"}, headers={"If-Match": f'"{stale}"'})
    problem = assert_problem(result, 412, kind="revision-mismatch")
    assert problem["expected"] == stale
    assert problem["current"] == api.core.revision()
    assert api.tasks_file.read_bytes() == before


@pytest.mark.parametrize("header", ['W/"{rev}"', '"nonsense"'])
def test_if_match_with_a_weak_or_foreign_tag_never_matches(api: Api, header: str) -> None:
    api.add("t")
    revision = api.core.revision()
    result = api.delete("/api/v1/tasks/1", headers={"If-Match": header.format(rev=revision)})
    assert_problem(result, 412)
    assert api.get("/api/v1/tasks/1").status_code == 200


def test_if_match_star_and_lists(api: Api) -> None:
    api.add("t")
    revision = api.core.revision()
    assert (
        api.put("/api/v1/tasks/1/status", {"status": "done"}, headers={"If-Match": "*"}).status_code
        == 200
    )
    revision = api.core.revision()
    listed = api.put(
        "/api/v1/tasks/1/status",
        {"status": "pending"},
        headers={"If-Match": f'"1", "{revision}"'},
    )
    assert listed.status_code == 200
    assert_problem(
        api.put(
            "/api/v1/tasks/1/status", {"status": "done"}, headers={"If-Match": f'"1", "{revision}"'}
        ),
        412,
    )


# bodies --------------------------------------------------------------------------------------


def test_a_body_over_the_limit_is_a_413_before_it_is_read(tmp_path: Path) -> None:
    api = Api.with_config(tmp_path, max_body_bytes=64)
    try:
        big = {"title": "x" * 100}
        problem = assert_problem(api.post("/api/v1/tasks", big), 413, kind="body-too-large")
        assert problem["limit"] == 64
        assert api.post("/api/v1/tasks", {"title": "small"}).status_code == 201
    finally:
        api.close()


def test_the_default_body_limit_is_one_mebibyte(api: Api) -> None:
    result = api.post("/api/v1/tasks", {"title": "x", "details": "y" * (1 << 20)})
    assert_problem(result, 413)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_is_not_json_is_a_415(api: Api, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    result = api.client.simulate_post("/api/v1/tasks", body=b'{"title": "x"}', headers=headers)
    assert_problem(result, 415, kind="unsupported-media-type")


def test_json_with_a_charset_or_a_json_suffix_is_accepted(api: Api) -> None:
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        result = api.client.simulate_post(
            "/api/v1/tasks", body=b'{"title": "x"}', headers={"Content-Type": content_type}
        )
        assert result.status_code == 201, content_type


# authentication ------------------------------------------------------------------------------


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[Api]:
    api = Api.with_config(tmp_path, api_token="s3cret")
    yield api
    api.close()


def test_writes_need_the_bearer_token(guarded: Api) -> None:
    result = guarded.post("/api/v1/tasks", {"title": "x"})
    assert_problem(result, 401, kind="unauthorized")
    assert result.headers["www-authenticate"].startswith("Bearer")
    wrong = guarded.post("/api/v1/tasks", {"title": "x"}, headers={"Authorization": "Bearer no"})
    assert_problem(wrong, 401)
    assert 'error="invalid_token"' in wrong.headers["www-authenticate"]
    ok = guarded.post("/api/v1/tasks", {"title": "x"}, headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 201


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/api/v1/tasks/1/status"),
        ("PATCH", "/api/v1/tasks/1"),
        ("DELETE", "/api/v1/tasks/1"),
        ("POST", "/api/v1/tags"),
    ],
)
def test_every_write_method_is_guarded(guarded: Api, method: str, path: str) -> None:
    result = guarded.client.simulate_request(method, path, json={"status": "done"})
    assert_problem(result, 401)


def test_reads_stay_open_with_a_token(guarded: Api) -> None:
    assert guarded.get("/api/v1/tasks").status_code == 200


# rate limiting -----------------------------------------------------------------------------


def test_the_rate_limit_answers_429_with_retry_after_and_ratelimit_headers(tmp_path: Path) -> None:
    api = Api.with_config(tmp_path, rate_limit="3/minute")
    try:
        remaining = []
        started = time.time()  # the window's clock: the first request's hit is no earlier
        for _ in range(3):
            result = api.get("/api/v1/tasks")
            assert result.status_code == 200
            assert result.headers["ratelimit-limit"] == "3"
            remaining.append(int(result.headers["ratelimit-remaining"]))
        assert remaining == [2, 1, 0]
        refused = api.get("/api/v1/tasks")
        # The window frees its first request 60 s after it was counted: what is left of that,
        # rounded up, is between 60 less the time the test took and 60.
        earliest = 60 - math.ceil(time.time() - started)
        assert_problem(refused, 429, kind="rate-limited")
        assert earliest <= int(refused.headers["retry-after"]) <= 60
        assert refused.headers["ratelimit-remaining"] == "0"
        assert earliest <= int(refused.headers["ratelimit-reset"]) <= 60
        # Another client (address) has its own budget; health probes are not counted.
        assert api.get("/api/v1/tasks", remote_addr="10.1.1.1").status_code == 200
        assert api.get("/api/v1/health").status_code == 200
        assert "tm_rate_limited_requests_total 1.0" in api.get("/metrics").text
    finally:
        api.close()


def test_a_valid_bearer_token_is_its_own_rate_limit_key(tmp_path: Path) -> None:
    api = Api.with_config(tmp_path, rate_limit="1/minute", api_token="abc")
    try:
        assert api.get("/api/v1/tasks").status_code == 200
        assert api.get("/api/v1/tasks").status_code == 429
        token = {"Authorization": "Bearer abc"}
        assert api.get("/api/v1/tasks", headers=token).status_code == 200
        assert api.get("/api/v1/tasks", headers=token).status_code == 429
        # A made-up token buys no fresh budget: it counts against the address.
        made_up = {"Authorization": "Bearer anything"}
        assert api.get("/api/v1/tasks", headers=made_up).status_code == 429
    finally:
        api.close()


def test_an_invalid_rate_limit_is_refused_at_creation(tmp_path: Path) -> None:
    from taskmaster.errors import InvalidInput

    with pytest.raises(InvalidInput, match="rate limit"):
        Api.with_config(tmp_path, rate_limit="lots")


# storage trouble ---------------------------------------------------------------------------


def test_a_corrupt_task_file_is_a_503_and_is_never_overwritten(api: Api) -> None:
    api.add("t")
    api.tasks_file.write_bytes(b'{"master": {"tasks": [')
    corrupt = api.tasks_file.read_bytes()
    assert api.get("/api/v1/health").json["storage"]["kind"] == "corrupt-task-file"
    for result in (
        api.get("/api/v1/tasks"),
        api.post("/api/v1/tasks", {"title": "x"}),
        api.put("/api/v1/tasks/1/status", {"status": "done"}),
        api.delete("/api/v1/tags/master"),
    ):
        problem = assert_problem(result, 503, kind="corrupt-task-file")
        assert problem["path"] == str(api.tasks_file)
        assert problem["reason"]
        assert int(result.headers["retry-after"]) > 0
    assert api.tasks_file.read_bytes() == corrupt


def test_a_missing_task_file_is_a_503(api: Api) -> None:
    api.tasks_file.unlink()
    problem = assert_problem(api.get("/api/v1/tasks"), 503, kind="task-file-missing")
    assert problem["path"] == str(api.tasks_file)
    assert_problem(api.post("/api/v1/tasks", {"title": "x"}), 503)
    assert not api.tasks_file.exists()


def test_a_held_write_lock_is_a_503_with_retry_after_1(tmp_path: Path) -> None:
    api = Api(tmp_path, lock_timeout=0.05)
    try:
        # Another open file description: flock makes it conflict like another process would.
        held = os.open(lock_path_for(api.tasks_file), os.O_RDONLY)
        try:
            fcntl.flock(held, fcntl.LOCK_EX)
            result = api.post("/api/v1/tasks", {"title": "x"})
        finally:
            os.close(held)
        assert_problem(result, 503, kind="lock-timeout")
        assert result.headers["retry-after"] == "1"
        assert api.post("/api/v1/tasks", {"title": "x"}).status_code == 201
    finally:
        api.close()


# unexpected errors and unknown routes ------------------------------------------------------


def test_an_unexpected_error_is_a_500_without_a_traceback(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("internal detail /secret/path")

    monkeypatch.setattr(api.core, "list_tasks", explode)
    with caplog.at_level(logging.ERROR, logger="taskmaster.api.problems"):
        result = api.get("/api/v1/tasks")
    problem = assert_problem(result, 500)
    assert "secret" not in result.text
    assert problem["type"] == "about:blank" or problem["type"].startswith("urn:")
    assert "internal detail /secret/path" in caplog.text  # ...but the log has it


def test_an_unknown_route_is_a_404_problem(api: Api) -> None:
    assert_problem(api.get("/api/v2/tasks"), 404)
    assert_problem(api.get("/api/v1/tasks/1/nothing/here"), 404)


def test_an_unsupported_method_is_a_405_problem_with_allow(api: Api) -> None:
    result = api.client.simulate_request("PUT", "/api/v1/tasks")
    assert_problem(result, 405)
    assert "POST" in result.headers["allow"]


# HEAD ----------------------------------------------------------------------------------------


def _get_routes(api: Api) -> list[str]:
    """Every route that answers GET, with its parameters filled in."""
    from falcon.inspect import inspect_routes

    filled = {"{task_id}": "1", "{dep_id}": "2", "{name}": "master"}
    paths = []
    for route in inspect_routes(api.app):
        if any(m.method == "GET" for m in route.methods):
            path = route.path
            for template, value in filled.items():
                path = path.replace(template, value)
            paths.append(path)
    return paths


def test_head_answers_like_get_without_a_body_on_every_get_route(api: Api) -> None:
    api.add("first")
    paths = [path for path in _get_routes(api) if path != "/api/v1/events"]
    assert "/api/v1/tasks/1" in paths and "/api/v1/health" in paths
    for path in paths:
        got = api.get(path)
        head = api.client.simulate_head(path)
        assert head.status_code == got.status_code, path
        assert head.content == b"", path
        assert head.headers.get("content-type") == got.headers.get("content-type"), path
        assert head.headers.get("etag") == got.headers.get("etag"), path
        if path != "/metrics":  # the metrics count the requests themselves
            assert head.headers.get("content-length") == got.headers.get("content-length"), path
    assert api.client.simulate_head("/api/v1/tasks/9").status_code == 404


def test_head_on_the_event_stream_keeps_no_stream_slot(tmp_path: Path) -> None:
    api = Api.with_config(tmp_path, sse_max_clients=1)
    try:
        for _ in range(3):
            assert api.client.simulate_head("/api/v1/events").status_code == 200
        assert api.app.state.hub.open_streams == 0
        # The one slot is still free for a client that does read the stream.
        stream = api.app.state.hub.open(heartbeat=1)
        api.app.state.hub.release(stream)
    finally:
        api.close()
