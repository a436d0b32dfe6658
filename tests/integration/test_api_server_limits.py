"""`tm serve` against clients that try to stop it, over raw sockets to a real server process.

- A body larger than TM_MAX_BODY_BYTES is refused from its headers (413 problem+json at once,
  nothing spooled), and an upload that runs past the limit is cut off, with or without the
  token and whether its length is declared or chunked.
- Idle connections (more than the connection limit) and clients that pipeline large GETs and
  never read do not keep `/health` from answering.
- Event streams that clients open and drop free their slots at once, so the stream limit
  cannot be used up by a client that reconnects.

Bounds here are functional (the server answers at all, long before a stuck one would), not
timings.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from taskmaster.commands import AddTask
from taskmaster.compose import init_project
from tests.servers import Served, start_server, tm

pytestmark = pytest.mark.slow

TOKEN = "secret-token"
LIMIT = 64 * 1024
PROBLEM_JSON = "application/problem+json"


def _connect(served: Served, timeout: float = 10) -> socket.socket:
    return socket.create_connection(("127.0.0.1", served.port), timeout=timeout)


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One response with a Content-Length body (all the server sends for these requests)."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a response; got {received!r}")
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(status_line.split()[1]), headers, body[:length]


def _assert_too_large(status: int, headers: dict[str, str], body: bytes) -> None:
    assert status == 413, (status, body)
    assert headers["content-type"] == PROBLEM_JSON, (headers, body)
    problem = orjson.loads(body)
    assert problem["type"] == "urn:taskmaster:problem:body-too-large"
    assert problem["status"] == 413 and problem["limit"] == LIMIT


def _spooled_bytes(pid: int, spool: Path) -> int:
    """Bytes in the server's open temporary files under `spool` (they are unlinked at once,
    so only the process's descriptors show them)."""
    total = 0
    fds = Path(f"/proc/{pid}/fd")
    for fd in fds.iterdir():
        with contextlib.suppress(OSError):
            if os.readlink(fd).startswith(str(spool)):
                total += os.stat(fd).st_size
    return total


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Path]]:
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc to see the server's temporary files")
    root = tmp_path_factory.mktemp("guarded")
    spool = tmp_path_factory.mktemp("spool")
    tm(root, "init")
    served = start_server(root, TM_API_TOKEN=TOKEN, TM_MAX_BODY_BYTES=str(LIMIT), TMPDIR=str(spool))
    try:
        yield served, spool
    finally:
        served.stop()


def _post_head(length: str | None, *, token: bool, chunked: bool = False) -> bytes:
    lines = [
        "POST /api/v1/tasks HTTP/1.1",
        "Host: test",
        "Content-Type: application/json",
    ]
    if token:
        lines.append(f"Authorization: Bearer {TOKEN}")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.mark.parametrize("token", [False, True], ids=["anonymous", "with-token"])
def test_a_declared_oversize_body_is_refused_from_its_headers(
    guarded: tuple[Served, Path], token: bool
) -> None:
    served, spool = guarded
    with _connect(served, timeout=5) as sock:
        sock.sendall(_post_head(str(300 * 1000 * 1000), token=token))  # and not a byte more
        _assert_too_large(*_read_response(sock))
    assert _spooled_bytes(served.process.pid, spool) == 0


def test_a_false_huge_content_length_gets_a_problem_document(
    guarded: tuple[Served, Path],
) -> None:
    served, _ = guarded
    with _connect(served, timeout=5) as sock:
        sock.sendall(_post_head(str(10**15), token=True) + b'{"title": "x"}')
        _assert_too_large(*_read_response(sock))


def test_a_body_of_exactly_the_limit_is_accepted(guarded: tuple[Served, Path]) -> None:
    served, _ = guarded
    body = b'{"title": "at the limit"}'
    body += b" " * (LIMIT - len(body))
    with _connect(served) as sock:
        sock.sendall(_post_head(str(len(body)), token=True) + body)
        status, _, answer = _read_response(sock)
    assert status == 201, answer
    with _connect(served) as sock:
        sock.sendall(_post_head(str(len(body) + 1), token=True) + body + b" ")
        _assert_too_large(*_read_response(sock))


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_upload_past_the_limit_is_cut_off_without_being_spooled(
    guarded: tuple[Served, Path], chunked: bool
) -> None:
    served, spool = guarded
    total = 300 * 1000 * 1000
    piece = b" " * 65536
    frame = b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
    sent = 0
    peak = 0
    outcome: list[BaseException] = []
    sock = _connect(served, timeout=10)

    def upload() -> None:
        nonlocal sent
        try:
            sock.sendall(_post_head(None if chunked else str(total), token=False, chunked=chunked))
            while sent < total:
                sock.sendall(frame)
                sent += len(frame)
        except OSError as err:  # the server closed the connection: what should happen
            outcome.append(err)

    sender = threading.Thread(target=upload, daemon=True)
    sender.start()
    deadline = time.monotonic() + 60
    while sender.is_alive() and time.monotonic() < deadline:
        peak = max(peak, _spooled_bytes(served.process.pid, spool))
        time.sleep(0.01)
    sender.join(timeout=5)
    sock.close()
    assert outcome, f"the server read all {sent} bytes"
    assert sent < 32 * 1000 * 1000, f"the server read {sent} bytes before cutting off"
    assert peak <= 4 * LIMIT, f"{peak} bytes spooled"


# --- connections ---------------------------------------------------------------------------


def _health(served: Served, timeout: float = 10) -> int:
    conn = served.connect(timeout=timeout)
    try:
        conn.request("GET", "/api/v1/health")
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("env", "idle"),
    [({}, 150), ({"TM_CONNECTION_LIMIT": "20"}, 120)],
    ids=["default-limit", "beyond-the-limit"],
)
def test_idle_connections_do_not_keep_health_from_answering(
    tmp_path: Path, env: dict[str, str], idle: int
) -> None:
    tm(tmp_path, "init")
    served = start_server(tmp_path, **env)
    sockets = []
    try:
        for number in range(idle):
            sock = _connect(served)
            if number % 2:  # half of them start a request and never finish it
                sock.sendall(b"GET /api/v1/health HTTP/1.1\r\n")
            sockets.append(sock)
        time.sleep(0.5)  # let the server accept them all
        assert _health(served) == 200
    finally:
        for sock in sockets:
            sock.close()
        served.stop()


def _big_project(root: Path) -> None:
    project, _ = init_project(root)
    try:
        for number in range(100):
            project.core.execute(AddTask(values={"title": f"task {number}", "details": "d" * 2000}))
    finally:
        project.close()


def test_clients_that_pipeline_large_gets_and_never_read_do_not_stop_the_server(
    tmp_path: Path,
) -> None:
    _big_project(tmp_path)
    # start_server: 6 threads; a stuck server spools the answers under TMPDIR.
    served = start_server(tmp_path, TM_IDLE_TIMEOUT="60", TMPDIR=str(tmp_path))
    request = b"GET /api/v1/tasks HTTP/1.1\r\nHost: test\r\n\r\n"
    readers = []
    try:
        for _ in range(8):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", served.port))
            sock.sendall(request * 100)  # about 20 MB of answers, none of them read
            readers.append(sock)
        time.sleep(1)  # let the server serve them until their buffers are full
        assert _health(served, timeout=10) == 200
    finally:
        for sock in readers:
            sock.close()
        served.stop()


def test_a_client_that_stops_reading_is_disconnected_after_the_idle_timeout(
    tmp_path: Path,
) -> None:
    _big_project(tmp_path)
    served = start_server(tmp_path, TM_IDLE_TIMEOUT="2", TMPDIR=str(tmp_path))
    try:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", served.port))
        sock.sendall(b"GET /api/v1/tasks HTTP/1.1\r\nHost: test\r\n\r\n" * 50)
        time.sleep(6)  # reads nothing: idle timeout 2 s, checked every second
        sock.settimeout(10)
        received = 0
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(1 << 20):  # what was in flight, then the end
                received += len(chunk)
        assert received < 50 * 200_000, "the server sent every answer to a stalled reader"
        sock.close()
    finally:
        served.stop()


# --- event streams -------------------------------------------------------------------------


def _open_stream(served: Served) -> tuple[socket.socket, int]:
    sock = _connect(served, timeout=5)
    sock.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: test\r\n\r\n")
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(4096)
        if not chunk:
            break
        received += chunk
    status = int(received.split(b" ", 2)[1]) if received else 0
    if status == 200:
        while b"retry:" not in received and (chunk := sock.recv(4096)):
            received += chunk
    return sock, status


def _stream_accepted_within(served: Served, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while True:
        sock, status = _open_stream(served)
        sock.close()  # gone, without a word
        if status == 200:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)


def test_dropped_event_streams_free_their_slots_at_once(tmp_path: Path) -> None:
    tm(tmp_path, "init")
    # The default heartbeat (15 s): a closed client must be noticed without one.
    served = start_server(tmp_path, TM_SSE_MAX_CLIENTS="2")
    try:
        for attempt in range(7):  # more than three times the limit
            assert _stream_accepted_within(served, 2), f"stream {attempt + 1} was refused"
    finally:
        served.stop()
