"""About the service rather than the tasks: health, metrics and the OpenAPI document."""

from __future__ import annotations

from typing import Any

import falcon
import orjson

from taskmaster.api.metrics import Metrics
from taskmaster.api.openapi import build_spec
from taskmaster.api.problems import problem_for_exception
from taskmaster.api.state import ApiState, etag, not_modified, send_json
from taskmaster.errors import TaskMasterError


class Health:
    """Healthy means the task file can be served now, not just that the process is up: a load
    balancer should stop sending traffic to an instance whose every answer would be a 503.

    A storage failure (corrupt, missing or unreadable file, a directory in its place...) is
    `degraded` with a 503 and says what is wrong under `storage`; Redis down is `degraded`
    with a 200, since every answer is still right (only slower to invalidate).
    """

    def __init__(self, state: ApiState) -> None:
        self.state = state

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        core = self.state.core
        revision: int | None = None
        storage: dict[str, Any] = {"state": "ok", "error": None}
        try:
            # Parsing is cached per revision like any read, so probes do not re-parse an
            # unchanged file.
            _, revision = self.state.cache.get_or_build(
                "GET:/api/v1/health?", lambda: (b"", core.snapshot().revision), shared=False
            )
        except (TaskMasterError, OSError) as err:
            problem = problem_for_exception(err)
            if problem is None or problem.status_code != 503:
                raise
            storage = {"state": "error", "kind": problem.kind, "error": problem.description}
            retry_after = problem.headers.get("Retry-After") if problem.headers else None
            if retry_after:
                resp.set_header("Retry-After", retry_after)
        watcher = self.state.watcher
        redis = self.state.redis_health()
        healthy = storage["state"] == "ok" and redis["state"] != "down"
        send_json(
            resp,
            {
                "status": "ok" if healthy else "degraded",
                "revision": revision,
                "store": self.state.store_info(),
                **self.state.file_location(),
                "watcher": bool(watcher is not None and watcher.running),
                "storage": storage,
                "redis": redis,
            },
            status=200 if storage["state"] == "ok" else 503,
        )
        resp.cache_control = ["no-store"]


class Export:
    """`GET /api/v1/export`: the project as a claude-task-master tasks.json, the bytes the file
    backend writes for it (`tm storage export`), cached by revision like every read."""

    def __init__(self, state: ApiState) -> None:
        self.state = state

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        def build() -> tuple[bytes, int]:
            snapshot = self.state.core.snapshot()
            return snapshot.document.to_json(), snapshot.revision

        body, revision = self.state.cache.get_or_build("GET:/api/v1/export?", build)
        resp.etag = etag(revision)
        if not_modified(req, revision):
            resp.status = falcon.HTTP_304
            return
        resp.content_type = "application/json"
        resp.set_header("Content-Disposition", 'attachment; filename="tasks.json"')
        resp.data = body


class MetricsResource:
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        body, content_type = self.metrics.render(req.get_header("Accept"))
        resp.content_type = content_type
        resp.data = body


class OpenApiResource:
    def __init__(self) -> None:
        self._body = orjson.dumps(build_spec())  # static: built once per app

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = "application/json"
        resp.data = self._body


class Doctor:
    """GET /api/v1/doctor: `tm doctor`'s checks of the project this server serves. A check
    that fails is a 200 like the others: the report is the answer, its `status` the verdict."""

    def __init__(self, state: ApiState) -> None:
        self.state = state

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        from taskmaster.doctor import diagnose

        project = self.state.project
        send_json(resp, diagnose(project.core, project.paths).to_dict())
