"""The throwaway PostgreSQL cluster the tests, scenarios and benchmarks start themselves."""

from __future__ import annotations

from typing import Any

import psycopg

from harness.postgres_server import PostgresServer


def test_a_cluster_of_its_own_keeps_committed_data_through_a_kill(
    postgres_server: Any,
) -> None:
    server: PostgresServer = postgres_server
    assert server.port != 5432 and server.alive()
    url = server.create_database()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("CREATE TABLE kept (n int)")
        connection.execute("INSERT INTO kept VALUES (42)")
    pid = server.pid
    server.kill()
    assert not server.alive()
    server.restart()
    assert server.alive() and server.pid != pid
    with psycopg.connect(url) as connection:
        assert connection.execute("SELECT n FROM kept").fetchall() == [(42,)]
