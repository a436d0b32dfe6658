"""`harness.redis_server.RedisServer`: a real redis-server on a free port, killed and restarted
as an outage would, and gone without a trace once stopped."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import pytest

from harness import redis_server as module
from harness.processes import Supervisor
from harness.redis_server import (
    RedisError,
    RedisServer,
    RedisServerMissing,
    decode,
    encode,
    redis_required,
    redis_server_binary,
)


def redis_py() -> Any:
    """redis-py, the client the taskmaster side uses (a dependency of the project)."""
    return pytest.importorskip("redis")


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a zombie still answers kill(0); the Supervisor reaps, so this is a live process
    return False


@pytest.fixture
def server() -> RedisServer:
    if redis_server_binary() is None:
        if redis_required():
            pytest.fail(f"{module.MISSING}, and TM_REQUIRE_REDIS=1 requires it")
        pytest.skip(module.MISSING)
    return RedisServer(name="test-redis")


def test_start_ping_kill_restart_stop(server: RedisServer) -> None:
    redis = redis_py()
    with server:
        assert server.port != 6379 and server.url == f"redis://127.0.0.1:{server.port}/0"
        client = redis.Redis.from_url(server.url, socket_timeout=2)
        assert client.ping() is True
        client.set("k", "v")
        assert client.get("k") == b"v"
        port, pid, folder = server.port, server.pid, server.dir
        assert pid is not None and folder.is_dir()

        server.kill()
        assert not server.alive() and _gone(pid)
        client.connection_pool.disconnect()
        with pytest.raises(redis.exceptions.ConnectionError):
            client.ping()
        assert server.ping() is False

        server.restart()
        assert server.port == port and server.pid != pid
        client.connection_pool.disconnect()
        assert client.ping() is True
        assert client.get("k") is None  # nothing persists across a restart
        new_pid = server.pid
    assert new_pid is not None and _gone(new_pid)
    assert not folder.exists()


def test_stop_without_start_and_twice(server: RedisServer) -> None:
    folder = server.dir
    server.stop()
    server.stop()
    assert not folder.exists()


def test_a_given_folder_and_supervisor_are_left_to_their_owner(tmp_path: Path) -> None:
    if redis_server_binary() is None:
        pytest.skip(module.MISSING)
    supervisor = Supervisor(tmp_path / "logs")
    try:
        server = RedisServer(directory=tmp_path / "redis", supervisor=supervisor).start()
        assert server.command("SET", "a", "1") == "OK"
        assert server.command("INCRBY", "n", 5) == 5
        assert server.command("GET", "missing") is None
        with pytest.raises(RedisError, match="unknown command"):
            server.command("NO-SUCH-COMMAND")
        server.flushall()
        assert server.command("KEYS", "*") == []
        pid = server.pid
        server.stop()
        assert pid is not None and _gone(pid)
        assert (tmp_path / "redis").is_dir()  # not ours to remove
        assert list((tmp_path / "logs").glob("redis-*.log"))
    finally:
        supervisor.close()


def test_the_fixture_gives_an_empty_server(redis_url: str, redis_server: RedisServer) -> None:
    client = redis_py().Redis.from_url(redis_url)
    assert client.dbsize() == 0
    client.set("left-over", "1")  # the next test using redis_url must not see it


def test_the_fixture_flushes_between_tests(redis_url: str) -> None:
    assert redis_py().Redis.from_url(redis_url).dbsize() == 0


def test_a_missing_binary_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(module.shutil, "which", lambda name: None)
    monkeypatch.setattr(module, "_SEARCH", ())
    assert redis_server_binary() is None
    with pytest.raises(RedisServerMissing, match="redis-server not installed"):
        RedisServer()


@pytest.mark.parametrize(("value", "required"), [("1", True), ("true", True), ("0", False)])
def test_require_switch(monkeypatch: pytest.MonkeyPatch, value: str, required: bool) -> None:
    monkeypatch.setenv("TM_REQUIRE_REDIS", value)
    assert redis_required() is required
    monkeypatch.delenv("TM_REQUIRE_REDIS")
    assert redis_required() is False


def test_resp_encoding_round_trip() -> None:
    assert encode("SET", "k", 5) == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n5\r\n"
    reply = b"*4\r\n+OK\r\n:7\r\n$-1\r\n$2\r\nhi\r\n"
    assert decode(io.BytesIO(reply)) == ["OK", 7, None, "hi"]
    with pytest.raises(RedisError, match="WRONGTYPE"):
        decode(io.BytesIO(b"-WRONGTYPE bad\r\n"))
    with pytest.raises(ConnectionError):
        decode(io.BytesIO(b"+OK"))
