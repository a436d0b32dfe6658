"""Shared helpers of the API tests (no tests here). Import as
``from test_api_support import Api``.

`Api` is a project, the app over it and a falcon `TestClient`; requests go through the whole
WSGI stack (middleware, routing, error handlers) without a server.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import orjson
from falcon.testing import Result, TestClient

from taskmaster.api import TaskMasterApp, create_app
from taskmaster.compose import Settings, init_project, open_project
from taskmaster.config import Config

# No watcher unless a test asks: most tests are about one process, and a test that needs the
# watcher should say so.
TEST_CONFIG = Config(watch=False)


class Api:
    def __init__(self, root: Path, config: Config = TEST_CONFIG, **settings: Any) -> None:
        self.root = root
        init_project(root)[0].close()
        self.project = open_project(root, settings=Settings(**settings))
        self.core = self.project.core
        self.config = config
        self.app: TaskMasterApp = create_app(self.project, config)
        self.client = TestClient(self.app)

    @classmethod
    def with_config(cls, root: Path, **changes: Any) -> Api:
        return cls(root, dataclasses.replace(TEST_CONFIG, **changes))

    @property
    def tasks_file(self) -> Path:
        assert self.project.paths is not None
        return self.project.paths.tasks_file

    @property
    def cache(self) -> Any:
        return self.app.state.cache

    def close(self) -> None:
        self.app.close()
        self.project.close()

    # requests ---------------------------------------------------------------------------------
    def get(self, path: str, **kwargs: Any) -> Result:
        return self.client.simulate_get(path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Result:
        return self.client.simulate_post(path, **_with_body(body, kwargs))

    def put(self, path: str, body: Any = None, **kwargs: Any) -> Result:
        return self.client.simulate_put(path, **_with_body(body, kwargs))

    def patch(self, path: str, body: Any = None, **kwargs: Any) -> Result:
        return self.client.simulate_patch(path, **_with_body(body, kwargs))

    def delete(self, path: str, **kwargs: Any) -> Result:
        return self.client.simulate_delete(path, **kwargs)

    def add(self, title: str, **fields: Any) -> dict[str, Any]:
        result = self.post("/api/v1/tasks", {"title": title, **fields})
        assert result.status_code == 201, result.text
        return result.json


def _with_body(body: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    if body is not None:
        kwargs["body"] = orjson.dumps(body)
        headers = {"Content-Type": "application/json", **kwargs.get("headers", {})}
        kwargs["headers"] = headers
    return kwargs


def assert_problem(
    result: Result, status: int, *, field: str | None = None, kind: str | None = None
) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status (and field / type, if given)."""
    assert result.status_code == status, result.text
    assert result.headers["content-type"] == "application/problem+json"
    problem = result.json
    assert problem["status"] == status
    assert problem["title"]
    assert problem["detail"]
    assert "Traceback" not in result.text
    if field is not None:
        assert problem.get("field") == field, problem
    if kind is not None:
        assert problem["type"] == f"urn:taskmaster:problem:{kind}", problem
    return problem


def etag_of(result: Result) -> int:
    value = result.headers["etag"]
    assert value.startswith('"') and value.endswith('"'), value
    return int(value.strip('"'))
