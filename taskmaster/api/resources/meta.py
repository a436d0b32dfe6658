"""About the service rather than the tasks: health, metrics and the OpenAPI document."""

from __future__ import annotations

import falcon
import orjson

from taskmaster.api.metrics import Metrics
from taskmaster.api.openapi import build_spec
from taskmaster.api.state import ApiState, send_json


class Health:
    """Healthy means the task file parses now, not just that the process is up: a load
    balancer should stop sending traffic to an instance whose every answer would be a 503."""

    def __init__(self, state: ApiState) -> None:
        self.state = state

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        core = self.state.core
        # Parsing is cached per revision like any read, so probes do not re-parse an unchanged
        # file; a corrupt or missing one raises here and becomes a 503 problem.
        _, revision = self.state.cache.get_or_build(
            "GET:/api/v1/health?", lambda: (b"", core.snapshot().revision), shared=False
        )
        watcher = self.state.watcher
        redis = self.state.redis_health()
        send_json(
            resp,
            {
                "status": "degraded" if redis["state"] == "down" else "ok",
                "revision": revision,
                "tasksFile": str(core.tasks_file),
                "watcher": bool(watcher is not None and watcher.running),
                "redis": redis,
            },
        )
        resp.cache_control = ["no-store"]


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
