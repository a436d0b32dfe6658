"""The change journal over the REST API: who wrote (named tokens, `Tm-Actor`), `GET /history`
(filters, pages), `POST /undo` (restored, refused, not found, bad input), the journal gauges
of `/metrics`, storage failures (503) and a real `tm serve` process with `TM_API_TOKENS`.

Requests go through the whole WSGI stack (`test_api_support.Api`); the PostgreSQL tests use a
real cluster of the tests' own (`postgres_url`), the last ones a real server process.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from falcon.testing import Result, TestClient
from test_api_support import TEST_CONFIG, Api, assert_problem, etag_of

from harness.postgres_server import PostgresServer
from taskmaster.api import create_app
from taskmaster.cli import cli
from taskmaster.commands import AddTask
from taskmaster.compose import init_project, init_storage_project
from taskmaster.config import Config
from taskmaster.errors import InvalidInput, StorageUnavailable

HISTORY = "/api/v1/history"
UNDO = "/api/v1/undo"
TOKENS = (("alice", "tok-alice"), ("bob", "tok-bob"))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def entries(api: Api, **params: Any) -> list[dict[str, Any]]:
    result = api.get(HISTORY, params={k: str(v) for k, v in params.items()})
    assert result.status_code == 200, result.text
    found: list[dict[str, Any]] = result.json["entries"]
    return found


def task(api: Api, task_id: str) -> dict[str, Any]:
    result = api.get(f"/api/v1/tasks/{task_id}")
    assert result.status_code == 200, result.text
    item: dict[str, Any] = result.json
    return item


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    api = Api(tmp_path)
    yield api
    api.close()


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[Api]:
    """A server with TM_API_TOKEN ("api") and two named tokens."""
    api = Api.with_config(tmp_path, api_token="tok-main", api_tokens=TOKENS)
    yield api
    api.close()


# TM_API_TOKENS -------------------------------------------------------------------------------


def test_named_tokens_are_read_and_tm_api_token_keeps_working() -> None:
    config = Config.from_env(
        {"TM_API_TOKEN": "tok-main", "TM_API_TOKENS": " alice:tok-alice , bob:tok:with:colons "}
    )
    assert config.api_token == "tok-main"
    assert config.api_tokens == (("alice", "tok-alice"), ("bob", "tok:with:colons"))
    assert Config.from_env({"TM_API_TOKENS": "  "}).api_tokens == ()


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("alice", "entry 1 has no ':'"),
        ("alice:", "entry 1 ('alice') is not name:token"),
        ("alice:tok-a,", "entry 2 is empty"),
        (":tok-a", "invalid token name ''"),
        ("al ice:tok-a", "invalid token name 'al ice'"),
        ("alice:tok-a,alice:tok-b", "the name 'alice' is given twice"),
        ("alice:tok-a,bob:tok-a", "its token is also another name's"),
        ("alice:tok a", "cannot be empty or contain spaces"),
    ],
)
def test_a_bad_tm_api_tokens_is_a_clear_error_that_shows_no_token(value: str, words: str) -> None:
    with pytest.raises(InvalidInput, match="TM_API_TOKENS") as caught:
        Config.from_env({"TM_API_TOKENS": value})
    assert words in str(caught.value)
    tokens = [part.partition(":")[2].strip() for part in value.split(",")]
    assert not [token for token in tokens if token and token in str(caught.value)]


def test_a_named_token_cannot_take_the_name_of_tm_api_token() -> None:
    with pytest.raises(InvalidInput, match="'api' \\(TM_API_TOKEN's name\\) is given twice"):
        Config.from_env({"TM_API_TOKEN": "tok-main", "TM_API_TOKENS": "api:tok-other"})
    with pytest.raises(InvalidInput, match="its token is also another name's"):
        Config.from_env({"TM_API_TOKEN": "tok-main", "TM_API_TOKENS": "alice:tok-main"})
    # Without TM_API_TOKEN the name is free.
    assert Config.from_env({"TM_API_TOKENS": "api:tok-x"}).api_tokens == (("api", "tok-x"),)


def test_tm_serve_refuses_to_start_with_a_bad_tm_api_tokens(tmp_path: Path) -> None:
    init_project(tmp_path)[0].close()
    result = CliRunner().invoke(
        cli, ["--project", str(tmp_path), "serve"], env={"TM_API_TOKENS": "alice:s3cret,bob"}
    )
    assert result.exit_code == 2, result.output
    assert "TM_API_TOKENS: entry 2 has no ':'" in result.output
    assert "s3cret" not in result.output


# who writes ---------------------------------------------------------------------------------


def test_each_write_is_journaled_with_its_tokens_name_via_api(guarded: Api) -> None:
    assert (
        guarded.post("/api/v1/tasks", {"title": "one"}, headers=bearer("tok-alice")).status_code
        == 201
    )
    assert (
        guarded.put(
            "/api/v1/tasks/1/status", {"status": "done"}, headers=bearer("tok-bob")
        ).status_code
        == 200
    )
    assert (
        guarded.post("/api/v1/tasks", {"title": "two"}, headers=bearer("tok-main")).status_code
        == 201
    )
    found = entries(guarded)
    assert [(e["actor"], e["via"], e["command"]) for e in found] == [
        ("alice", "api", "add-task"),
        ("bob", "api", "set-status"),
        ("api", "api", "add-task"),
    ]
    # A client cannot name itself when the server has tokens: the token decides.
    headers = {**bearer("tok-bob"), "Tm-Actor": "alice"}
    assert guarded.patch("/api/v1/tasks/2", {"title": "2!"}, headers=headers).status_code == 200
    assert entries(guarded)[-1]["actor"] == "bob"


def test_a_wrong_or_missing_token_writes_nothing_and_reads_stay_open(guarded: Api) -> None:
    before = guarded.core.revision()
    assert_problem(guarded.post("/api/v1/tasks", {"title": "x"}), 401, kind="unauthorized")
    assert_problem(
        guarded.post("/api/v1/tasks", {"title": "x"}, headers=bearer("tok-alicE")),
        401,
        kind="unauthorized",
    )
    assert_problem(guarded.post(UNDO, {"revision": before}), 401, kind="unauthorized")
    assert guarded.core.revision() == before
    assert guarded.get(HISTORY).status_code == 200
    assert entries(guarded) == []


def test_without_tokens_a_write_is_anonymous_or_names_itself_in_tm_actor(api: Api) -> None:
    api.add("one")
    named = api.put("/api/v1/tasks/1/status", {"status": "done"}, headers={"Tm-Actor": " agent 7 "})
    assert named.status_code == 200
    assert [(e["actor"], e["via"]) for e in entries(api)] == [
        ("anonymous", "api"),
        ("agent 7", "api"),
    ]


@pytest.mark.parametrize("value", ["  ", "x" * 101, "bad\x7fname"])
def test_a_bad_tm_actor_is_a_400_and_writes_nothing(api: Api, value: str) -> None:
    before = api.core.revision()
    result = api.post("/api/v1/tasks", {"title": "x"}, headers={"Tm-Actor": value})
    assert_problem(result, 400, field="Tm-Actor", kind="invalid-input")
    assert api.core.revision() == before and entries(api) == []


def test_a_fenced_write_is_the_claims_agents(api: Api) -> None:
    api.add("one")
    claim = api.post("/api/v1/claims", {"agent": "worker-3", "id": 1}).json["claim"]
    headers = {"Claim-Token": str(claim["token"]), "Tm-Actor": "relay"}
    assert api.patch("/api/v1/tasks/1", {"title": "mine"}, headers=headers).status_code == 200
    last = entries(api)[-1]
    assert (last["actor"], last["via"], last["claim"]) == ("worker-3", "api", claim["token"])


# GET /history --------------------------------------------------------------------------------


def _seed(api: Api) -> None:
    """Three tasks (one with a subtask) in master, one task in tag feature, two actors."""
    api.add("one")
    api.add("two")
    api.post("/api/v1/tasks/1/subtasks", {"title": "child"}, headers={"Tm-Actor": "bob"})
    api.put("/api/v1/tasks/1.1/status", {"status": "done"}, headers={"Tm-Actor": "bob"})
    api.post("/api/v1/tags", {"name": "feature"})
    api.post("/api/v1/tasks?tag=feature", {"title": "f"}, headers={"Tm-Actor": "bob"})
    api.put("/api/v1/tasks/2/status", {"status": "done"})


def test_history_lists_every_commit_oldest_first_with_its_changes(api: Api) -> None:
    _seed(api)
    answer = api.get(HISTORY)
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json
    assert body["revision"] == api.core.revision() and body["next"] is None
    found = body["entries"]
    assert [e["command"] for e in found] == [
        "add-task",
        "add-task",
        "add-subtask",
        "set-status",
        "add-tag",
        "add-task",
        "set-status",
    ]
    revisions = [e["revision"] for e in found]
    assert revisions == sorted(revisions) and revisions[-1] == api.core.revision()
    status = [c for c in found[-1]["changes"] if c["field"] == "status"]
    assert status == [
        {"tag": "master", "id": "2", "field": "status", "before": "pending", "after": "done"}
    ]


def test_history_filters_by_item_actor_tag_and_since(api: Api) -> None:
    _seed(api)
    everything = entries(api)
    # A task's entries include its subtasks'; an id names that task in every tag, unless
    # `tag` says which.
    assert [e["command"] for e in entries(api, id=1, tag="master")] == [
        "add-task",
        "add-subtask",
        "set-status",
    ]
    assert entries(api, id=1) == [*everything[0:1], *everything[2:4], everything[5]]
    assert [e["command"] for e in entries(api, id="1.1")] == ["add-subtask", "set-status"]
    assert [e["command"] for e in entries(api, actor="bob")] == [
        "add-subtask",
        "set-status",
        "add-task",
    ]
    assert [e["command"] for e in entries(api, tag="feature")] == ["add-tag", "add-task"]
    assert entries(api, since=everything[4]["revision"]) == everything[5:]
    assert entries(api, actor="bob", tag="feature") == [everything[5]]
    assert entries(api, actor="nobody") == []


def test_pages_follow_next_to_the_end_and_keep_the_filters(api: Api) -> None:
    _seed(api)
    everything = entries(api)
    seen: list[dict[str, Any]] = []
    url: str | None = f"{HISTORY}?limit=2"
    pages = 0
    while url is not None:
        path, _, query = url.partition("?")
        page = api.get(path, query_string=query)
        assert page.status_code == 200, page.text
        assert len(page.json["entries"]) <= 2
        seen += page.json["entries"]
        url = page.json["next"]
        pages += 1
    assert seen == everything and pages == 4
    # The next URL keeps the filters: one entry a page, bob's entries of task 1 in master.
    wanted = entries(api, actor="bob", id=1, tag="master")
    assert len(wanted) == 2
    first = api.get(HISTORY, params={"limit": "1", "actor": "bob", "id": "1", "tag": "master"})
    path, _, query = first.json["next"].partition("?")
    second = api.get(path, query_string=query).json
    assert first.json["entries"] + second["entries"] == wanted
    assert second["next"] is None


def test_the_default_page_is_100_entries(api: Api) -> None:
    for number in range(101):
        api.core.execute(AddTask.from_args({"title": f"t{number}"}))
    page = api.get(HISTORY).json
    assert len(page["entries"]) == 100
    assert page["next"] == f"{HISTORY}?since={page['entries'][-1]['revision']}&limit=100"
    assert len(entries(api, limit=1000)) == 101


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("since", "-1"),
        ("since", "soon"),
        ("since", "9" * 17),
        ("limit", "0"),
        ("limit", "1001"),
        ("limit", "1e3"),
        ("id", "one"),
        ("id", "1.2.3"),
        ("tag", "no such/tag"),
        ("actor", "x" * 201),
    ],
)
def test_a_bad_history_parameter_is_a_400_naming_it(api: Api, param: str, value: str) -> None:
    assert_problem(api.get(HISTORY, params={param: value}), 400, field=param, kind="invalid-input")


# POST /undo ----------------------------------------------------------------------------------


def test_undo_restores_the_fields_answers_the_new_revision_and_is_journaled(guarded: Api) -> None:
    alice = bearer("tok-alice")
    guarded.post("/api/v1/tasks", {"title": "one"}, headers=alice)
    guarded.put("/api/v1/tasks/1/status", {"status": "done"}, headers=alice)
    done = entries(guarded)[-1]["revision"]
    answer = guarded.post(UNDO, {"revision": done}, headers=bearer("tok-bob"))
    assert answer.status_code == 200, answer.text
    revision = guarded.core.revision()
    assert answer.json == {
        "undone": done,
        "command": "set-status",
        "changes": 2,
        "ids": ["1"],
        "revision": revision,
    }
    assert etag_of(answer) == revision
    assert task(guarded, "1")["status"] == "pending"
    last = entries(guarded)[-1]
    assert (last["revision"], last["kind"], last["undoes"], last["actor"], last["via"]) == (
        revision,
        "undo",
        done,
        "bob",
        "api",
    )


def test_an_undo_that_a_later_change_overlaps_is_a_409_naming_it(api: Api) -> None:
    api.add("one")
    api.put("/api/v1/tasks/1/status", {"status": "done"})
    api.put("/api/v1/tasks/1/status", {"status": "review"})
    first, second = (e["revision"] for e in entries(api)[1:])
    before = api.core.revision()
    problem = assert_problem(api.post(UNDO, {"revision": first}), 409, kind="undo-refused")
    assert problem["revision"] == first and problem["later"] == [second]
    assert str(second) in problem["detail"]
    assert api.core.revision() == before and task(api, "1")["status"] == "review"


def test_an_undo_of_no_entry_is_a_404(api: Api) -> None:
    api.add("one")
    missing = api.core.revision() + 1
    problem = assert_problem(api.post(UNDO, {"revision": missing}), 404, kind="entry-not-found")
    assert problem["revision"] == missing


def test_an_undo_under_a_stale_if_match_is_a_412_and_changes_nothing(api: Api) -> None:
    api.add("one")
    added = api.core.revision()
    api.put("/api/v1/tasks/1/status", {"status": "done"})
    result = api.post(UNDO, {"revision": added}, headers={"If-Match": f'"{added}"'})
    assert_problem(result, 412, kind="revision-mismatch")
    assert task(api, "1")["status"] == "done"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "revision"),
        ({"revision": "5"}, "revision"),
        ({"revision": 0}, "revision"),
        ({"revision": True}, "revision"),
        ({"revision": 2**53}, "revision"),
        ({"revision": None}, "revision"),
        ({"revision": 1, "force": True}, "force"),
        ([1], "body"),
    ],
)
def test_a_bad_undo_body_is_a_400_naming_the_field(api: Api, body: Any, field: str) -> None:
    api.add("one")
    before = api.core.revision()
    assert_problem(api.post(UNDO, body), 400, field=field, kind="invalid-input")
    assert api.core.revision() == before


def test_an_undo_that_is_no_json_is_refused(api: Api) -> None:
    headers = {"Content-Type": "application/json"}
    assert_problem(api.client.simulate_post(UNDO, body=b"{", headers=headers), 400, field="body")
    text = api.client.simulate_post(UNDO, body=b"x", headers={"Content-Type": "text/plain"})
    assert_problem(text, 415)


# metrics and storage failures ---------------------------------------------------------------


def _gauge(api: Api, name: str) -> float | None:
    for line in api.get("/metrics").text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    return None


def test_metrics_show_the_journals_entries_and_bytes(api: Api) -> None:
    assert _gauge(api, "tm_journal_entries") == 0
    api.add("one")
    api.add("two")
    stats = api.core.storage.journal_stats()
    assert stats["entries"] == 2
    assert _gauge(api, "tm_journal_entries") == 2
    assert _gauge(api, "tm_journal_bytes") == stats["bytes"] > 0


def test_a_directory_in_place_of_the_task_file_is_a_503_for_history_and_undo(api: Api) -> None:
    api.add("one")
    revision = api.core.revision()
    api.tasks_file.unlink()
    api.tasks_file.mkdir()
    assert_problem(api.get(HISTORY), 503, kind="storage-error")
    assert_problem(api.post(UNDO, {"revision": revision}), 503, kind="storage-error")
    assert api.get("/metrics").status_code == 200
    assert api.tasks_file.is_dir() and not any(api.tasks_file.iterdir())


class PostgresApi(Api):
    """`Api` over a project kept in PostgreSQL (the URL's own project key)."""

    def __init__(self, root: Path, url: str) -> None:
        self.root = root
        self.project = init_storage_project(root, url)[0]
        self.core = self.project.core
        self.config = TEST_CONFIG
        self.app = create_app(self.project, TEST_CONFIG)
        self.client = TestClient(self.app)


@pytest.fixture
def on_postgres(tmp_path: Path, postgres_url: str) -> Iterator[Api]:
    api = PostgresApi(tmp_path, postgres_url)
    yield api
    api.close()


def test_history_and_undo_on_postgresql(on_postgres: Api) -> None:
    api = on_postgres
    api.add("one")
    api.put("/api/v1/tasks/1/status", {"status": "done"}, headers={"Tm-Actor": "pg-agent"})
    found = entries(api)
    assert [(e["command"], e["actor"]) for e in found] == [
        ("add-task", "anonymous"),
        ("set-status", "pg-agent"),
    ]
    assert api.post(UNDO, {"revision": found[1]["revision"]}).json["undone"] == found[1]["revision"]
    assert task(api, "1")["status"] == "pending"
    assert _gauge(api, "tm_journal_entries") == 3


def test_postgresql_down_is_a_503_and_metrics_still_answer(
    on_postgres: Api, postgres_server: PostgresServer
) -> None:
    api = on_postgres
    api.add("one")
    revision = api.core.revision()
    postgres_server.kill()
    try:
        down: list[Result] = [api.get(HISTORY), api.post(UNDO, {"revision": revision})]
        for result in down:
            problem = assert_problem(result, 503, kind="storage-unavailable")
            assert int(result.headers["retry-after"]) > 0, problem
        scrape = api.get("/metrics")
        assert scrape.status_code == 200
        assert "tm_http_requests" in scrape.text and "tm_journal_entries " not in scrape.text
    finally:
        postgres_server.restart()
    assert [e["command"] for e in entries(api)] == ["add-task"]


def test_the_journal_reads_of_postgresql_while_it_is_down_are_storage_unavailable(
    tmp_path: Path, postgres_url: str, postgres_server: PostgresServer
) -> None:
    """What the API's history, metrics and event replay call, straight on the storage: each
    call once the server is known to be down, not only the first, is a StorageUnavailable
    (a 503), never the backend's internal exception (a 500)."""
    project = init_storage_project(tmp_path, postgres_url)[0]
    try:
        project.core.execute(AddTask.from_args({"title": "one"}))
        storage = project.core.storage
        postgres_server.kill()
        try:
            for _ in range(2):
                for call in (
                    lambda: project.core.events_since(0),
                    storage.journal_stats,
                    storage.compact_journal,
                ):
                    with pytest.raises(StorageUnavailable):
                        call()
        finally:
            postgres_server.restart()
        assert storage.journal_stats()["entries"] == 1
    finally:
        project.close()


# a real server process ------------------------------------------------------------------------


@pytest.mark.slow
def test_tm_serve_journals_each_token_by_name(tmp_path: Path) -> None:
    from tests.servers import start_server

    init_project(tmp_path)[0].close()
    served = start_server(tmp_path, TM_API_TOKEN="tok-main", TM_API_TOKENS="ci:tok-ci")
    try:
        conn = served.connect()

        def call(method: str, path: str, body: Any, token: str) -> int:
            headers = {"Content-Type": "application/json", **bearer(token)}
            conn.request(method, path, body=orjson.dumps(body), headers=headers)
            response = conn.getresponse()
            response.read()
            return response.status

        assert call("POST", "/api/v1/tasks", {"title": "one"}, "tok-ci") == 201
        assert call("PUT", "/api/v1/tasks/1/status", {"status": "done"}, "tok-main") == 200
        assert call("POST", "/api/v1/tasks", {"title": "two"}, "tok-nope") == 401
        page = served.get_json(conn, HISTORY)
        assert isinstance(page, dict)
        assert [(e["actor"], e["via"]) for e in page["entries"]] == [("ci", "api"), ("api", "api")]
        undone = page["entries"][1]["revision"]
        assert call("POST", UNDO, {"revision": undone}, "tok-ci") == 200
        conn.request("GET", "/api/v1/tasks/1")
        response = conn.getresponse()
        assert orjson.loads(response.read())["status"] == "pending"
        conn.close()
    finally:
        assert served.stop() == 0


def test_a_reversion_is_counted_in_metrics_and_listed_in_history(tmp_path: Path) -> None:
    api = Api.with_config(tmp_path, watch=True)
    try:
        api.add("one")
        stale = api.tasks_file.read_bytes()  # another tool reads, we commit, it writes back
        api.add("two")
        temporary = api.tasks_file.with_name("tasks.json.tmp.5")
        temporary.write_bytes(stale)
        os.replace(temporary, api.tasks_file)
        deadline = time.monotonic() + 5
        while (_gauge(api, "tm_reversions_total") or 0) < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _gauge(api, "tm_reversions_total") == 1
        (external,) = [e for e in entries(api) if e["kind"] == "external"]
        assert [(r["id"], r["field"]) for r in external["reverts"]] == [("2", None)]
    finally:
        api.close()
