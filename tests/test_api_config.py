"""`Config` from TM_* variables and flags, and `tm serve` as a CLI command."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from taskmaster.cli import cli
from taskmaster.config import Config
from taskmaster.errors import InvalidInput


def test_defaults_listen_on_loopback_with_the_cache_on() -> None:
    config = Config.from_env({})
    assert (config.host, config.port) == ("127.0.0.1", 8765)
    assert config.cache_enabled
    assert config.rate_limit is None and config.api_token is None
    assert config.max_body_bytes == 1 << 20
    assert config.event_stream_limit == config.threads // 2


def test_tm_variables_are_read() -> None:
    config = Config.from_env(
        {
            "TM_HOST": "0.0.0.0",
            "TM_PORT": "9000",
            "TM_THREADS": "16",
            "TM_RATE_LIMIT": "100/minute",
            "TM_RATE_LIMIT_STORAGE": "redis://localhost:6379",
            "TM_API_TOKEN": "tok",
            "TM_MAX_BODY_BYTES": "2048",
            "TM_CACHE": "off",
            "TM_CACHE_TTL": "1.5",
            "TM_CACHE_MAXSIZE": "10",
            "TM_SSE_HEARTBEAT": "2",
            "TM_SSE_MAX_CLIENTS": "3",
            "TM_CONNECTION_LIMIT": "50",
            "TM_IDLE_TIMEOUT": "5",
            "TM_SEND_BUFFER_BYTES": "65536",
            "UNRELATED": "x",
        }
    )
    assert config == Config(
        host="0.0.0.0",
        port=9000,
        threads=16,
        rate_limit="100/minute",
        rate_limit_storage_uri="redis://localhost:6379",
        api_token="tok",
        max_body_bytes=2048,
        cache_enabled=False,
        cache_ttl=1.5,
        cache_maxsize=10,
        sse_heartbeat=2.0,
        sse_max_clients=3,
        connection_limit=50,
        idle_timeout=5,
        send_buffer_bytes=65536,
    )


def test_the_rate_limit_counts_in_redis_when_there_is_one() -> None:
    assert Config().limiter_storage_uri == "memory://"
    with_redis = Config.from_env({"TM_REDIS_URL": "redis://127.0.0.1:7000/1"})
    assert with_redis.limiter_storage_uri == "redis://127.0.0.1:7000/1"
    assert with_redis.rate_limit_fallback == "open"
    # An explicit store wins, so the limit can live elsewhere than the events and the cache.
    explicit = with_redis.replace(rate_limit_storage_uri="memory://")
    assert explicit.limiter_storage_uri == "memory://"
    assert Config.from_env({"TM_RATE_LIMIT_FALLBACK": "closed"}).rate_limit_fallback == "closed"


def test_a_redis_url_needs_a_core_opened_with_the_redis_bus(tmp_path: Path) -> None:
    from taskmaster.api import create_app
    from taskmaster.compose import init_project

    project, _ = init_project(tmp_path)
    try:
        with pytest.raises(InvalidInput, match="without Redis"):
            create_app(project, Config(redis_url="redis://127.0.0.1:1/0", watch=False))
    finally:
        project.close()


def test_flags_win_over_variables_and_none_means_not_given() -> None:
    config = Config.from_env({"TM_PORT": "9000", "TM_HOST": "::1"}, port=7000, host=None)
    assert (config.host, config.port) == ("::1", 7000)
    assert config.replace(threads=2, port=None).threads == 2


def test_an_empty_rate_limit_or_token_means_off() -> None:
    config = Config.from_env({"TM_RATE_LIMIT": "", "TM_API_TOKEN": "  "})
    assert config.rate_limit is None and config.api_token is None


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TM_PORT", "http"),
        ("TM_PORT", "70000"),
        ("TM_THREADS", "0"),
        ("TM_CACHE", "maybe"),
        ("TM_CACHE_TTL", "soon"),
        ("TM_HOST", " "),
        ("TM_REDIS_URL", "http://localhost:6379"),
        ("TM_RATE_LIMIT_FALLBACK", "maybe"),
        ("TM_CONNECTION_LIMIT", "0"),
        ("TM_CONNECTION_LIMIT", "many"),
        ("TM_IDLE_TIMEOUT", "0"),
        ("TM_IDLE_TIMEOUT", "1.5"),
        ("TM_SEND_BUFFER_BYTES", "100"),
        ("TM_SSE_MAX_CLIENTS", "-1"),
        ("TM_MAX_BODY_BYTES", "-1"),
    ],
)
def test_bad_values_name_the_variable(variable: str, value: str) -> None:
    with pytest.raises(InvalidInput):
        Config.from_env({variable: value})


def test_serve_is_a_tm_command_with_help() -> None:
    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0
    options = ("--host", "--port", "--threads", "--rate-limit", "--no-cache", "--redis-url")
    limits = (
        "--max-streams",
        "--max-body-bytes",
        "--connection-limit",
        "--idle-timeout",
        "--send-buffer-bytes",
    )
    for option in (*options, "--rate-limit-fallback", *limits):
        assert option in result.output
    assert "serve" in CliRunner().invoke(cli, ["--help"]).output


def test_tm_list_imports_no_web_server_and_no_watcher(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        from taskmaster.cli import cli
        cli.main(["--project", {str(tmp_path)!r}, "init"], standalone_mode=False)
        cli.main(["--project", {str(tmp_path)!r}, "list"], standalone_mode=False)
        roots = ("falcon", "waitress", "watchdog", "limits", "prometheus_client", "redis")
        heavy = sorted(
            name for name in sys.modules
            if name.split(".")[0] in roots or name.startswith("taskmaster.api")
        )
        print("HEAVY", heavy)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert "HEAVY []" in result.stdout, result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["serve", "--redis-url", "http://127.0.0.1:6379"],
        ["serve", "--rate-limit-fallback", "sometimes"],
        ["--redis-url", "localhost:6379", "list"],
    ],
)
def test_bad_redis_options_are_usage_errors(args: list[str], tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--project", str(tmp_path), *args])
    assert result.exit_code == 2, result.output


@pytest.mark.parametrize(
    "args",
    [
        ["serve", "--connection-limit", "0"],
        ["serve", "--idle-timeout", "0"],
        ["serve", "--idle-timeout", "soon"],
        ["serve", "--send-buffer-bytes", "10"],
        ["serve", "--max-streams", "-1"],
        ["serve", "--max-body-bytes", "-5"],
    ],
)
def test_bad_limit_options_are_usage_errors(args: list[str], tmp_path: Path) -> None:
    _init_project(tmp_path)
    result = CliRunner().invoke(cli, ["--project", str(tmp_path), *args])
    assert result.exit_code == 2, result.output
    assert "Invalid value for" in result.output, result.output  # the option exists


@pytest.mark.parametrize(
    ("variable", "value"),
    [("TM_CONNECTION_LIMIT", "0"), ("TM_IDLE_TIMEOUT", "never"), ("TM_PORT", "http")],
)
def test_a_bad_tm_setting_for_serve_is_a_usage_error(
    variable: str, value: str, tmp_path: Path
) -> None:
    _init_project(tmp_path)
    result = CliRunner().invoke(cli, ["--project", str(tmp_path), "serve"], env={variable: value})
    assert result.exit_code == 2, result.output
    assert variable in result.output or value in result.output


def _init_project(root: Path) -> None:
    from taskmaster.compose import init_project

    project, _ = init_project(root)
    project.close()


def test_waitress_gets_the_limits() -> None:
    from taskmaster.api.connections import waitress_adjustments

    adjustments = waitress_adjustments(
        Config(max_body_bytes=1000, connection_limit=7, idle_timeout=9, send_buffer_bytes=8192)
    )
    # waitress refuses a declared length at or above its maximum: 1000 bytes still pass.
    assert adjustments.max_request_body_size == 1001
    assert adjustments.channel_timeout == 9
    assert adjustments.outbuf_high_watermark == 8192
    assert adjustments.channel_request_lookahead == 1


@pytest.mark.parametrize(
    ("descriptors", "expected"),
    [({}, "select"), ({4: None, 9: None}, "select"), ({4: None, 1024: None}, "poll")],
)
def test_the_loop_waits_with_select_while_every_descriptor_fits_it(
    monkeypatch: pytest.MonkeyPatch, descriptors: dict[int, object], expected: str
) -> None:
    from waitress import wasyncore

    from taskmaster.api import connections

    used: list[str] = []
    monkeypatch.setattr(wasyncore, "poll", lambda timeout, m: used.append("select"))
    monkeypatch.setattr(wasyncore, "poll2", lambda timeout, m: used.append("poll"))
    connections.wait_once(0.0, descriptors)
    assert used == [expected]


def test_a_descriptor_closed_after_it_was_listed_is_closed_not_fatal() -> None:
    # select() fails with EBADF on a descriptor closed behind its dispatcher's back; the turn
    # is waited again with poll(), which reports it, and the dispatcher closes.
    import socket

    from waitress import wasyncore

    from taskmaster.api import connections

    closed: list[bool] = []

    class Watched(wasyncore.dispatcher):
        def handle_close(self) -> None:
            closed.append(True)
            self.close()

    ours, theirs = socket.socketpair()
    socket_map: dict[int, Any] = {}
    Watched(ours, map=socket_map)
    os.close(ours.detach())  # the number stays in the map, its file is gone
    try:
        connections.wait_once(1.0, socket_map)
    finally:
        theirs.close()
    assert closed == [True]
    assert socket_map == {}
