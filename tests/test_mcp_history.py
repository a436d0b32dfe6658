"""The change journal through `tm mcp`, end to end: the SDK's stdio client (named "agent-7"
in its client info) writes, reads the history with get_history and takes changes back with
undo on the installed server; the task file is checked on disk. The compact form of an entry
is checked directly (`compact`, `change_line`) for the places a change can name.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp.types import Implementation
from test_mcp import McpServer, data, init_project, serve, tasks_file

from taskmaster.mcp.history import SHOWN, change_line, compact

CLIENT = "agent-7"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[McpServer]:
    base = tmp_path_factory.mktemp("mcp-history").resolve()
    yield from serve(base, client_info=Implementation(name=CLIENT, version="1.0"))


@pytest.fixture
def project(server: McpServer, request: pytest.FixtureRequest) -> Path:
    """A fresh project of this test's own, inside the allowed root."""
    return init_project(server.allowed / request.node.name)


def history(server: McpServer, root: Path, **arguments: Any) -> dict[str, Any]:
    answer: dict[str, Any] = server.ok("get_history", projectRoot=str(root), **arguments)
    return answer


def status_of(root: Path, task_id: int) -> str:
    task = next(t for t in data(root)["master"]["tasks"] if t["id"] == task_id)
    return str(task["status"])


# who writes ---------------------------------------------------------------------------------


def test_writes_are_journaled_with_the_clients_name_via_mcp(
    server: McpServer, project: Path
) -> None:
    root = str(project)
    server.ok("add_task", projectRoot=root, title="one")
    server.ok("set_task_status", projectRoot=root, id="1", status="done")
    found = history(server, project, full=True)["entries"]
    assert [(e["actor"], e["via"], e["command"]) for e in found] == [
        (CLIENT, "mcp", "add-task"),
        (CLIENT, "mcp", "set-status"),
    ]
    status = {"tag": "master", "id": "1", "field": "status", "before": "pending", "after": "done"}
    assert status in found[1]["changes"]


def test_a_fenced_write_is_the_claims_agents(server: McpServer, project: Path) -> None:
    root = str(project)
    server.ok("add_task", projectRoot=root, title="one")
    token = server.ok("claim_task", projectRoot=root, agent="worker-3", id="1")["claim"]["token"]
    server.ok("update_task", projectRoot=root, id="1", title="mine", claimToken=token)
    actors = [(e["actor"], e["command"]) for e in history(server, project)["entries"]]
    assert actors == [(CLIENT, "add-task"), (CLIENT, "claim-task"), ("worker-3", "update-task")]


def test_a_client_on_the_initialize_handshake_is_named_too(tmp_path: Path) -> None:
    """The legacy handshake (an `initialize` request) carries the name the same way."""
    stack = serve(
        tmp_path.resolve(),
        client_info=Implementation(name="legacy-agent", version="0.1"),
        mode="legacy",
    )
    legacy = next(stack)
    try:
        root = str(legacy.main)
        legacy.ok("add_task", projectRoot=root, title="one")
        entry = legacy.ok("get_history", projectRoot=root)["entries"][0]
        assert (entry["actor"], entry["via"]) == ("legacy-agent", "mcp")
    finally:
        next(stack, None)


# get_history --------------------------------------------------------------------------------


def _seed(server: McpServer, root: str) -> None:
    server.ok("add_task", projectRoot=root, title="one")
    server.ok("add_task", projectRoot=root, title="two")
    server.ok("add_subtask", projectRoot=root, id="1", title="child")
    server.ok("set_task_status", projectRoot=root, id="1.1", status="done")
    server.ok("add_tag", projectRoot=root, name="feature")
    server.ok("add_task", projectRoot=root, title="f", tag="feature")
    server.ok("remove_task", projectRoot=root, id="2")


def test_entries_are_compact_by_default_one_line_per_change(
    server: McpServer, project: Path
) -> None:
    _seed(server, str(project))
    answer = history(server, project)
    assert answer["nextSince"] is None
    found = answer["entries"]
    assert answer["revision"] == found[-1]["revision"]
    assert [e["command"] for e in found] == [
        "add-task",
        "add-task",
        "add-subtask",
        "set-status",
        "add-tag",
        "add-task",
        "remove-task",
    ]
    assert found[0]["changes"] == ['+ task 1 "one"']
    assert found[2]["changes"] == ['+ subtask 1.1 "child"']
    assert '1.1 status: "pending" -> "done"' in found[3]["changes"]
    assert found[4]["changes"] == ["+ tag feature"]
    assert found[6]["changes"] == ['- task 2 "two"']
    assert all("events" not in e and e["actor"] == CLIENT for e in found)
    # full: the entries as stored, whole values and the stamps included
    full = history(server, project, full=True)["entries"]
    assert [e["revision"] for e in full] == [e["revision"] for e in found]
    assert any(c["field"] == "metadata.updated" for c in full[3]["changes"])
    assert full[6]["changes"][-1]["before"]["title"] == "two"


def test_filters_and_pages(server: McpServer, project: Path) -> None:
    _seed(server, str(project))
    everything = history(server, project, full=True)["entries"]
    revisions = [e["revision"] for e in everything]

    def commands(**arguments: Any) -> list[str]:
        return [e["command"] for e in history(server, project, **arguments)["entries"]]

    assert commands(id="1", tag="master") == ["add-task", "add-subtask", "set-status"]
    assert commands(id=2) == ["add-task", "remove-task"]
    assert commands(tag="feature") == ["add-tag", "add-task"]
    assert commands(actor=CLIENT) == [e["command"] for e in everything]
    assert commands(actor="someone-else") == []
    assert commands(since=revisions[4]) == ["add-task", "remove-task"]
    seen: list[int] = []
    since = 0
    pages = 0
    while True:
        page = history(server, project, since=since, limit=3)
        seen += [e["revision"] for e in page["entries"]]
        pages += 1
        if page["nextSince"] is None:
            break
        since = page["nextSince"]
    assert seen == revisions and pages == 3


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ({"limit": 0}, "'limit'"),
        ({"limit": 1001}, "'limit'"),
        ({"since": -1}, "'since'"),
        ({"since": "soon"}, "'since'"),
        ({"id": "one"}, "invalid"),
        ({"tag": "no such/tag"}, "invalid tag name"),
        ({"fromRevision": 1}, "get_history has no argument 'fromRevision'"),
    ],
)
def test_bad_history_arguments_are_tool_errors(
    server: McpServer, project: Path, arguments: dict[str, Any], words: str
) -> None:
    assert words in server.error("get_history", projectRoot=str(project), **arguments)


# undo ---------------------------------------------------------------------------------------


def test_undo_restores_and_is_journaled_as_an_undo(server: McpServer, project: Path) -> None:
    root = str(project)
    server.ok("add_task", projectRoot=root, title="one")
    server.ok("set_task_status", projectRoot=root, id="1", status="done")
    done = history(server, project)["entries"][-1]["revision"]
    answer = server.ok("undo", projectRoot=root, revision=done)
    assert answer == {"undone": done, "command": "set-status", "changes": 2, "ids": ["1"]}
    assert status_of(project, 1) == "pending"
    last = history(server, project)["entries"][-1]
    assert (last["kind"], last["undoes"], last["actor"], last["via"]) == (
        "undo",
        done,
        CLIENT,
        "mcp",
    )
    assert last["changes"] == ['1 status: "done" -> "pending"']


def test_undo_refused_and_not_found_are_named_and_change_nothing(
    server: McpServer, project: Path
) -> None:
    root = str(project)
    server.ok("add_task", projectRoot=root, title="one")
    server.ok("set_task_status", projectRoot=root, id="1", status="done")
    server.ok("set_task_status", projectRoot=root, id="1", status="review")
    _, first, second = (e["revision"] for e in history(server, project)["entries"])
    before = tasks_file(project).read_bytes()
    message = server.error("undo", projectRoot=root, revision=first)
    assert f"undo-refused: cannot undo revision {first}: " in message
    assert str(second) in message
    missing = server.error("undo", projectRoot=root, revision=second + 1)
    assert f"entry-not-found: no journal entry for revision {second + 1}" in missing
    for bad in (0, "x", None):
        assert "'revision'" in server.error("undo", projectRoot=root, revision=bad), bad
    assert "'revision' is required" in server.error("undo", projectRoot=root)
    assert tasks_file(project).read_bytes() == before
    assert status_of(project, 1) == "review"


def test_a_directory_in_place_of_the_task_file_is_a_tool_error(
    server: McpServer, project: Path
) -> None:
    root = str(project)
    server.ok("add_task", projectRoot=root, title="one")
    revision = history(server, project)["revision"]
    tasks_file(project).unlink()
    tasks_file(project).mkdir()
    assert "Is a directory" in server.error("get_history", projectRoot=root)
    assert "Is a directory" in server.error("undo", projectRoot=root, revision=revision)
    assert tasks_file(project).is_dir() and not any(tasks_file(project).iterdir())


def test_the_tools_are_described(server: McpServer) -> None:
    tools = {tool.name: tool for tool in server.portal.call(server.client.list_tools).tools}
    listing, undo = tools["get_history"], tools["undo"]
    assert listing.annotations is not None and listing.annotations.read_only_hint
    assert undo.annotations is not None and undo.annotations.destructive_hint
    assert set(listing.input_schema["properties"]) == {
        "projectRoot",
        "id",
        "since",
        "actor",
        "tag",
        "limit",
        "full",
        "file",
    }
    assert undo.input_schema["required"] == ["projectRoot", "revision"]


# the compact form -------------------------------------------------------------------------


def test_change_lines_name_every_kind_of_place() -> None:
    assert change_line(
        {"tag": None, "id": None, "field": "currentTag", "before": "master", "after": "x"}
    ) == ('current tag: "master" -> "x"')
    assert (
        change_line({"tag": "x", "id": None, "field": None, "before": {"tasks": []}}) == "- tag x"
    )
    assert change_line(
        {"tag": "x", "id": None, "field": "#order", "before": [1, 2], "after": [2, 1]}
    ) == ("tag x order: [1, 2] -> [2, 1]")
    assert change_line({"tag": "x", "id": None, "field": "description", "after": "d"}) == (
        'tag x description: (none) -> "d"'
    )
    assert change_line({"tag": "x", "id": "3", "field": "details", "before": "a"}) == (
        '3 details: "a" -> (none)'
    )
    long = change_line(
        {"tag": "x", "id": "3", "field": "details", "before": "", "after": "y" * 500}
    )
    assert long.startswith('3 details: "" -> "yyy') and long.endswith("...")
    assert len(long) == len('3 details: "" -> ') + SHOWN


def test_compact_keeps_who_and_what_and_leaves_out_stamps_and_events() -> None:
    entry = {
        "revision": 9,
        "time": "2026-01-01T00:00:00.000Z",
        "actor": "a",
        "via": "mcp",
        "kind": "command",
        "command": "update-task",
        "args": {"id": "3", "details": "z" * 200},
        "tag": "master",
        "ids": ["3"],
        "events": [["task.updated", ["3"]]],
        "changes": [
            {
                "tag": "master",
                "id": None,
                "field": "metadata.updated",
                "before": "t0",
                "after": "t1",
            },
            {"tag": "master", "id": "3", "field": "title", "before": "a", "after": "b"},
        ],
    }
    shown = compact(entry)
    assert shown == {
        "revision": 9,
        "time": "2026-01-01T00:00:00.000Z",
        "actor": "a",
        "via": "mcp",
        "kind": "command",
        "command": "update-task",
        "args": {"id": "3", "details": "z" * (SHOWN - 3) + "..."},
        "tag": "master",
        "ids": ["3"],
        "changes": ['3 title: "a" -> "b"'],
    }


def test_a_call_without_a_client_name_writes_as_the_facades_actor(tmp_path: Path) -> None:
    """The SDK's clients always send a name; a call that has none (no request behind it, or
    a client that sent no client info) falls back to the actor the facade was opened with."""
    from taskmaster.compose import Settings, init_project
    from taskmaster.journal.entry import Origin
    from taskmaster.mcp.toolkit import CLIENT_NAME, caller, client_name

    project, _ = init_project(tmp_path, Settings(origin=Origin("ops@host", "cli")))
    try:
        assert client_name(None) is None
        assert caller(project.core) == Origin("ops@host", "mcp")
        named = CLIENT_NAME.set("cursor")
        try:
            assert caller(project.core) == Origin("cursor", "mcp")
        finally:
            CLIENT_NAME.reset(named)
    finally:
        project.close()


def test_a_compact_external_entry_lists_what_it_reverted() -> None:
    entry = {
        "revision": 9,
        "kind": "external",
        "changes": [{"tag": "master", "id": "5", "field": "title", "before": "b", "after": "a"}],
        "reverts": [
            {"revision": 7, "tag": "master", "id": "5", "field": "title"},
            {"revision": 8, "tag": "master", "id": "6", "field": None},
        ],
    }
    assert compact(entry)["reverts"] == [
        "reverted revision 7: 5 title",
        "reverted revision 8: task 6",
    ]
    assert "reverts" not in compact({**entry, "reverts": []})
