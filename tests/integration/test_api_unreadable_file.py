"""A task file the server may not read: a real `tm serve` process, without the privilege to
read it, answers every request with a 503 `storage-error` problem and reports `degraded`.

The file's mode is 000. Root reads it anyway (CAP_DAC_OVERRIDE), so as root the server runs
without the capabilities that bypass file permissions (`setpriv --bounding-set`), which is how
a root-owned service confined by its init system meets such a file.
"""

from __future__ import annotations

import contextlib
import errno
import http.client
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from servers import TM, clean_env, free_port

pytestmark = pytest.mark.slow


def _request(
    port: int, method: str, path: str, body: bytes | None = None
) -> tuple[int, dict[str, str], Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), orjson.loads(response.read())
    finally:
        conn.close()


def _serve_without_read_access(root: Path, port: int) -> subprocess.Popen[str]:
    (root / ".taskmaster" / "tasks.json").chmod(0o000)
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv to drop CAP_DAC_OVERRIDE")
        prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--"]
    return subprocess.Popen(
        [*prefix, TM, "--project", str(root), "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )


def _wait_until_listening(process: subprocess.Popen[str], port: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"tm serve exited with {process.returncode}:\n{out}\n{err}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        if time.monotonic() > deadline:
            pytest.fail("tm serve did not listen within 30 s")
        time.sleep(0.05)


def test_a_server_that_may_not_read_the_file_answers_503_and_reports_degraded(
    tmp_path: Path,
) -> None:
    project = tmp_path
    env = clean_env()
    subprocess.run([TM, "--project", str(project), "init"], check=True, env=env, timeout=60)
    subprocess.run(
        [TM, "--project", str(project), "add-task", "--title", "kept"],
        check=True,
        env=env,
        timeout=60,
        capture_output=True,
    )
    tasks_file = project / ".taskmaster" / "tasks.json"
    before = tasks_file.read_bytes()
    port = free_port()
    process = _serve_without_read_access(project, port)
    try:
        _wait_until_listening(process, port)
        for method, path, body in [
            ("GET", "/api/v1/tasks", None),
            ("GET", "/api/v1/tasks/1", None),
            ("GET", "/api/v1/next", None),
            ("GET", "/api/v1/tags", None),
            ("POST", "/api/v1/tasks", b'{"title": "x"}'),
            ("PUT", "/api/v1/tasks/1/status", b'{"status": "done"}'),
        ]:
            status, headers, problem = _request(port, method, path, body)
            assert status == 503, (method, path, problem)
            assert headers["Content-Type"] == "application/problem+json"
            assert int(headers["Retry-After"]) > 0
            assert problem["type"] == "urn:taskmaster:problem:storage-error", problem
            assert problem["errno"] == errno.EACCES

        status, headers, health = _request(port, "GET", "/api/v1/health")
        assert status == 503
        assert health["status"] == "degraded"
        assert health["storage"]["kind"] == "storage-error"
        assert "Permission denied" in health["storage"]["error"]
    finally:
        process.terminate()
        _, err = process.communicate(timeout=10)
    assert "Traceback" not in err, err
    tasks_file.chmod(0o644)
    assert tasks_file.read_bytes() == before
