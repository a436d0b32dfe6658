"""What the PostgreSQL backend does beyond the storage contract (which `tests/contract/` checks
on it like on every backend): its URL, its schema, writing only what changed, its errors when
the server goes away, and coming back without a restart. A real cluster (`postgres_server`)."""

from __future__ import annotations

import threading
import time
from contextlib import closing
from typing import Any

import psycopg
import pytest

from taskmaster.commands import AddTask, RemoveTask, SetStatus
from taskmaster.core import TaskMaster
from taskmaster.errors import (
    CorruptTaskFile,
    InvalidInput,
    LockTimeout,
    StorageUnavailable,
    TaskFileMissing,
)
from taskmaster.model import Document
from taskmaster.storage.base import ProjectState
from taskmaster.storage.postgres import PostgresStorage, split_url


def tasks_document(count: int) -> Document:
    tasks = [{"id": n, "title": f"task {n}", "status": "pending"} for n in range(1, count + 1)]
    return Document({"master": {"tasks": tasks, "metadata": {"created": "x"}}})


def made(url: str, count: int = 3, **options: Any) -> PostgresStorage:
    store = PostgresStorage(url, **options)
    store.create(tasks_document(count), ProjectState("master"))
    return store


def sql(url: str, statement: str, *args: Any) -> list[tuple[Any, ...]]:
    conninfo, _, _ = split_url(url)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        cursor = connection.execute(statement, args)  # type: ignore[call-overload]
        return list(cursor.fetchall()) if cursor.description else []


def test_the_url_names_server_database_and_project() -> None:
    conninfo, project, location = split_url("postgresql://me:secret@db.example:6543/tm?project=api")
    assert project == "api"
    assert location == "db.example:6543/tm"
    assert "project" not in conninfo
    store = PostgresStorage("postgresql://me:secret@db.example:6543/tm?project=api")
    assert store.key == "postgresql://db.example:6543/tm#api"
    assert "secret" not in store.key and "secret" not in str(store.describe())
    assert split_url("postgres://localhost/tm")[1] == "default"
    assert "sslmode=require" in split_url("postgresql://h/tm?sslmode=require&project=x")[0]


@pytest.mark.parametrize(
    "url", ["postgresql://h/tm?project=", "postgresql://h:notaport/tm", "mysql://h/tm"]
)
def test_a_bad_url_is_invalid_input(url: str) -> None:
    with pytest.raises(InvalidInput):
        PostgresStorage(url)


def test_create_makes_schema_and_project_once(postgres_server: Any) -> None:
    url = f"{postgres_server.create_database()}?project=one"
    store = PostgresStorage(url)
    assert not store.exists()
    with pytest.raises(TaskFileMissing, match="tm init"):
        store.read()
    created = store.create(tasks_document(2), ProjectState("master"))
    assert any("schema version 1" in line for line in created)
    assert any("project 'one'" in line for line in created)
    assert store.create(tasks_document(5), ProjectState()) == []
    assert len(store.read().document.tasks("master")) == 2
    other = PostgresStorage(url.replace("project=one", "project=two"))
    assert other.create(Document.empty(), ProjectState()) == [
        "project 'two' in " + other.key.split("#")[0]
    ]
    assert other.read().document.tasks("master") == []
    assert len(store.read().document.tasks("master")) == 2  # projects do not share tasks
    store.close()
    other.close()


def test_a_newer_schema_is_refused(postgres_server: Any) -> None:
    url = f"{postgres_server.create_database()}?project=p"
    made(url).close()
    sql(url, "UPDATE tm_schema SET version = 99")
    with closing(PostgresStorage(url)) as store, pytest.raises(TaskFileMissing, match="99, newer"):
        store.read()


def test_a_write_writes_only_the_rows_it_changed(postgres_url: str) -> None:
    store = made(postgres_url, count=200)
    core = TaskMaster(store)
    revision = core.execute(SetStatus(ids=("120",), status="done")).revision
    project = split_url(postgres_url)[1]
    written = sql(
        postgres_url,
        "SELECT count(*) FROM tm_tasks t JOIN tm_projects p ON p.id = t.project "
        "WHERE p.key = %s AND t.revision = %s",
        project,
        revision,
    )
    assert written == [(1,)]
    assert store.read().document.task("master", 120)["status"] == "done"
    store.close()


def test_every_handle_reads_every_commit(postgres_url: str) -> None:
    first, second = made(postgres_url), PostgresStorage(postgres_url)
    for round_ in range(5):
        writer, reader = (first, second) if round_ % 2 else (second, first)
        commit = TaskMaster(writer).execute(AddTask(values={"title": f"round {round_}"}))
        snapshot = reader.read()
        assert snapshot.revision == commit.revision
        assert snapshot.document.tasks("master")[-1]["title"] == f"round {round_}"
        assert reader.read().document.to_json() == writer.read().document.to_json()
    first.close()
    second.close()


def test_a_held_project_row_is_a_lock_timeout(postgres_url: str) -> None:
    store = made(postgres_url, lock_timeout=0.3)
    conninfo, project, _ = split_url(postgres_url)
    holder = psycopg.connect(conninfo)
    try:
        holder.execute("SELECT 1 FROM tm_projects WHERE key = %s FOR UPDATE", (project,))
        started = time.monotonic()
        with pytest.raises(LockTimeout):
            TaskMaster(store).execute(SetStatus(ids=("1",), status="done"))
        assert time.monotonic() - started < 5
        assert store.read().document.task("master", 1)["status"] == "pending"  # reads go on
    finally:
        holder.close()
    TaskMaster(store).execute(SetStatus(ids=("1",), status="done"))
    store.close()


def test_an_outage_is_storage_unavailable_and_the_store_recovers(
    postgres_server: Any, postgres_url: str
) -> None:
    store = made(postgres_url, connect_timeout=1.0)
    core = TaskMaster(store)
    seen: list[int] = []
    feed = store.changes(seen.append)
    feed.start()
    try:
        before = core.execute(SetStatus(ids=("1",), status="done")).revision
        postgres_server.kill()
        for attempt in (lambda: store.read(), lambda: store.revision()):
            with pytest.raises(StorageUnavailable) as raised:
                attempt()
            assert raised.value.retry_after > 0
        with pytest.raises(StorageUnavailable, match="nothing was changed"):
            core.execute(SetStatus(ids=("2",), status="done"))
        postgres_server.restart()
        # The same store object, without being reopened: its pooled connections died.
        assert store.revision() == before
        assert store.read().document.task("master", 2)["status"] == "pending"
        after = core.execute(SetStatus(ids=("2",), status="done")).revision
        assert after == before + 1
        # The feed reconnected: another handle's commit is announced again.
        other = PostgresStorage(postgres_url)
        outside = TaskMaster(other).execute(SetStatus(ids=("3",), status="done")).revision
        deadline = time.monotonic() + 10
        while outside not in seen and time.monotonic() < deadline:
            time.sleep(0.02)
        assert outside in seen
        other.close()
    finally:
        feed.stop()
        store.close()


def test_concurrent_threads_lose_no_update(postgres_url: str) -> None:
    store = made(postgres_url, count=1, pool_size=4)
    core = TaskMaster(store)
    errors: list[BaseException] = []

    def add(worker: int) -> None:
        try:
            for n in range(10):
                core.execute(AddTask(values={"title": f"w{worker}-{n}"}))
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with closing(PostgresStorage(postgres_url)) as other:
        titles = [task["title"] for task in other.read().document.tasks("master")]
    assert len(titles) == 41 and len(set(titles)) == 41
    store.close()


def _set_first_task_body(url: str, body: str) -> None:
    project = split_url(url)[1]
    sql(
        url,
        "WITH p AS (UPDATE tm_projects SET revision = revision + 1 WHERE key = %s "
        "RETURNING id, revision) UPDATE tm_tasks SET body = %s, revision = p.revision FROM p "
        "WHERE tm_tasks.project = p.id AND tm_tasks.number = (SELECT min(number) FROM tm_tasks t "
        "WHERE t.project = p.id AND NOT t.deleted)",
        project,
        body,
    )


def test_a_row_of_the_wrong_shape_is_refused_and_one_that_normalises_is_read(
    postgres_url: str,
) -> None:
    store = made(postgres_url)
    _set_first_task_body(postgres_url, '{"id": "7", "title": "string id"}')
    assert store.read().document.tasks("master")[0] == {"id": 7, "title": "string id"}
    _set_first_task_body(postgres_url, '{"id": 1, "title": 5}')
    for attempt in (
        store.read,
        lambda: TaskMaster(store).execute(SetStatus(ids=("2",), status="done")),
    ):
        with pytest.raises(CorruptTaskFile, match="'title' must be a string"):
            attempt()
    with closing(PostgresStorage(postgres_url)) as other:
        assert other.revision() == store.revision()
    store.close()


def test_a_reader_far_behind_the_purged_tombstones_reloads_everything(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from taskmaster.storage import postgres

    monkeypatch.setattr(postgres, "TOMBSTONE_WINDOW", 4)
    writer, reader = made(postgres_url, count=12), PostgresStorage(postgres_url)
    reader.read()  # holds the rows of the first revision
    core = TaskMaster(writer)
    for task_id in range(1, 11):  # ten removals: tombstones, purged every 4 revisions
        core.execute(RemoveTask(ids=(str(task_id),)))
    project = split_url(postgres_url)[1]
    tombstones = sql(
        postgres_url,
        "SELECT count(*) FROM tm_tasks t JOIN tm_projects p ON p.id = t.project "
        "WHERE p.key = %s AND t.deleted",
        project,
    )[0][0]
    assert tombstones < 10  # some were purged
    assert [task["id"] for task in reader.read().document.tasks("master")] == [11, 12]
    assert reader.read().document.to_json() == writer.read().document.to_json()
    writer.close()
    reader.close()
