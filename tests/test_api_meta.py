"""Health, Prometheus metrics and the OpenAPI document."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from falcon.inspect import inspect_routes
from openapi_spec_validator import validate
from test_api_support import Api

from taskmaster.api.openapi import build_spec


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    api = Api(tmp_path)
    yield api
    api.close()


# health ------------------------------------------------------------------------------------


def test_health_reports_the_revision_the_file_and_the_watcher(api: Api) -> None:
    result = api.get("/api/v1/health")
    assert result.status_code == 200
    assert result.json == {
        "status": "ok",
        "revision": api.core.revision(),
        "tasksFile": str(api.tasks_file),
        "store": {
            "backend": "file",
            "location": str(api.tasks_file.resolve()),
            "key": f"file:{api.tasks_file.resolve()}",
        },
        "watcher": False,
        "storage": {"state": "ok", "error": None},
        "redis": {"state": "disabled", "error": None},
    }


def test_health_says_when_the_watcher_runs(tmp_path: Path) -> None:
    api = Api.with_config(tmp_path, watch=True)
    try:
        assert api.get("/api/v1/health").json["watcher"] is True
    finally:
        api.close()


def test_health_is_a_degraded_503_when_the_file_is_corrupt(api: Api) -> None:
    api.tasks_file.write_text("{ not json")
    result = api.get("/api/v1/health")
    assert result.status_code == 503
    assert int(result.headers["retry-after"]) > 0
    assert result.json["status"] == "degraded"
    assert result.json["revision"] is None
    storage = result.json["storage"]
    assert storage["state"] == "error"
    assert storage["kind"] == "corrupt-task-file"
    assert str(api.tasks_file) in storage["error"]


# metrics -----------------------------------------------------------------------------------


def _sample(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} not in metrics"
    return float(match.group(1))


def test_metrics_count_requests_by_route_method_and_status(api: Api) -> None:
    api.add("t")
    api.get("/api/v1/tasks/1")
    api.get("/api/v1/tasks/1")
    api.get("/api/v1/tasks/9")
    result = api.get("/metrics")
    assert result.status_code == 200
    assert result.headers["content-type"].startswith("text/plain")
    text = result.text
    route = 'method="GET",route="/api/v1/tasks/{task_id}"'
    assert _sample(text, f'tm_http_requests_total{{{route},status="200"}}') == 2
    assert _sample(text, f'tm_http_requests_total{{{route},status="404"}}') == 1
    assert (
        _sample(text, 'tm_http_requests_total{method="POST",route="/api/v1/tasks",status="201"}')
        == 1
    )


def test_metrics_export_cache_counters_and_invalidation_lag(api: Api) -> None:
    api.add("t")  # a write: its event reaches the cache and is timed
    api.get("/api/v1/tasks")
    api.get("/api/v1/tasks")
    text = api.get("/metrics").text
    assert _sample(text, "tm_cache_hits_total") == api.cache.stats.hits >= 1
    assert _sample(text, "tm_cache_misses_total") == api.cache.stats.misses >= 1
    assert _sample(text, "tm_cache_invalidations_total") == api.cache.stats.invalidations
    assert _sample(text, "tm_cache_invalidation_lag_seconds_count") >= 1
    assert _sample(text, 'tm_cache_invalidation_lag_seconds_bucket{le="+Inf"}') >= 1


def test_metrics_show_how_writes_were_grouped(api: Api) -> None:
    before = _sample(api.get("/metrics").text, "tm_write_group_writes_total")
    api.add("one")
    api.add("two")
    text = api.get("/metrics").text
    # one request at a time: each write its own group, and nobody waited for anyone
    assert _sample(text, "tm_write_group_writes_total") == before + 2
    assert _sample(text, "tm_write_groups_total") == _sample(text, "tm_write_group_writes_total")
    assert _sample(text, "tm_write_group_wait_seconds_total") == 0


def test_metrics_speak_openmetrics_when_asked(api: Api) -> None:
    result = api.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert result.headers["content-type"].startswith("application/openmetrics-text")
    assert result.text.rstrip().endswith("# EOF")


def test_each_app_counts_only_its_own_requests(tmp_path: Path) -> None:
    first, second = Api(tmp_path / "a"), Api(tmp_path / "b")
    try:
        first.get("/api/v1/tasks")
        assert 'route="/api/v1/tasks"' in first.get("/metrics").text
        assert 'route="/api/v1/tasks"' not in second.get("/metrics").text
    finally:
        first.close()
        second.close()


# OpenAPI -----------------------------------------------------------------------------------


def test_the_served_openapi_document_is_valid_3_1(api: Api) -> None:
    result = api.get("/api/v1/openapi.json")
    assert result.status_code == 200
    document = result.json
    assert document["openapi"].startswith("3.1")
    validate(document)
    assert document == build_spec()


def _served(api: Api) -> dict[str, set[str]]:
    """Route template (parameters blanked) -> the methods a resource answers."""
    return {
        re.sub(r"\{\w+\}", "{}", route.path): {m.method for m in route.methods if not m.internal}
        for route in inspect_routes(api.app)
    }


def test_the_openapi_document_describes_every_route_and_method(api: Api) -> None:
    documented = {
        re.sub(r"\{\w+\}", "{}", path): {method.upper() for method in item}
        for path, item in build_spec()["paths"].items()
    }
    served = _served(api)
    # The board's page and files are for people, not API clients: not in the document.
    for page in ("/", "/board/{}"):
        assert served.pop(page) == {"GET", "HEAD"}
    # HEAD is GET without a body, said once in the document's description.
    assert "HEAD" in build_spec()["info"]["description"]
    for path, methods in served.items():
        assert ("HEAD" in methods) == ("GET" in methods), path
        methods.discard("HEAD")
    assert documented == served


def test_every_write_documents_its_problem_responses() -> None:
    for path, item in build_spec()["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            if method != "get":
                for status in ("400", "401", "404", "412", "413", "415", "429", "503"):
                    assert status in responses, (method, path, status)
            for status, response in responses.items():
                # Health's 503 is its own document (`degraded`), not a problem.
                if status.startswith(("4", "5")) and (path, status) != ("/api/v1/health", "503"):
                    assert response["$ref"].startswith("#/components/responses/Problem")
    problem = build_spec()["components"]["responses"]["Problem400"]
    assert "application/problem+json" in problem["content"]
