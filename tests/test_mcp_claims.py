"""Claims through `tm mcp`, end to end: the SDK's stdio client calls claim_task, renew_claim,
release_claim and list_claims on the installed server, and writes carry a `claimToken`; the
file is checked on disk. The server and the per-test project are those of test_mcp."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from test_mcp import READ_ONLY, McpServer, data, init_project, serve, tasks_file

# Writes that fence nothing: the claim tools name their claim by `token`, generate writes
# markdown files, no task, and undo names a revision (whatever task it changed).
UNFENCED = {"claim_task", "renew_claim", "release_claim", "generate", "undo"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[McpServer]:
    yield from serve(tmp_path_factory.mktemp("mcp-claims").resolve())


@pytest.fixture
def project(server: McpServer, request: pytest.FixtureRequest) -> Path:
    """A fresh project of this test's own, inside the allowed root."""
    return init_project(server.allowed / request.node.name)


def _task(root: Path, task_id: int) -> dict[str, Any]:
    task: dict[str, Any] = next(t for t in data(root)["master"]["tasks"] if t["id"] == task_id)
    return task


def _add(server: McpServer, root: str, *titles: str) -> None:
    for title in titles:
        server.ok("add_task", projectRoot=root, title=title)


def _expire(root: Path, task_id: int) -> None:
    """The task's lease ran out long ago, as time would make it (edited in the file: no test
    waits for a lease)."""
    document = data(root)
    task = next(t for t in document["master"]["tasks"] if t["id"] == task_id)
    task["metadata"]["claim"]["expiresAt"] = "2000-01-01T00:00:00.000Z"
    tasks_file(root).write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))


def test_every_write_tool_takes_a_claim_token_and_next_task_takes_unclaimed(
    server: McpServer,
) -> None:
    tools = {tool.name: tool for tool in server.portal.call(server.client.list_tools).tools}
    assert {"claim_task", "renew_claim", "release_claim", "list_claims"} <= set(tools)
    for name, tool in tools.items():
        properties = tool.input_schema["properties"]
        fenced = name not in READ_ONLY and name not in UNFENCED
        assert ("claimToken" in properties) == fenced, name
        if fenced:
            assert "claimToken" not in tool.input_schema.get("required", []), name
    assert "unclaimed" in tools["next_task"].input_schema["properties"]
    claim = tools["claim_task"].input_schema
    assert set(claim["required"]) == {"projectRoot", "agent"}
    assert {"id", "lease", "tag"} <= set(claim["properties"])
    assert set(tools["renew_claim"].input_schema["required"]) == {"projectRoot", "token"}
    assert "status" in tools["release_claim"].input_schema["properties"]
    assert "all" in tools["list_claims"].input_schema["properties"]


def test_claim_renew_release_and_list(server: McpServer, project: Path) -> None:
    root = str(project)
    _add(server, root, "first", "second")
    answer = server.ok("claim_task", projectRoot=root, agent="alice", lease="10m")
    claim = answer["claim"]
    assert answer["task"]["id"] == 1 and answer["task"]["status"] == "in-progress"
    assert (claim["id"], claim["agent"], claim["state"]) == ("1", "alice", "live")
    assert _task(project, 1)["metadata"]["claim"]["token"] == claim["token"]

    by_id = server.ok("claim_task", projectRoot=root, agent="bob", id=2, lease=120)
    assert by_id["task"]["id"] == 2 and by_id["claim"]["token"] > claim["token"]
    assert server.ok("claim_task", projectRoot=root, agent="carol") == {
        "task": None,
        "claim": None,
        "expired": [],
    }

    listed = server.ok("list_claims", projectRoot=root)
    assert listed["tag"] == "master"
    assert [(c["id"], c["agent"]) for c in listed["claims"]] == [("1", "alice"), ("2", "bob")]

    renewed = server.ok("renew_claim", projectRoot=root, token=claim["token"], lease="2h")
    assert renewed["expiresAt"] > claim["expiresAt"] and renewed["renewedAt"]
    assert _task(project, 1)["metadata"]["claim"]["expiresAt"] == renewed["expiresAt"]

    released = server.ok("release_claim", projectRoot=root, token=claim["token"], status="done")
    assert (released["state"], released["status"]) == ("released", "done")
    assert _task(project, 1)["status"] == "done"
    assert "claim" not in _task(project, 1)["metadata"]
    assert [c["id"] for c in server.ok("list_claims", projectRoot=root)["claims"]] == ["2"]
    everything = server.ok("list_claims", projectRoot=root, all=True)["claims"]
    assert sorted((c["id"], c["state"]) for c in everything) == [
        ("1", "released"),
        ("2", "live"),
    ]


def test_next_task_unclaimed_skips_claimed_tasks(server: McpServer, project: Path) -> None:
    root = str(project)
    _add(server, root, "first", "second")
    server.ok("claim_task", projectRoot=root, agent="alice")
    assert server.ok("next_task", projectRoot=root)["id"] == 1
    assert server.ok("next_task", projectRoot=root, unclaimed=True)["id"] == 2


def test_claiming_a_held_task_is_a_claim_held_error(server: McpServer, project: Path) -> None:
    root = str(project)
    _add(server, root, "contested")
    held = server.ok("claim_task", projectRoot=root, agent="alice", id="1")["claim"]
    before = tasks_file(project).read_bytes()
    message = server.error("claim_task", projectRoot=root, agent="bob", id="1")
    assert "claim-held: task 1 is claimed by 'alice'" in message, message
    assert "alice" in message and held["expiresAt"] in message
    assert tasks_file(project).read_bytes() == before


def test_renewing_or_releasing_a_dead_claim_is_a_claim_lost_error(
    server: McpServer, project: Path
) -> None:
    root = str(project)
    _add(server, root, "t", "u")
    first = server.ok("claim_task", projectRoot=root, agent="alice")["claim"]["token"]
    server.ok("release_claim", projectRoot=root, token=first)
    assert "claim-lost: " in server.error("release_claim", projectRoot=root, token=first)
    second = server.ok("claim_task", projectRoot=root, agent="alice", id=2)["claim"]["token"]
    _expire(project, 2)
    message = server.error("renew_claim", projectRoot=root, token=second)
    assert "claim-lost: " in message and "ran out" in message


def test_a_zombies_writes_are_refused_and_the_holders_work_stays(
    server: McpServer, project: Path
) -> None:
    root = str(project)
    _add(server, root, "t")
    server.ok("add_subtask", projectRoot=root, id="1", title="part")
    zombie = server.ok("claim_task", projectRoot=root, agent="alice")["claim"]["token"]
    _expire(project, 1)  # alice was paused past her lease
    answer = server.ok("claim_task", projectRoot=root, agent="bob", id="1")
    holder = answer["claim"]["token"]
    assert [c["token"] for c in answer["expired"]] == [zombie]
    server.ok("update_task", projectRoot=root, id="1", details="bob's work", claimToken=holder)
    before = tasks_file(project).read_bytes()
    refused = [
        server.error("update_task", projectRoot=root, id="1", details="x", claimToken=zombie),
        server.error("set_task_status", projectRoot=root, id="1", status="done", claimToken=zombie),
        server.error("add_subtask", projectRoot=root, id="1", title="y", claimToken=zombie),
        server.error(
            "update_subtask", projectRoot=root, id="1.1", prompt="note", claimToken=zombie
        ),
        server.error("remove_task", projectRoot=root, id="1", claimToken=zombie),
        server.error("add_task", projectRoot=root, title="z", claimToken=zombie),
    ]
    for message in refused:
        assert "claim-lost: " in message, message
    assert "bob" in refused[0]
    assert tasks_file(project).read_bytes() == before
    assert _task(project, 1)["details"] == "bob's work"
    # The holder's token is live: its writes go through.
    done = server.ok(
        "set_task_status", projectRoot=root, id="1.1", status="done", claimToken=holder
    )
    assert done[0]["status"] == "done"


@pytest.mark.parametrize("token", [0, -4, "abc"])
def test_a_bad_claim_token_is_refused_by_name(
    server: McpServer, project: Path, token: object
) -> None:
    root = str(project)
    _add(server, root, "t")
    before = tasks_file(project).read_bytes()
    message = server.error(
        "set_task_status", projectRoot=root, id="1", status="done", claimToken=token
    )
    assert "claimToken" in message
    assert tasks_file(project).read_bytes() == before


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        ({}, "agent"),
        ({"agent": " "}, "agent"),
        ({"agent": "alice", "lease": "forever"}, "lease"),
        ({"agent": "alice", "lease": "9d"}, "lease"),
        ({"agent": "alice", "ttl": 5}, "ttl"),
    ],
)
def test_a_bad_claim_call_is_a_tool_error_naming_the_argument(
    server: McpServer, project: Path, arguments: dict[str, Any], named: str
) -> None:
    root = str(project)
    _add(server, root, "t")
    before = tasks_file(project).read_bytes()
    assert named in server.error("claim_task", projectRoot=root, **arguments)
    assert tasks_file(project).read_bytes() == before
