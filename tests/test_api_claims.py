"""Claims over REST: claim (the next task or one by id), renew, release, list; the
`Claim-Token` header fencing every write; the claim-held / claim-lost problems; the
`unclaimed` next task; the claim events on a real server's event stream."""

from __future__ import annotations

import http.client
import json
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from test_api_support import Api, assert_problem, etag_of

from taskmaster.api import ApiServer
from taskmaster.api.openapi import build_spec
from taskmaster.commands import AddTask
from taskmaster.compose import Project, init_project
from taskmaster.config import Config
from tests.servers import read_event

CLAIMS = "/api/v1/claims"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    api = Api(tmp_path)
    yield api
    api.close()


def _stored(api: Api) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(api.tasks_file.read_bytes())
    return data


def _task(api: Api, task_id: int) -> dict[str, Any]:
    return next(t for t in _stored(api)["master"]["tasks"] if t["id"] == task_id)


def _claim(api: Api, **body: Any) -> dict[str, Any]:
    result = api.post(CLAIMS, body)
    assert result.status_code == 201, result.text
    answer: dict[str, Any] = result.json
    return answer


def _expire(api: Api, task_id: int) -> None:
    """Make the task's claim one whose lease ran out long ago, as time would: edited in the
    file, so no test waits for a lease."""
    data = _stored(api)
    task = next(t for t in data["master"]["tasks"] if t["id"] == task_id)
    task["metadata"]["claim"]["expiresAt"] = "2000-01-01T00:00:00.000Z"
    api.tasks_file.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))


# claiming ----------------------------------------------------------------------------------


def test_claiming_the_next_task_answers_201_with_the_task_the_claim_and_its_location(
    api: Api,
) -> None:
    api.add("first", priority="high")
    api.add("second")
    result = api.post(CLAIMS, {"agent": "alice", "lease": "10m"})
    assert result.status_code == 201, result.text
    answer = result.json
    claim = answer["claim"]
    assert result.headers["location"] == f"{CLAIMS}/{claim['token']}"
    assert answer["task"]["id"] == 1 and answer["task"]["status"] == "in-progress"
    assert (claim["id"], claim["tag"], claim["agent"], claim["state"]) == (
        "1",
        "master",
        "alice",
        "live",
    )
    assert answer["expired"] == []
    assert etag_of(result) == api.core.revision()
    # In the file, where the reference tool keeps it through its own writes.
    stored = _task(api, 1)
    assert stored["status"] == "in-progress"
    assert stored["metadata"]["claim"]["token"] == claim["token"]
    assert stored["metadata"]["claim"]["agent"] == "alice"
    # The next claim takes the next task, with a greater token.
    second = _claim(api, agent="bob")
    assert second["task"]["id"] == 2
    assert second["claim"]["token"] > claim["token"]


def test_claiming_by_id_takes_that_task_or_subtask(api: Api) -> None:
    api.add("first")
    api.add("second")
    api.post("/api/v1/tasks/2/subtasks", {"title": "part"})
    by_number = _claim(api, agent="alice", id=2)
    assert by_number["task"]["id"] == 2 and by_number["claim"]["id"] == "2"
    sub = _claim(api, agent="bob", id="1")
    assert sub["task"]["id"] == 1
    assert _task(api, 1)["status"] == "in-progress"
    assert _task(api, 2)["metadata"]["claim"]["agent"] == "alice"


def test_claiming_when_nothing_is_left_answers_200_with_nulls(api: Api) -> None:
    api.add("only")
    _claim(api, agent="alice")
    before = api.core.revision()
    result = api.post(CLAIMS, {"agent": "bob"})
    assert result.status_code == 200, result.text
    assert result.json == {"task": None, "claim": None, "expired": []}
    assert "location" not in result.headers
    assert api.core.revision() == before


def test_claiming_a_task_another_agent_holds_is_a_409_claim_held(api: Api) -> None:
    api.add("contested")
    held = _claim(api, agent="alice", id=1)["claim"]
    before = api.tasks_file.read_bytes()
    result = api.post(CLAIMS, {"agent": "bob", "id": 1})
    problem = assert_problem(result, 409, kind="claim-held")
    assert problem["agent"] == "alice"
    assert problem["token"] == held["token"]
    assert problem["expiresAt"] == held["expiresAt"]
    assert problem["taskId"] == "1"
    assert "alice" in problem["detail"]
    assert api.tasks_file.read_bytes() == before


def test_an_expired_claim_is_recorded_as_expired_when_the_task_is_claimed_again(
    api: Api,
) -> None:
    api.add("abandoned")
    old = _claim(api, agent="alice")["claim"]
    _expire(api, 1)
    listed = api.get(CLAIMS).json["claims"]
    assert [(c["token"], c["state"]) for c in listed] == [(old["token"], "expired")]
    assert api.get("/api/v1/tasks/next", params={"unclaimed": "true"}).json["id"] == 1
    again = _claim(api, agent="bob")
    assert again["task"]["id"] == 1 and again["claim"]["agent"] == "bob"
    assert [c["token"] for c in again["expired"]] == [old["token"]]
    assert again["claim"]["token"] > old["token"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"agent": "alice", "priority": "high"}, "priority"),  # an unknown member
        ({"id": 1}, "agent"),  # the agent is required
        ({"agent": "   "}, "agent"),
        ({"agent": 7}, "agent"),
        ({"agent": "alice", "lease": "forever"}, "lease"),
        ({"agent": "alice", "lease": -5}, "lease"),
        ({"agent": "alice", "lease": "8d"}, "lease"),  # more than 7 days
        ({"agent": "alice", "id": "one"}, "id"),
    ],
)
def test_an_invalid_claim_body_is_a_400_naming_the_member(
    api: Api, body: dict[str, Any], field: str
) -> None:
    api.add("t")
    before = api.tasks_file.read_bytes()
    assert_problem(api.post(CLAIMS, body), 400, field=field, kind="invalid-input")
    assert api.tasks_file.read_bytes() == before


def test_claiming_a_missing_task_is_a_404(api: Api) -> None:
    assert_problem(api.post(CLAIMS, {"agent": "alice", "id": 9}), 404, kind="task-not-found")


# renewing and releasing --------------------------------------------------------------------


def test_renewing_extends_the_lease_and_the_body_may_be_left_out(api: Api) -> None:
    api.add("t")
    claim = _claim(api, agent="alice", lease="1m")["claim"]
    longer = api.post(f"{CLAIMS}/{claim['token']}/renew", {"lease": "2h"})
    assert longer.status_code == 200, longer.text
    assert longer.json["expiresAt"] > claim["expiresAt"]
    assert longer.json["renewedAt"] and longer.json["state"] == "live"
    assert _task(api, 1)["metadata"]["claim"]["expiresAt"] == longer.json["expiresAt"]
    default = api.post(f"{CLAIMS}/{claim['token']}/renew")  # the default lease: 15 minutes
    assert default.status_code == 200, default.text
    assert claim["expiresAt"] < default.json["expiresAt"] < longer.json["expiresAt"]
    assert_problem(
        api.post(f"{CLAIMS}/{claim['token']}/renew", {"lease": "soon"}), 400, field="lease"
    )
    assert_problem(api.post(f"{CLAIMS}/{claim['token']}/renew", {"ttl": 5}), 400, field="ttl")


def test_renewing_an_expired_claim_is_a_409_claim_lost(api: Api) -> None:
    api.add("t")
    claim = _claim(api, agent="alice")["claim"]
    _expire(api, 1)
    problem = assert_problem(api.post(f"{CLAIMS}/{claim['token']}/renew"), 409, kind="claim-lost")
    assert problem["token"] == claim["token"] and problem["taskId"] == "1"


def test_releasing_with_a_status_ends_the_claim_and_sets_the_outcome(api: Api) -> None:
    api.add("t")
    claim = _claim(api, agent="alice")["claim"]
    result = api.delete(f"{CLAIMS}/{claim['token']}", params={"status": "done"})
    assert result.status_code == 200, result.text
    released = result.json
    assert (released["token"], released["state"], released["outcome"], released["status"]) == (
        claim["token"],
        "released",
        "released",
        "done",
    )
    stored = _task(api, 1)
    assert stored["status"] == "done"
    assert "claim" not in stored["metadata"]
    assert [entry["token"] for entry in stored["metadata"]["claimHistory"]] == [claim["token"]]
    assert api.get(CLAIMS).json == {"tag": "master", "claims": []}
    # Released once: a second release finds no live claim.
    again = assert_problem(api.delete(f"{CLAIMS}/{claim['token']}"), 409, kind="claim-lost")
    assert again["token"] == claim["token"]


def test_releasing_without_a_status_leaves_the_task_in_progress(api: Api) -> None:
    api.add("t")
    claim = _claim(api, agent="alice")["claim"]
    assert api.delete(f"{CLAIMS}/{claim['token']}").status_code == 200
    assert _task(api, 1)["status"] == "in-progress"
    assert _claim(api, agent="bob")["task"]["id"] == 1  # claimable again


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (f"{CLAIMS}/abc", "token"),
        (f"{CLAIMS}/0", "token"),
        (f"{CLAIMS}/1?status=finished", "status"),
    ],
)
def test_a_bad_token_or_status_of_a_release_is_a_400(api: Api, path: str, field: str) -> None:
    api.add("t")
    _claim(api, agent="alice")
    before = api.tasks_file.read_bytes()
    target, _, query = path.partition("?")
    assert_problem(api.delete(target, query_string=query), 400, field=field)
    assert api.tasks_file.read_bytes() == before


def test_a_bad_token_of_a_renewal_is_a_400(api: Api) -> None:
    assert_problem(api.post(f"{CLAIMS}/x1/renew"), 400, field="token")


# listing -----------------------------------------------------------------------------------


def test_listing_shows_live_claims_and_with_all_the_ended_ones_too(api: Api) -> None:
    for title in ("a", "b", "c"):
        api.add(title)
    first = _claim(api, agent="alice")["claim"]
    second = _claim(api, agent="bob")["claim"]
    api.delete(f"{CLAIMS}/{first['token']}", params={"status": "done"})
    live = api.get(CLAIMS)
    assert live.status_code == 200
    assert live.headers["cache-control"] == "no-store"
    assert live.json["tag"] == "master"
    assert [(c["token"], c["agent"], c["state"]) for c in live.json["claims"]] == [
        (second["token"], "bob", "live")
    ]
    everything = api.get(CLAIMS, params={"all": "true"}).json["claims"]
    assert sorted((c["token"], c["state"]) for c in everything) == [
        (first["token"], "released"),
        (second["token"], "live"),
    ]
    assert_problem(api.get(CLAIMS, params={"all": "maybe"}), 400, field="all")


def test_a_claim_is_found_by_its_token_live_ended_or_in_another_tag(api: Api) -> None:
    api.add("a")
    api.post("/api/v1/tags", {"name": "feature"})
    api.post("/api/v1/tasks?tag=feature", {"title": "f"})
    claimed = api.post(CLAIMS, {"agent": "alice"})
    assert claimed.status_code == 201, claimed.text
    live = claimed.json
    # The Location a claim answers with is where it can be read.
    shown = api.get(claimed.headers["location"])
    assert shown.status_code == 200, shown.text
    assert shown.headers["cache-control"] == "no-store"
    assert (shown.json["token"], shown.json["agent"], shown.json["state"]) == (
        live["claim"]["token"],
        "alice",
        "live",
    )
    other = api.post(f"{CLAIMS}?tag=feature", {"agent": "bob"}).json["claim"]
    assert api.get(f"{CLAIMS}/{other['token']}").json["tag"] == "feature"
    api.delete(f"{CLAIMS}/{live['claim']['token']}", params={"status": "done"})
    assert api.get(f"{CLAIMS}/{live['claim']['token']}").json["state"] == "released"
    missing = assert_problem(api.get(f"{CLAIMS}/{other['token'] + 100}"), 404, kind="not-found")
    assert str(other["token"] + 100) in missing["detail"]
    assert_problem(api.get(f"{CLAIMS}/zero"), 400, field="token")


def test_claims_belong_to_their_tag(api: Api) -> None:
    api.post("/api/v1/tags", {"name": "feature"})
    api.post("/api/v1/tasks", {"title": "elsewhere", "tag": "feature"})
    assert api.post(CLAIMS, {"agent": "alice"}).json["claim"] is None  # master is empty
    result = api.post(CLAIMS, {"agent": "alice"}, params={"tag": "feature"})
    assert result.status_code == 201, result.text
    assert result.json["claim"]["tag"] == "feature"
    assert api.get(CLAIMS).json["claims"] == []
    listed = api.get(CLAIMS, params={"tag": "feature"}).json
    assert listed["tag"] == "feature" and len(listed["claims"]) == 1


# next, unclaimed ---------------------------------------------------------------------------


def test_next_unclaimed_skips_claimed_tasks_and_is_never_served_stale(api: Api) -> None:
    api.add("first", priority="high")
    api.add("second")
    assert api.get("/api/v1/tasks/next").json["id"] == 1
    assert api.get("/api/v1/tasks/next", params={"unclaimed": "true"}).json["id"] == 1
    _claim(api, agent="alice")
    unclaimed = api.get("/api/v1/tasks/next", params={"unclaimed": "true"})
    assert unclaimed.json["id"] == 2
    assert "etag" not in unclaimed.headers  # it changes when a lease runs out, without a write
    assert api.get("/api/v1/next", params={"unclaimed": "1"}).json["id"] == 2
    # Without `unclaimed`, the reference's choice: the claimed task, now in progress.
    assert api.get("/api/v1/tasks/next").json["id"] == 1
    _claim(api, agent="bob")
    assert api.get("/api/v1/tasks/next", params={"unclaimed": "true"}).json is None
    assert_problem(api.get("/api/v1/tasks/next", params={"unclaimed": "x"}), 400, field="unclaimed")


# the Claim-Token header --------------------------------------------------------------------


def test_a_write_with_the_live_claims_token_goes_through(api: Api) -> None:
    api.add("t")
    token = _claim(api, agent="alice")["claim"]["token"]
    headers = {"Claim-Token": str(token)}
    result = api.patch("/api/v1/tasks/1", {"details": "my work"}, headers=headers)
    assert result.status_code == 200, result.text
    assert _task(api, 1)["details"] == "my work"
    # A write naming no task needs the token live somewhere in the tag.
    added = api.post("/api/v1/tasks", {"title": "found while working"}, headers=headers)
    assert added.status_code == 201, added.text


def test_a_zombies_write_is_refused_with_claim_lost_and_changes_nothing(api: Api) -> None:
    api.add("t")
    zombie = _claim(api, agent="alice")["claim"]["token"]
    _expire(api, 1)  # alice was paused past her lease
    holder = _claim(api, agent="bob")["claim"]["token"]
    api.patch("/api/v1/tasks/1", {"details": "bob's work"}, headers={"Claim-Token": str(holder)})
    before = api.tasks_file.read_bytes()
    revision = api.core.revision()
    writes = [
        api.patch("/api/v1/tasks/1", {"details": "stale"}, headers={"Claim-Token": str(zombie)}),
        api.put("/api/v1/tasks/1/status", {"status": "done"}, headers={"Claim-Token": str(zombie)}),
        api.post("/api/v1/tasks", {"title": "x"}, headers={"Claim-Token": str(zombie)}),
        api.delete("/api/v1/tasks/1", headers={"Claim-Token": str(zombie)}),
    ]
    for result in writes:
        problem = assert_problem(result, 409, kind="claim-lost")
        assert problem["token"] == zombie
    assert "bob" in writes[0].json["detail"]
    assert writes[0].json["taskId"] == "1" and writes[0].json["holderToken"] == holder
    assert api.tasks_file.read_bytes() == before
    assert api.core.revision() == revision
    assert _task(api, 1)["details"] == "bob's work"


def test_a_token_of_another_task_is_refused(api: Api) -> None:
    api.add("mine")
    api.add("theirs")
    mine = _claim(api, agent="alice", id=1)["claim"]["token"]
    before = api.tasks_file.read_bytes()
    result = api.put(
        "/api/v1/tasks/2/status", {"status": "done"}, headers={"Claim-Token": str(mine)}
    )
    assert assert_problem(result, 409, kind="claim-lost")["taskId"] == "2"
    assert api.tasks_file.read_bytes() == before


@pytest.mark.parametrize("value", ["abc", "0", "-3", "1.5", "", "1 2"])
def test_a_bad_claim_token_header_is_a_400_naming_it(api: Api, value: str) -> None:
    api.add("t")
    before = api.tasks_file.read_bytes()
    result = api.put("/api/v1/tasks/1/status", {"status": "done"}, headers={"Claim-Token": value})
    assert_problem(result, 400, field="Claim-Token", kind="invalid-input")
    assert api.tasks_file.read_bytes() == before


def test_every_fenced_write_documents_the_claim_token_header_and_409() -> None:
    header = {"$ref": "#/components/parameters/ClaimToken"}
    spec = build_spec()
    fenced = 0
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "get":
                assert header not in operation.get("parameters", []), path
                continue
            if path == "/api/v1/generate":  # it writes markdown files, no task
                assert header not in operation["parameters"]
                continue
            assert header in operation["parameters"], (method, path)
            assert "409" in operation["responses"], (method, path)
            fenced += 1
    assert fenced >= 20
    assert spec["components"]["parameters"]["ClaimToken"]["name"] == "Claim-Token"
    problem = spec["components"]["schemas"]["Problem"]["properties"]
    assert {"agent", "token", "expiresAt", "taskId"} <= set(problem)
    assert "claim-held" in spec["components"]["responses"]["Problem409"]["description"]
    kinds = spec["components"]["schemas"]["Event"]["properties"]["kind"]["enum"]
    assert {"claim.created", "claim.renewed", "claim.released", "claim.expired"} <= set(kinds)


# the event stream, on a real server ----------------------------------------------------------


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[ApiServer, Project]]:
    project, _ = init_project(tmp_path)
    project.core.execute(AddTask(values={"title": "served"}))
    project.core.execute(AddTask(values={"title": "left over"}))
    server = ApiServer(project, Config(port=0, threads=4))
    thread = threading.Thread(target=server.run, name="api-server", daemon=True)
    thread.start()
    yield server, project
    server.stop()
    thread.join(timeout=10)
    project.close()


def _request(url: str, method: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.load(response)


def test_the_event_stream_carries_each_claim_event_with_the_claimed_id(
    served: tuple[ApiServer, Project],
) -> None:
    server, project = served
    host, port = server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", "/api/v1/events")
    stream = conn.getresponse()
    assert stream.status == 200

    status, answer = _request(f"{server.url}{CLAIMS}", "POST", {"agent": "alice", "id": 1})
    assert status == 201
    token = answer["claim"]["token"]
    _request(f"{server.url}{CLAIMS}/{token}/renew", "POST", {"lease": "1h"})
    _request(f"{server.url}{CLAIMS}/{token}?status=done", "DELETE")

    frames = [read_event(stream) for _ in range(3)]
    conn.close()
    kinds = [frame["event"] for frame in frames]
    assert kinds == ["claim.created", "claim.renewed", "claim.released"]
    for frame in frames:
        data = orjson.loads(frame["data"])
        assert data["kind"] == frame["event"]
        assert data["ids"] == ["1"] and data["tag"] == "master"
        assert int(frame["id"]) == data["revision"]
    revisions = [int(frame["id"]) for frame in frames]
    assert revisions == sorted(revisions) and revisions[-1] == project.core.revision()
