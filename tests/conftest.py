"""Fixtures shared by the test modules.

`store`: a FileStorage on a new, empty task file in the test's temporary directory.

`redis_server`: one real `redis-server` per test session (per xdist worker), on a free port,
never the system one. Missing `redis-server` skips the tests that use it, unless
TM_REQUIRE_REDIS=1 (then they fail: CI must not pass by skipping them). `redis_url`: the
server's URL, emptied (FLUSHALL) before each test.

`postgres_server`: the same for PostgreSQL: one cluster per session (per xdist worker), made by
`initdb` in a temporary directory and started on a free port, never the system server, so that
a test may kill and restart it; TM_REQUIRE_POSTGRES=1 makes a missing server a failure.
`postgres_url`: a URL of that server with a project key of the test's own, so that tests share
the database without sharing a project (`?project=` names the project, see the PostgreSQL
backend).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import postgres_server as pg
from harness.redis_server import MISSING, REQUIRE_ENV, RedisServer, redis_required
from taskmaster.model import Document
from taskmaster.storage import ProjectState
from taskmaster.storage.file import FileStorage


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FileStorage]:
    storage = FileStorage(tmp_path / "tasks.json")
    assert storage.create(Document.empty(), ProjectState())
    yield storage
    storage.close()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    try:
        server = RedisServer(name="pytest-redis")
    except FileNotFoundError:
        if redis_required():
            pytest.fail(f"{MISSING}, and {REQUIRE_ENV}=1 requires it")
        pytest.skip(f"{MISSING}; set {REQUIRE_ENV}=1 to fail instead")
    with server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    if not redis_server.alive():  # a test killed it (an outage test): bring it back
        redis_server.restart()
    redis_server.flushall()
    return redis_server.url


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[pg.PostgresServer]:
    try:
        server = pg.PostgresServer(name="pytest-postgres", durable=False)
    except FileNotFoundError:
        if pg.postgres_required():
            pytest.fail(f"{pg.MISSING}, and {pg.REQUIRE_ENV}=1 requires it")
        pytest.skip(f"{pg.MISSING}; set {pg.REQUIRE_ENV}=1 to fail instead")
    with server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: pg.PostgresServer) -> str:
    if not postgres_server.alive():  # a test killed it (an outage test): bring it back
        postgres_server.restart()
    return f"{postgres_server.url}?project=t{secrets.token_hex(6)}"
