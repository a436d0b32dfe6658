"""`ApiServer`, the API on waitress inside this process: it serves, and it stops cleanly however
often and whenever `stop()` is called."""

from __future__ import annotations

import json
import os
import resource
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskmaster.api import ApiServer
from taskmaster.commands import AddTask
from taskmaster.compose import Project, init_project
from taskmaster.config import Config


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    project, _ = init_project(tmp_path)
    project.core.execute(AddTask(values={"title": "served"}))
    yield project
    project.close()


def _start(project: Project, **settings: object) -> tuple[ApiServer, threading.Thread]:
    server = ApiServer(project, Config(port=0, threads=2, **settings))
    thread = threading.Thread(target=server.run, name="api-server", daemon=True)
    thread.start()
    return server, thread


def test_it_serves_until_stopped_and_a_second_stop_is_harmless(project: Project) -> None:
    server, thread = _start(project)
    with urllib.request.urlopen(f"{server.url}/api/v1/tasks", timeout=10) as response:
        assert [task["title"] for task in json.load(response)["tasks"]] == ["served"]
    server.stop()
    server.stop()
    thread.join(timeout=10)
    assert not thread.is_alive()
    server.stop()  # after the shutdown too


def test_a_stop_after_the_shutdown_never_writes_to_a_reused_descriptor(
    project: Project,
) -> None:
    server, thread = _start(project)
    trigger_fd = server._server.trigger.trigger  # the pipe end that stop() writes to
    read_end, write_end = os.pipe()  # opened now, so that it gets other numbers
    os.set_blocking(read_end, False)
    server.stop()
    thread.join(timeout=10)
    assert not thread.is_alive()
    # The number is free again; let another file take it, as any later open() may.
    os.dup2(write_end, trigger_fd)
    try:
        server.stop()
        with pytest.raises(BlockingIOError):
            os.read(read_end, 16)
    finally:
        for fd in (read_end, write_end, trigger_fd):
            os.close(fd)


def test_stop_survives_the_loop_ending_before_its_own_pull_returns(project: Project) -> None:
    # A worker thread wakes the loop after every response; if that wake-up makes the loop run
    # stop()'s request before stop() has written its own byte, the write must still find the
    # trigger open.
    server, thread = _start(project)
    trigger = server._server.trigger
    write_to_the_trigger = trigger._physical_pull

    def pull_after_the_loop_has_run_the_request() -> None:
        os.write(trigger.trigger, b"x")  # the worker's wake-up, already under way
        deadline = time.monotonic() + 10
        while trigger.thunks and time.monotonic() < deadline:  # emptied after they ran
            time.sleep(0.01)
        write_to_the_trigger()

    trigger._physical_pull = pull_after_the_loop_has_run_the_request
    server.stop()
    thread.join(timeout=10)
    assert not thread.is_alive()


def _exchange(server: ApiServer, request: bytes) -> bytes:
    """Send `request`, then read until the server closes the connection."""
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def _problem(response: bytes) -> tuple[bytes, dict[str, object]]:
    head, _, body = response.partition(b"\r\n\r\n")
    assert b"\r\ncontent-type: application/problem+json" in head.lower(), response
    return head.split(b"\r\n", 1)[0], json.loads(body)


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /api/v1/tasks HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 400),
        (b"POST /api/v1/tasks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
    ],
    ids=["malformed", "unknown-transfer-coding"],
)
def test_requests_refused_before_the_app_get_problem_documents(
    project: Project, request_bytes: bytes, status: int
) -> None:
    server, thread = _start(project)
    try:
        status_line, problem = _problem(_exchange(server, request_bytes))
        assert status_line.split()[1] == str(status).encode()
        assert problem["status"] == status and problem["detail"]
    finally:
        server.stop()
        thread.join(timeout=10)


def test_an_oversize_body_announced_with_expect_continue_is_refused_without_a_continue(
    project: Project,
) -> None:
    server, thread = _start(project, max_body_bytes=100)
    try:
        response = _exchange(
            server,
            b"POST /api/v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Expect: 100-continue\r\nContent-Length: 101\r\n\r\n",
        )
        assert not response.startswith(b"HTTP/1.1 100"), response
        status_line, problem = _problem(response)
        assert status_line.split()[1] == b"413"
        assert problem["limit"] == 100
    finally:
        server.stop()
        thread.join(timeout=10)


def test_a_connection_numbered_past_selects_limit_is_served(project: Project) -> None:
    # The loop waits with select() while every descriptor fits it; the first connection whose
    # descriptor does not must switch it to poll(), not stop it (select() raises for it).
    from taskmaster.api.connections import SELECT_DESCRIPTOR_LIMIT

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < SELECT_DESCRIPTOR_LIMIT + 64:
        pytest.skip(f"the hard descriptor limit ({hard}) leaves no room past select()'s")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, SELECT_DESCRIPTOR_LIMIT + 64), hard))
    server, thread = _start(project)
    fillers: list[int] = []
    try:
        with urllib.request.urlopen(f"{server.url}/api/v1/health", timeout=10) as response:
            assert response.status == 200  # served while every descriptor fits select()
        # Take every free number below the limit: the next accepted socket gets one above.
        while not fillers or fillers[-1] < SELECT_DESCRIPTOR_LIMIT:
            fillers.append(os.open(os.devnull, os.O_RDONLY))
        for _ in range(3):  # several requests, each on a connection of its own
            with urllib.request.urlopen(f"{server.url}/api/v1/tasks", timeout=10) as response:
                assert [task["title"] for task in json.load(response)["tasks"]] == ["served"]
        assert thread.is_alive()
    finally:
        for fd in fillers:
            os.close(fd)
        server.stop()
        thread.join(timeout=10)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert not thread.is_alive()
