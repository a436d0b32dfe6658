"""What the Redis scenarios ask the instances: health polled until Redis is up (or down), and
the Redis figures of /metrics. Against a small fake instance whose answers the test sets."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from harness.actors import ApiClient
from harness.runners.redis_support import health, metric_value, wait_redis_state

METRICS = """# HELP tm_pubsub_messages_total messages
# TYPE tm_pubsub_messages_total counter
tm_pubsub_messages_total 12.0
tm_pubsub_messages_total_created 1.7e9
tm_l2_cache_hits_total{kind="task"} 3.0
tm_l2_cache_hits_total{kind="list"} 4.0
"""


class Fake:
    def __init__(self) -> None:
        self.health: dict[str, Any] = {"status": "degraded", "redis": {"state": "down"}}
        self.calls = 0


@pytest.fixture
def fake() -> Iterator[tuple[Fake, ApiClient]]:
    state = Fake()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.calls += 1
            if self.path == "/api/v1/health":
                body = json.dumps(state.health).encode()
            else:
                body = METRICS.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, ApiClient(server.server_address[1], 0)
    finally:
        server.shutdown()
        server.server_close()


def test_health_is_polled_until_redis_is_up(fake: tuple[Fake, ApiClient]) -> None:
    state, api = fake
    assert health(api) == (200, state.health)
    timer = threading.Timer(0.2, lambda: state.health.update(redis={"state": "up"}))
    timer.start()
    found = wait_redis_state([api], "up", timeout=5, poll_s=0.01)
    timer.join()
    assert 0.1 < found[0]["seconds"] < 5
    assert found[0]["last"]["redis"] == {"state": "up"} and found[0]["last"]["http"] == 200


def test_an_instance_that_never_reports_redis_is_not_up(fake: tuple[Fake, ApiClient]) -> None:
    state, api = fake
    state.health = {"status": "ok"}  # a server that knows nothing of Redis
    found = wait_redis_state([api], "up", timeout=0.1, poll_s=0.01)
    assert found[0]["seconds"] is None and found[0]["last"]["redis"] == "(no redis field)"
    assert state.calls > 1


def test_an_instance_that_does_not_answer() -> None:
    gone = ApiClient(1, 3)  # nothing listens on port 1
    found = wait_redis_state([gone], "down", timeout=0.05, poll_s=0.01)
    assert found[3]["seconds"] is None and found[3]["last"]["http"] is None


def test_metric_values_are_summed_over_labels() -> None:
    assert metric_value(METRICS, "tm_pubsub_messages_total") == 12.0
    assert metric_value(METRICS, "tm_l2_cache_hits_total") == 7.0
    assert metric_value(METRICS, "tm_redis_up") is None
    assert metric_value("", "tm_pubsub_messages_total") is None
