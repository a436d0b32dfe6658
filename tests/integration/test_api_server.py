"""`tm serve` as a real process under waitress, with real `tm` processes writing beside it.

- No stale read: 200 times (TM_TEST_API_WRITES), a `tm` process changes a task and exits; the
  very next GET must show the change (the revision check guarantees it even before the
  watcher's event arrives).
- Server-sent events: a change by another process reaches a connected client within 2 s.
- A client that goes away does not leave its bus subscription behind.
- SIGTERM or SIGINT with clients connected (one streaming) stops the server with exit status 0,
  fast.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests.servers import Served, read_event, start_server, tm

pytestmark = pytest.mark.slow

WRITES = int(os.environ.get("TM_TEST_API_WRITES", "200"))
STATUSES = ("done", "in-progress", "review", "pending")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("served")
    tm(root, "init")
    tm(root, "add-task", "--title", "watched task")
    served = start_server(root, TM_SSE_HEARTBEAT="0.2")
    try:
        yield served
    finally:
        served.stop()


def test_every_read_after_a_tm_write_shows_the_write(served: Served) -> None:
    conn = served.connect()
    title = "watched task"
    status = "pending"
    stale: list[tuple[int, object]] = []
    for i in range(WRITES):
        if i % 2:
            title = f"title {i}"
            tm(served.root, "update-task", "1", "--title", title)
        else:
            status = STATUSES[(i // 2) % len(STATUSES)]
            tm(served.root, "set-status", "1", status)
        # The tm process has exited: its write is acknowledged. Read right away.
        task = served.get_json(conn, "/api/v1/tasks/1")
        assert isinstance(task, dict)
        if (task["status"], task["title"]) != (status, title):
            stale.append((i, task))
    conn.close()
    assert stale == [], f"{len(stale)} stale responses out of {WRITES}, first: {stale[:3]}"


def test_a_change_by_another_process_reaches_an_event_stream_client(served: Served) -> None:
    conn = served.connect(timeout=5)
    conn.request("GET", "/api/v1/events")
    response = conn.getresponse()
    assert response.status == 200
    assert response.getheader("Content-Type", "").startswith("text/event-stream")

    tm(served.root, "set-status", "1", "deferred")
    acknowledged = time.monotonic()
    other = served.connect()
    expected = served.get_json(other, "/api/v1/health")["revision"]  # type: ignore[index]
    other.close()

    while True:
        frame = read_event(response)
        if int(frame["id"]) >= expected:
            break
    latency = time.monotonic() - acknowledged
    assert int(frame["id"]) == expected
    # Announced from the other process's journal entry: what it was, by whom, where.
    assert frame["event"] == "task.updated"
    data = orjson.loads(frame["data"])
    assert data["revision"] == expected and data["kind"] == "task.updated"
    assert data["ids"] == ["1"] and data["actor"]
    assert ["master", "1", "status"] in data["changes"]
    assert latency < 2, f"the event took {latency:.3f} s"
    conn.close()


def _open_streams(served: Served) -> float:
    conn = served.connect()
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    line = next(line for line in text.splitlines() if line.startswith("tm_event_streams "))
    return float(line.split()[1])


def _wait_for_open_streams(served: Served, count: int) -> float:
    deadline = time.monotonic() + 5
    while (current := _open_streams(served)) != count and time.monotonic() < deadline:
        time.sleep(0.05)
    return current


def test_a_client_that_disconnects_is_unsubscribed(served: Served) -> None:
    # Clients of earlier tests are gone too: each stream ends once the server sees its end.
    assert _wait_for_open_streams(served, 0) == 0
    client = socket.create_connection(("127.0.0.1", served.port), timeout=5)
    client.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: test\r\n\r\n")
    received = b""
    while b"retry:" not in received:
        chunk = client.recv(4096)
        assert chunk, "the server closed the stream"
        received += chunk
    assert received.startswith(b"HTTP/1.1 200")
    assert _open_streams(served) == 1
    client.close()  # gone, without a word
    # The server sees the connection end and the stream, polling for that, closes itself.
    assert _wait_for_open_streams(served, 0) == 0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_server_cleanly_with_clients_connected(
    tmp_path: Path, signum: int
) -> None:
    tm(tmp_path, "init")
    served = start_server(tmp_path)  # default heartbeat: 15 s, so the stream is idle
    streaming = served.connect(timeout=5)
    streaming.request("GET", "/api/v1/events")
    assert streaming.getresponse().status == 200
    idle = served.connect()
    served.get_json(idle, "/api/v1/tasks")  # a kept-alive connection

    started = time.monotonic()
    status = served.stop(signum)
    elapsed = time.monotonic() - started
    out, err = served.process.communicate()
    assert status == 0, err
    assert elapsed < 5, f"shutdown took {elapsed:.1f} s"
    assert f"127.0.0.1:{served.port}" in out  # it printed where it served
    assert "Traceback" not in err
    streaming.close()
    idle.close()
