"""What the Redis scenarios share: asking the instances how their Redis is (health, metrics).

Only taskmaster's instances report on Redis (the naive servers know nothing of it), so the
runners ask taskmaster's only; `require_redis_up` and `note_redis_metrics` check that themselves.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterable
from typing import Any

from harness.actors import ApiClient
from harness.runners.base import REDIS_URL_ENV, ScenarioRun

REDIS_METRICS = {
    "tm_pubsub_messages_total": "pub/sub messages",
    "tm_l2_cache_hits_total": "L2 hits",
    "tm_l2_cache_misses_total": "L2 misses",
    "tm_l2_cache_errors_total": "L2 errors",
}


def metric_value(text: str, name: str) -> float | None:
    """The sum of a metric's samples in a Prometheus text exposition, or None if absent."""
    total, seen = 0.0, False
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        rest = line[len(name) :]
        if rest[:1] not in ("{", " "):
            continue  # another metric whose name starts the same
        try:
            total += float(line.rsplit(None, 1)[-1])
        except ValueError:
            continue
        seen = True
    return total if seen else None


def health(api: ApiClient) -> tuple[int | None, dict[str, Any]]:
    """GET /api/v1/health of one instance: (HTTP status or None, JSON body or {})."""
    try:
        response = api.request("GET", "/api/v1/health")
    except (OSError, http.client.HTTPException) as err:
        return None, {"error": f"{type(err).__name__}: {err}"}
    body = response.json()
    return response.status, body if isinstance(body, dict) else {}


def wait_redis_state(
    apis: Iterable[ApiClient], state: str, timeout: float, poll_s: float = 0.05
) -> dict[int, dict[str, Any]]:
    """Poll each instance's health until its `redis.state` is `state` or `timeout` passes;
    per instance: the `seconds` it took (None: never), and the `last` health seen."""
    started = time.monotonic()
    found: dict[int, dict[str, Any]] = {}
    pending = {api.index: api for api in apis}
    while True:
        for index, api in list(pending.items()):
            status, body = health(api)
            redis = body.get("redis") if isinstance(body.get("redis"), dict) else None
            seen = {
                "http": status,
                "status": body.get("status"),
                "redis": redis if redis is not None else "(no redis field)",
            }
            found[index] = {"seconds": None, "last": seen}
            if redis is not None and redis.get("state") == state:
                found[index]["seconds"] = round(time.monotonic() - started, 3)
                del pending[index]
        if not pending or time.monotonic() - started >= timeout:
            return found
        time.sleep(poll_s)


def require_redis_up(run: ScenarioRun, timeout: float = 10.0) -> None:
    """On taskmaster: every instance's health must say Redis is up, else the scenario
    would not test Redis at all (TM_REDIS_URL not honoured): an error, not a pass."""
    if not run.target.safe or not run.apis:
        return
    states = wait_redis_state(run.apis, "up", timeout)
    down = {i: s["last"] for i, s in states.items() if s["seconds"] is None}
    if down:
        raise RuntimeError(
            f"TM_REDIS_URL={run.env.get(REDIS_URL_ENV)} given, but after {timeout:g} s "
            f"/api/v1/health does not report redis up: {down}"
        )


def redis_metrics(run: ScenarioRun, names: Iterable[str]) -> dict[str, list[float | None]]:
    """Per instance, the value of each Prometheus metric in `names` (summed over labels;
    None when the instance does not export it)."""
    wanted = list(names)
    out: dict[str, list[float | None]] = {name: [] for name in wanted}
    for api in run.apis:
        try:
            response = api.request("GET", "/metrics")
            text = response.body.decode(errors="replace") if response.status == 200 else ""
        except (OSError, http.client.HTTPException):
            text = ""
        for name in wanted:
            out[name].append(metric_value(text, name))
    return out


def note_redis_metrics(run: ScenarioRun) -> None:
    """What went through Redis, per instance, from /metrics (taskmaster only)."""
    if not run.target.safe or not run.apis:
        return
    values = redis_metrics(run, REDIS_METRICS)
    parts = []
    for name, label in REDIS_METRICS.items():
        per = values[name]
        if all(v is None for v in per):
            parts.append(f"{label} n/a")
        else:
            parts.append(f"{label} " + "/".join("-" if v is None else f"{v:g}" for v in per))
    run.note(f"via Redis, per instance: {', '.join(parts)}")
