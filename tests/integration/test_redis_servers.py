"""Several real `tm serve` processes sharing one real redis-server, with real `tm` writers.

- A `tm` write reaches the other instances over pub/sub; their metrics count it.
- One rate-limit budget across instances.
- Redis killed: every instance keeps answering fresh data and says "degraded"; `tm` writes
  still succeed with one warning; Redis restarted: every instance reconnects on its own.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from harness.redis_server import RedisServer
from tests.servers import TM, Served, clean_env, start_server
from tests.test_redis import wait_for

pytestmark = pytest.mark.slow


def tm(root: Path, redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TM, "--project", str(root), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(TM_REDIS_URL=redis_url),
    )


def get(served: Served, path: str) -> tuple[int, bytes]:
    conn = served.connect(timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def get_json(served: Served, path: str) -> dict:
    status, body = get(served, path)
    assert status == 200, body
    return orjson.loads(body)


def metric(served: Served, name: str) -> float:
    _, body = get(served, "/metrics")
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def redis_state(served: Served) -> str:
    return get_json(served, "/api/v1/health")["redis"]["state"]


@pytest.fixture
def cluster(tmp_path: Path, redis_url: str) -> Iterator[list[Served]]:
    assert tm(tmp_path, redis_url, "init").returncode == 0
    assert tm(tmp_path, redis_url, "add-task", "--title", "shared").returncode == 0
    servers = [
        start_server(tmp_path, TM_REDIS_URL=redis_url, TM_RATE_LIMIT="8/minute") for _ in range(2)
    ]
    try:
        assert wait_for(lambda: all(redis_state(s) == "up" for s in servers), 10)
        yield servers
    finally:
        for served in servers:
            served.stop()


def test_a_tm_write_reaches_every_instance_over_redis(
    cluster: list[Served], redis_url: str
) -> None:
    first, second = cluster
    before = [metric(s, "tm_pubsub_messages_total") for s in cluster]
    done = tm(first.root, redis_url, "set-status", "1", "done")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    for served, count in zip(cluster, before, strict=True):
        assert wait_for(lambda s=served, c=count: metric(s, "tm_pubsub_messages_total") > c)
        assert get_json(served, "/api/v1/tasks/1")["status"] == "done"
    # An answer built on one instance is found by the other in Redis.
    assert get_json(first, "/api/v1/tasks")["tasks"][0]["status"] == "done"
    hits = metric(second, "tm_l2_cache_hits_total")
    get_json(second, "/api/v1/tasks")
    assert metric(second, "tm_l2_cache_hits_total") == hits + 1


def test_the_instances_share_one_rate_limit_budget(cluster: list[Served]) -> None:
    statuses = [get(cluster[i % 2], "/api/v1/tasks/1")[0] for i in range(16)]
    assert statuses.count(200) == 8
    assert statuses.count(429) == 8


def test_an_outage_degrades_nothing_but_speed_and_heals_itself(
    cluster: list[Served], redis_url: str, redis_server: RedisServer
) -> None:
    redis_server.kill()
    for status in ("in-progress", "review", "done"):
        write = tm(cluster[0].root, redis_url, "set-status", "1", status)
        assert write.returncode == 0, write.stderr
        assert "Redis" in write.stderr and write.stderr.count("\n") == 1
        for served in cluster:  # acknowledged, so every instance must show it now
            assert get_json(served, "/api/v1/tasks/1")["status"] == status
    for served in cluster:
        health = get_json(served, "/api/v1/health")
        assert health["status"] == "degraded"
        assert health["redis"]["state"] == "down"
        assert metric(served, "tm_redis_up") == 0

    redis_server.restart()
    assert wait_for(lambda: all(redis_state(s) == "up" for s in cluster), 10)
    before = metric(cluster[1], "tm_pubsub_messages_total")
    assert tm(cluster[0].root, redis_url, "set-status", "1", "pending").returncode == 0
    assert wait_for(lambda: metric(cluster[1], "tm_pubsub_messages_total") > before)
    assert get_json(cluster[1], "/api/v1/health")["status"] == "ok"


def test_a_bad_redis_url_is_a_usage_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [TM, "--project", str(tmp_path), "--redis-url", "http://nope", "list"],
        capture_output=True,
        text=True,
        env=clean_env(),
    )
    assert result.returncode == 2
    assert "is not a Redis URL" in result.stderr


def test_health_says_disabled_without_redis(tmp_path: Path) -> None:
    subprocess.run([TM, "--project", str(tmp_path), "init"], check=True, env=clean_env())
    served = start_server(tmp_path)
    try:
        health = get_json(served, "/api/v1/health")
        assert health["redis"] == {"state": "disabled", "error": None}
        assert health["status"] == "ok"
    finally:
        served.stop()
