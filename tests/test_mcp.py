"""`tm mcp` end to end: the SDK's own stdio client starts the installed `tm mcp` and calls
every tool, then the file is checked on disk.

One server per module (per xdist worker): it serves `main` and any project inside `allowed/`,
so each test makes its own project there and no test sees another's tasks. The client runs on
an event loop in a background thread (an anyio blocking portal), which keeps the tests plain
synchronous functions.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import orjson
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from click.testing import CliRunner
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.types import CallToolResult

from harness.targets import tm_executable
from taskmaster import paging
from taskmaster.cli import cli
from taskmaster.commands import AddTask
from taskmaster.compose import init_project as init_files
from taskmaster.compose import open_project

TOOLS = {
    "get_tasks",
    "get_task",
    "next_task",
    "set_task_status",
    "add_task",
    "update_task",
    "add_subtask",
    "update_subtask",
    "remove_task",
    "remove_subtask",
    "clear_subtasks",
    "move_task",
    "add_dependency",
    "remove_dependency",
    "validate_dependencies",
    "fix_dependencies",
    "list_tags",
    "add_tag",
    "delete_tag",
    "use_tag",
    "rename_tag",
    "copy_tag",
    "generate",
    "export_tasks",
    "claim_task",
    "renew_claim",
    "release_claim",
    "list_claims",
    "get_history",
    "undo",
    "doctor",
}
TAG_TOOLS = {"list_tags", "add_tag", "delete_tag", "use_tag", "rename_tag", "copy_tag"}
READ_ONLY = {
    "get_tasks",
    "get_task",
    "next_task",
    "validate_dependencies",
    "list_tags",
    "export_tasks",
    "list_claims",
    "get_history",
    "doctor",
}
# Their claim's token names the task (and so its tag).
BY_TOKEN = {"renew_claim", "release_claim"}


class McpServer:
    """A running `tm mcp` and a connected client; `call`, `ok` and `error` are synchronous."""

    def __init__(self, portal: BlockingPortal, client: Client, base: Path, log: Path) -> None:
        self.portal = portal
        self.client = client
        self.base = base
        self.main = base / "main"
        self.allowed = base / "allowed"
        self.outside = base / "outside"
        self.log = log

    # Positional-only: several tools have an argument called `name`.
    def call(self, tool: str, /, **arguments: Any) -> CallToolResult:
        return self.portal.call(self.client.call_tool, tool, arguments)

    def ok(self, tool: str, /, **arguments: Any) -> Any:
        result = self.call(tool, **arguments)
        text = result.content[0].text if result.content else ""
        assert not result.is_error, (tool, text)
        return orjson.loads(text)

    def error(self, tool: str, /, **arguments: Any) -> str:
        result = self.call(tool, **arguments)
        assert result.is_error, (tool, result)
        return result.content[0].text


def init_project(path: Path) -> Path:
    project, _ = init_files(path)
    project.close()
    return path


def tasks_file(root: Path) -> Path:
    return root / ".taskmaster" / "tasks.json"


def data(root: Path) -> Any:
    return orjson.loads(tasks_file(root).read_bytes())


def task_ids(root: Path, tag: str = "master") -> list[int]:
    return [task["id"] for task in data(root)[tag]["tasks"]]


def tm(root: Path, *args: str) -> str:
    """A real `tm` process: "another program" changing the file behind the server's back."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("TM_")}
    proc = subprocess.run(
        [tm_executable(), "--project", str(root), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[McpServer]:
    yield from serve(tmp_path_factory.mktemp("mcp").resolve())


def serve(base: Path, **client_options: Any) -> Iterator[McpServer]:
    """Start `tm mcp` over `base` (main/, allowed/, outside/) and connect (`client_options`
    go to the SDK's `Client`: its `client_info`, its `mode`); on the way out, check its log
    for crashes. Other modules build their server fixture on it."""
    init_project(base / "main")
    (base / "allowed").mkdir()
    init_project(base / "outside")
    log = base / "server.log"
    params = StdioServerParameters(
        command=tm_executable(),
        args=["--project", str(base / "main"), "mcp", "--allow-root", str(base / "allowed")],
        cwd=str(base),
    )
    with ExitStack() as stack:
        errlog = stack.enter_context(log.open("w"))
        portal = stack.enter_context(start_blocking_portal())
        client = stack.enter_context(
            portal.wrap_async_context_manager(
                Client(
                    stdio_client(params, errlog=errlog),
                    read_timeout_seconds=60,
                    **client_options,
                )
            )
        )
        yield McpServer(portal, client, base, log)
    # Tool errors are answers; nothing any test did may have crashed a tool.
    text = log.read_text()
    assert "Traceback" not in text and "unexpected exception" not in text, text


@pytest.fixture
def project(server: McpServer, request: pytest.FixtureRequest) -> Path:
    """A fresh project of this test's own, inside the allowed root."""
    return init_project(server.allowed / request.node.name)


# the tools ---------------------------------------------------------------------------------------


def test_every_tool_is_listed_with_described_parameters(server: McpServer) -> None:
    tools = {tool.name: tool for tool in server.portal.call(server.client.list_tools).tools}
    assert set(tools) == TOOLS
    for name, tool in tools.items():
        schema = tool.input_schema
        assert tool.description, name
        assert "projectRoot" in schema["required"], name
        # export_tasks and doctor cover every tag at once; undo names a revision, whatever its tag
        untagged = {*TAG_TOOLS, *BY_TOKEN, "export_tasks", "undo", "doctor"}
        assert ("tag" in schema["properties"]) == (name not in untagged), name
        for prop, spec in schema["properties"].items():
            assert len(spec.get("description", "")) >= 8, (name, prop)
        assert tool.annotations is not None
        assert bool(tool.annotations.read_only_hint) == (name in READ_ONLY), name
    assert set(tools["set_task_status"].input_schema["properties"]["status"]["enum"]) >= {
        "pending",
        "done",
    }
    optional = tools["update_task"].input_schema["properties"]["priority"]["anyOf"]
    assert {"type": "string", "enum": ["low", "medium", "high", "critical"]} in optional
    assert {"type": "null"} in optional
    assert {"from", "to", "toTag"} <= set(tools["move_task"].input_schema["properties"])
    assert "all" in tools["clear_subtasks"].input_schema["properties"]


def test_task_tools(server: McpServer, project: Path) -> None:
    root = str(project)
    first = server.ok("add_task", projectRoot=root, title="Set up CI", priority="high")
    assert (first["id"], first["status"], first["priority"]) == (1, "pending", "high")
    second = server.ok("add_task", projectRoot=root, prompt="Write the   docs\nsoon")
    assert (second["id"], second["title"]) == (2, "Write the docs soon")
    third = server.ok(
        "add_task", projectRoot=root, title="Ship", dependencies=[1, 2], testStrategy="Smoke"
    )
    assert third["dependencies"] == [1, 2]
    assert task_ids(project) == [1, 2, 3]

    listed = server.ok("get_tasks", projectRoot=root)
    assert listed["tag"] == "master" and [t["id"] for t in listed["tasks"]] == [1, 2, 3]
    assert all("subtasks" not in task for task in listed["tasks"])
    assert server.ok("get_tasks", projectRoot=root, status="done")["tasks"] == []
    ready = server.ok("get_tasks", projectRoot=root, ready=True, withSubtasks=True)
    assert [t["id"] for t in ready["tasks"]] == [1, 2] and "subtasks" in ready["tasks"][0]
    assert server.ok("next_task", projectRoot=root)["id"] == 1

    changed = server.ok("set_task_status", projectRoot=root, id="1,2", status="done")
    assert [item["id"] for item in changed] == [1, 2]
    assert [t["status"] for t in data(project)["master"]["tasks"]] == ["done", "done", "pending"]
    assert server.ok("get_task", projectRoot=root, id=1)["status"] == "done"
    assert [t["id"] for t in server.ok("get_task", projectRoot=root, id="3,1")] == [3, 1]
    assert server.ok("next_task", projectRoot=root)["id"] == 3

    updated = server.ok(
        "update_task", projectRoot=root, id="3", title="Ship it", details="Tag v1", priority="low"
    )
    assert (updated["title"], updated["details"], updated["priority"]) == (
        "Ship it",
        "Tag v1",
        "low",
    )
    assert data(project)["master"]["tasks"][2]["testStrategy"] == "Smoke"  # not given: kept
    assert "no AI model" in server.error("update_task", projectRoot=root, id="3", prompt="x")
    assert "nothing to update" in server.error("update_task", projectRoot=root, id="3")

    removed = server.ok("remove_task", projectRoot=root, id="2")
    assert [item["id"] for item in removed] == [2]
    assert task_ids(project) == [1, 3]
    assert data(project)["master"]["tasks"][1]["dependencies"] == [1]
    assert server.ok("set_task_status", projectRoot=root, id="3", status="done")
    assert server.ok("next_task", projectRoot=root) is None


def test_get_tasks_pages_and_projects(server: McpServer, project: Path) -> None:
    root = str(project)
    for title in ("A", "B", "C"):
        server.ok("add_task", projectRoot=root, title=title)
    first = server.ok("get_tasks", projectRoot=root, limit=2, fields="id,title")
    assert first["tasks"] == [{"id": 1, "title": "A"}, {"id": 2, "title": "B"}]
    last = server.ok("get_tasks", projectRoot=root, limit=2, cursor=first["nextCursor"])
    assert [t["id"] for t in last["tasks"]] == [3]
    assert (last["nextCursor"], last["changed"]) == (None, False)
    assert "valid fields" in server.error("get_tasks", projectRoot=root, fields="colour")
    assert "cursor" in server.error("get_tasks", projectRoot=root, cursor="garbage!")
    assert "limit" in server.error("get_tasks", projectRoot=root, limit=0)


def test_get_tasks_of_a_big_tag_fits_an_agents_answer_cap(server: McpServer, project: Path) -> None:
    """At 10,000 tasks the whole list is megabytes (claude-task-master #1137: a 41,539-token
    answer over a client's 25,000-token cap); without a limit the answer is cut to fit, says
    so, and its cursor reads on through every task once."""
    from benchmarks.data import synthetic_document

    tasks_file(project).write_bytes(synthetic_document(10_000).to_json())
    root = str(project)
    full = server.call("get_tasks", projectRoot=root, limit=10_000).content[0].text
    assert len(full) > 20 * paging.ANSWER_BUDGET_CHARS  # what a naive answer would be
    seen: list[int] = []
    cursor = None
    for _ in range(100):
        arguments = {"projectRoot": root} | ({"cursor": cursor} if cursor else {})
        result = server.call("get_tasks", **arguments)
        text = result.content[0].text
        assert not result.is_error and len(text) <= paging.ANSWER_BUDGET_CHARS
        page = orjson.loads(text)
        assert page["truncated"]["fields"] == list(paging.COMPACT_FIELDS)
        assert set(page["tasks"][0]) <= set(paging.COMPACT_FIELDS)
        seen += [task["id"] for task in page["tasks"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == list(range(1, 10_001))  # every task once, in order
    assert page["changed"] is False
    small = server.ok("get_tasks", projectRoot=root, status="done")  # fits: untouched
    assert "truncated" not in small


def test_subtask_tools(server: McpServer, project: Path) -> None:
    root = str(project)
    for title in ("Parent", "Other", "Becomes a subtask"):
        server.ok("add_task", projectRoot=root, title=title)
    first = server.ok("add_subtask", projectRoot=root, id="1", title="Schema")
    assert (first["id"], first["parentId"]) == ("1.1", 1)
    second = server.ok(
        "add_subtask", projectRoot=root, id=1, title="Migrate", dependencies="1", status="done"
    )
    assert second["id"] == "1.2"
    subs = data(project)["master"]["tasks"][0]["subtasks"]
    assert subs[1]["dependencies"] == [1]  # a bare number is the sibling 1.1
    converted = server.ok("add_subtask", projectRoot=root, id="1", taskId="3")
    assert converted["id"] == "1.3" and converted["title"] == "Becomes a subtask"
    assert task_ids(project) == [1, 2]
    assert "title" in server.error("add_subtask", projectRoot=root, id="1")
    both = server.error("add_subtask", projectRoot=root, id="1", taskId="2", title="x")
    assert "not both" in both

    shown = server.ok("get_task", projectRoot=root, id="1", status="done")
    assert [sub["id"] for sub in shown["subtasks"]] == [2]
    assert server.ok("get_task", projectRoot=root, id="1.2")["parentId"] == 1

    promoted = server.ok("remove_subtask", projectRoot=root, id="1.3", convert=True)
    assert promoted[0]["title"] == "Becomes a subtask"
    assert len(task_ids(project)) == 3
    removed = server.ok("remove_subtask", projectRoot=root, id="1.2")
    assert removed[0]["id"] == "1.2"
    assert [s["id"] for s in data(project)["master"]["tasks"][0]["subtasks"]] == [1]

    server.ok("add_subtask", projectRoot=root, id="2", title="Second's own")
    assert "either id" in server.error("clear_subtasks", projectRoot=root)
    assert "either id" in server.error("clear_subtasks", projectRoot=root, id="1", all=True)
    cleared = server.ok("clear_subtasks", projectRoot=root, id="1")
    assert [task["id"] for task in cleared] == [1]
    assert data(project)["master"]["tasks"][1]["subtasks"]  # task 2 untouched
    assert [task["id"] for task in server.ok("clear_subtasks", projectRoot=root, all=True)] == [2]
    assert all(not t.get("subtasks") for t in data(project)["master"]["tasks"])


def test_update_subtask_appends_a_timestamped_note(server: McpServer, project: Path) -> None:
    root = str(project)
    server.ok("add_task", projectRoot=root, title="Parent")
    server.ok("add_subtask", projectRoot=root, id="1", title="Child", details="First idea")
    sub = server.ok("update_subtask", projectRoot=root, id="1.1", prompt="  Use the cache  ")
    assert sub["id"] == "1.1"
    stored = data(project)["master"]["tasks"][0]["subtasks"][0]["details"]
    assert re.fullmatch(
        r"First idea\n<info added on (\S+)>\nUse the cache\n</info added on \1>", stored
    ), stored
    assert "subtask id" in server.error("update_subtask", projectRoot=root, id="1", prompt="x")
    assert "empty" in server.error("update_subtask", projectRoot=root, id="1.1", prompt=" ")


def test_dependency_and_move_tools(server: McpServer, project: Path) -> None:
    root = str(project)
    for title in ("One", "Two", "Three"):
        server.ok("add_task", projectRoot=root, title=title)
    assert server.ok("add_dependency", projectRoot=root, id="2", dependsOn=1)["dependencies"] == [1]
    assert "cycle" in server.error("add_dependency", projectRoot=root, id="1", dependsOn="2")
    assert (
        server.ok("remove_dependency", projectRoot=root, id="2", dependsOn="1")["dependencies"]
        == []
    )
    server.ok("add_subtask", projectRoot=root, id="3", title="a")
    server.ok("add_subtask", projectRoot=root, id="3", title="b")
    sub = server.ok("add_dependency", projectRoot=root, id="3.2", dependsOn="1")
    assert sub["dependencies"] == [1]  # in a subtask: the sibling 3.1, stored as a bare number
    assert server.ok("validate_dependencies", projectRoot=root) == {
        "tag": "master",
        "valid": True,
        "issues": [],
    }

    # A dangling dependency written by some other tool.
    document = data(project)
    document["master"]["tasks"][0]["dependencies"] = [99]
    tasks_file(project).write_bytes(orjson.dumps(document))
    report = server.ok("validate_dependencies", projectRoot=root)
    assert report["valid"] is False and report["issues"][0]["dependency"] == "99"
    fixed = server.ok("fix_dependencies", projectRoot=root)
    assert fixed["tag"] == "master" and fixed["fixed"][0]["item"] == "1"
    assert data(project)["master"]["tasks"][0]["dependencies"] == []

    moved = server.ok("move_task", projectRoot=root, **{"from": "2", "to": "7"})
    assert moved[0]["id"] == 7 and task_ids(project) == [1, 3, 7]
    assert "missing 'to'" in server.error("move_task", projectRoot=root, **{"from": "7"})
    placed = server.ok("move_task", projectRoot=root, before="1", **{"from": "7"})
    assert placed["id"] == 7 and task_ids(project) == [7, 1, 3]
    assert "one 'from' id" in server.error(
        "move_task", projectRoot=root, before="1", **{"from": "3,7"}
    )
    server.ok("add_tag", projectRoot=root, name="later")
    across = server.ok("move_task", projectRoot=root, toTag="later", **{"from": "7"})
    assert across[0]["title"] == "Two"
    assert task_ids(project) == [1, 3] and task_ids(project, "later") == [across[0]["id"]]
    server.ok("add_dependency", projectRoot=root, id="3", dependsOn="1")
    cut = server.error("move_task", projectRoot=root, toTag="later", **{"from": "3"})
    assert "(withDependencies or ignoreDependencies)" in cut
    assert "not both" in server.error(
        "move_task",
        projectRoot=root,
        toTag="later",
        withDependencies=True,
        ignoreDependencies=True,
        **{"from": "1"},
    )


def test_tag_tools(server: McpServer, project: Path) -> None:
    root = str(project)
    state = project / ".taskmaster" / "state.json"
    server.ok("add_task", projectRoot=root, title="On master")
    info = server.ok("add_tag", projectRoot=root, name="feature", description="The feature")
    assert (info["name"], info["taskCount"]) == ("feature", 0)
    copied = server.ok("add_tag", projectRoot=root, name="snapshot", copyFromCurrent=True)
    assert copied["taskCount"] == 1
    listed = server.ok("list_tags", projectRoot=root)
    assert [t["name"] for t in listed] == ["master", "feature", "snapshot"]
    assert "metadata" not in listed[0] and listed[0]["current"] is True
    with_meta = server.ok("list_tags", projectRoot=root, showMetadata=True)
    assert with_meta[1]["metadata"]["description"] == "The feature"

    assert server.ok("use_tag", projectRoot=root, name="feature")["current"] is True
    assert orjson.loads(state.read_bytes())["currentTag"] == "feature"
    server.ok("add_task", projectRoot=root, title="On feature")  # no tag: the current one
    assert server.ok("get_tasks", projectRoot=root)["tag"] == "feature"
    assert task_ids(project, "feature") == [1]
    assert server.ok("get_tasks", projectRoot=root, tag="master")["tasks"][0]["title"] == (
        "On master"
    )

    renamed = server.ok("rename_tag", projectRoot=root, oldName="feature", newName="feat")
    assert (renamed["name"], renamed["taskCount"]) == ("feat", 1)
    assert orjson.loads(state.read_bytes())["currentTag"] == "feat"  # the current tag follows
    copy = server.ok(
        "copy_tag", projectRoot=root, sourceName="feat", targetName="feat-copy", description="c"
    )
    assert (copy["name"], copy["taskCount"], copy["metadata"]["description"]) == (
        "feat-copy",
        1,
        "c",
    )
    deleted = server.ok("delete_tag", projectRoot=root, name="feat")
    assert deleted["name"] == "feat"
    assert orjson.loads(state.read_bytes())["currentTag"] == "master"
    assert set(data(project)) == {"master", "snapshot", "feat-copy"}
    assert "cannot be deleted" in server.error("delete_tag", projectRoot=root, name="master")
    assert "does not exist" in server.error("use_tag", projectRoot=root, name="nope")
    assert "not both" in server.error(
        "add_tag", projectRoot=root, name="x", copyFromCurrent=True, copyFromTag="master"
    )


def test_generate(server: McpServer, project: Path) -> None:
    root = str(project)
    server.ok("add_task", projectRoot=root, title="Document me")
    result = server.ok("generate", projectRoot=root)
    assert result["files"] == [str(project / ".taskmaster" / "tasks" / "task_001.md")]
    assert "Document me" in Path(result["files"][0]).read_text()
    inside = server.ok("generate", projectRoot=root, output="docs/tasks")
    assert inside["outputDir"] == str(project / "docs" / "tasks")
    assert (project / "docs" / "tasks" / "task_001.md").exists()
    message = server.error("generate", projectRoot=root, output="../escaped")
    assert "outside the project" in message
    assert not (project.parent / "escaped").exists()


def test_the_server_project_is_served_directly_and_through_a_symlink(server: McpServer) -> None:
    root = server.main
    added = server.ok("add_task", projectRoot=str(root), title="On the main project")
    assert added["id"] in task_ids(root)
    link = server.outside / "link-to-main"
    link.symlink_to(root, target_is_directory=True)
    via_link = server.ok("get_task", projectRoot=str(link), id=added["id"])
    assert via_link["title"] == "On the main project"
    assert server.ok("get_tasks", projectRoot=f"{server.outside}/../main/")["tag"] == "master"


# freshness ---------------------------------------------------------------------------------------


def test_a_change_by_another_process_shows_on_the_next_read(
    server: McpServer, project: Path
) -> None:
    root = str(project)
    server.ok("add_task", projectRoot=root, title="Watch me")
    assert server.ok("get_task", projectRoot=root, id="1")["status"] == "pending"
    tm(project, "set-status", "1", "done")
    assert server.ok("get_task", projectRoot=root, id="1")["status"] == "done"
    tm(project, "add-task", "--title", "From the CLI")
    assert [t["title"] for t in server.ok("get_tasks", projectRoot=root)["tasks"]] == [
        "Watch me",
        "From the CLI",
    ]
    # An editor writing the file in place, not through tm at all.
    document = data(project)
    document["master"]["tasks"][0]["title"] = "Edited by hand"
    with tasks_file(project).open("r+b") as handle:
        handle.truncate(0)
        handle.write(orjson.dumps(document))
    assert server.ok("get_task", projectRoot=root, id="1")["title"] == "Edited by hand"
    # A write by the server keeps what the others wrote (it re-reads under the lock).
    server.ok("add_task", projectRoot=root, title="From the agent")
    assert [t["title"] for t in data(project)["master"]["tasks"]] == [
        "Edited by hand",
        "From the CLI",
        "From the agent",
    ]
    assert server.ok("use_tag", projectRoot=root, name="master")["taskCount"] == 3
    tm(project, "tags", "add", "side")
    tm(project, "tags", "use", "side")
    assert server.ok("get_tasks", projectRoot=root)["tag"] == "side"


# refusals and errors -----------------------------------------------------------------------------


def test_project_roots_outside_the_allowed_ones_are_refused(
    server: McpServer, project: Path
) -> None:
    before = tasks_file(server.outside).read_bytes()
    attempts = [
        str(server.outside),
        f"{server.allowed}/../outside",
        f"{project}/../../outside",
        "outside",
        "",
    ]
    link = server.allowed / "escape-hatch"
    link.symlink_to(server.outside, target_is_directory=True)
    attempts.append(str(link))
    for raw in attempts:
        message = server.error("add_task", projectRoot=raw, title="Smuggled")
        assert "projectRoot" in message, message
    assert tasks_file(server.outside).read_bytes() == before
    assert "not served here" in server.error("get_tasks", projectRoot=str(link))
    # A tasks file outside the project is refused the same way.
    outside_file = str(tasks_file(server.outside))
    message = server.error("get_tasks", projectRoot=str(project), file=outside_file)
    assert "outside the project" in message
    assert server.ok("get_tasks", projectRoot=str(project), file=".taskmaster/tasks.json")
    assert server.ok("get_tasks", projectRoot=str(project))["tasks"] == []  # still answering


def test_a_symlinked_project_directory_cannot_take_calls_outside_the_served_roots(
    server: McpServer, project: Path, request: pytest.FixtureRequest
) -> None:
    """projectRoot is inside an allowed root, but its .taskmaster/ is a link to a project
    elsewhere: no tool may read or write there, and the error names the path."""
    elsewhere = init_project(server.base / f"elsewhere-{request.node.name}")
    server.ok("add_task", projectRoot=str(project), title="Served")
    opened = open_project(elsewhere)
    opened.core.execute(AddTask(values={"title": "Private"}))
    opened.close()
    before = tasks_file(elsewhere).read_bytes()
    linked = server.allowed / f"{request.node.name}-linked"
    linked.mkdir()
    (linked / ".taskmaster").symlink_to(elsewhere / ".taskmaster", target_is_directory=True)
    root = str(linked)
    for name, arguments in [
        ("get_tasks", {}),
        ("get_task", {"id": "1"}),
        ("add_task", {"title": "Smuggled"}),
        ("use_tag", {"name": "master"}),
        ("generate", {}),
    ]:
        message = server.error(name, projectRoot=root, **arguments)
        assert "outside every directory this server serves" in message, (name, message)
        assert str(linked / ".taskmaster") in message, message
    assert tasks_file(elsewhere).read_bytes() == before
    assert not (elsewhere / ".taskmaster" / "tasks").exists()
    # The state file alone can be the link: use_tag would write it, get_tasks read it.
    (project / ".taskmaster" / "state.json").unlink()
    (project / ".taskmaster" / "state.json").symlink_to(elsewhere / ".taskmaster" / "state.json")
    state_before = (elsewhere / ".taskmaster" / "state.json").read_bytes()
    message = server.error("use_tag", projectRoot=str(project), name="master")
    assert "state file" in message and "state.json" in message
    assert "state file" in server.error("get_tasks", projectRoot=str(project))
    assert (elsewhere / ".taskmaster" / "state.json").read_bytes() == state_before


def test_generate_refuses_an_output_directory_linked_outside(
    server: McpServer, project: Path, request: pytest.FixtureRequest
) -> None:
    """.taskmaster/tasks (the default output) is a link out of the project: generate must
    neither overwrite a file there nor delete one as stale."""
    elsewhere = server.base / f"elsewhere-{request.node.name}"
    elsewhere.mkdir()
    (elsewhere / "task_001.md").write_text("not yours\n")
    (elsewhere / "task_005.md").write_text("nor this\n")
    server.ok("add_task", projectRoot=str(project), title="Document me")
    (project / ".taskmaster" / "tasks").symlink_to(elsewhere, target_is_directory=True)
    message = server.error("generate", projectRoot=str(project))
    assert "output directory" in message and str(project / ".taskmaster" / "tasks") in message
    message = server.error("generate", projectRoot=str(project), output=".taskmaster/tasks")
    assert "outside the project" in message
    assert (elsewhere / "task_001.md").read_text() == "not yours\n"
    assert (elsewhere / "task_005.md").read_text() == "nor this\n"
    # A link that stays inside the project is where the files go.
    (project / ".taskmaster" / "tasks").unlink()
    (project / "docs").mkdir()
    (project / ".taskmaster" / "tasks").symlink_to(project / "docs", target_is_directory=True)
    result = server.ok("generate", projectRoot=str(project))
    assert result["files"] == [str(project / "docs" / "task_001.md")]


def test_generate_refuses_a_tag_name_that_would_leave_the_directory(
    server: McpServer, project: Path, request: pytest.FixtureRequest
) -> None:
    elsewhere = server.base / f"elsewhere-{request.node.name}"
    elsewhere.mkdir()
    hostile = f"/../../../../../../../../..{elsewhere}/pwned"
    document = data(project)
    document[hostile] = {"tasks": [{"id": 1, "title": "Owned"}], "metadata": {}}
    tasks_file(project).write_bytes(orjson.dumps(document))
    (project / ".taskmaster" / "state.json").write_bytes(orjson.dumps({"currentTag": hostile}))
    (project / ".taskmaster" / "tasks" / "task_001_").mkdir(parents=True)
    for arguments in ({}, {"tag": hostile}):
        message = server.error("generate", projectRoot=str(project), **arguments)
        assert "invalid tag name" in message, message
    assert list(elsewhere.iterdir()) == []


def test_file_must_name_a_task_file(server: McpServer, project: Path) -> None:
    """`file` can name any path in the project; only task files may be read or written."""
    root = str(project)
    package = project / "package.json"
    original = b'{"name": "app",\n "version": "1.0.0", "scripts": {"test": "jest"}}\n'
    package.write_bytes(original)
    for name, arguments in [
        ("add_task", {"title": "Smuggled"}),
        ("get_tasks", {}),
        ("add_tag", {"name": "other"}),
    ]:
        message = server.error(name, projectRoot=root, file="package.json", **arguments)
        assert "package.json is not a task file" in message, (name, message)
    assert package.read_bytes() == original
    notes = project / "notes.md"
    notes.write_text("# notes\n")
    message = server.error("get_tasks", projectRoot=root, file="notes.md")
    assert "not a task file" in message and "notes.md" in message
    # A task file by another name, flat or tagged, is served.
    (project / "flat.json").write_bytes(orjson.dumps({"tasks": [], "metadata": {}}))
    assert server.ok("add_task", projectRoot=root, file="flat.json", title="Flat")["id"] == 1
    assert orjson.loads((project / "flat.json").read_bytes())["tasks"][0]["title"] == "Flat"


def test_errors_come_back_as_tool_errors_and_the_server_keeps_answering(
    server: McpServer, project: Path
) -> None:
    root = str(project)
    server.ok("add_task", projectRoot=root, title="Only one")
    assert "task 99 not found" in server.error("get_task", projectRoot=root, id="99")
    assert "99" in server.error("set_task_status", projectRoot=root, id="99", status="done")
    assert "invalid status" in server.error(
        "set_task_status", projectRoot=root, id="1", status="finished"
    )
    assert "invalid priority" in server.error(
        "add_task", projectRoot=root, title="x", priority="urgent"
    )
    assert "does not exist" in server.error("get_tasks", projectRoot=root, tag="nope")
    assert "projectRoot" in server.error("get_tasks")  # a required argument missing
    assert server.error("get_tasks", projectRoot=root, withSubtasks="maybe")
    assert "Unknown tool" in server.error("expand_task", projectRoot=root)
    assert server.error("get_task", projectRoot=root, id="1.x")
    assert task_ids(project) == [1]
    assert server.ok("get_task", projectRoot=root, id="1")["title"] == "Only one"


def test_argument_errors_say_which_argument_and_unknown_ones_are_refused(
    server: McpServer, project: Path
) -> None:
    root = str(project)
    message = server.error("get_tasks", projectRoot=root, withSubtasks="maybe")
    assert message.startswith("invalid argument for get_tasks: 'withSubtasks': ")
    assert "\n" not in message and "maybe" in message and "pydantic" not in message
    assert server.error("get_tasks") == "invalid argument for get_tasks: 'projectRoot' is required"
    lines = server.error("add_task", projectRoot=5, title=["x"]).splitlines()
    assert lines[0] == "invalid arguments for add_task:"
    assert [line.split(":")[0] for line in lines[1:]] == ["- 'projectRoot'", "- 'title'"]
    # A misspelt argument is not silently dropped: the task is not added without it.
    message = server.error("add_task", projectRoot=root, title="Urgent", priorty="high")
    assert message.startswith("add_task has no argument 'priorty'; its arguments are: ")
    assert "priority" in message
    assert task_ids(project) == []


def test_a_corrupt_task_file_is_reported_and_never_overwritten(
    server: McpServer, project: Path
) -> None:
    root = str(project)
    server.ok("add_task", projectRoot=root, title="Before the damage")
    broken = b'{"master": {"tasks": [{"id": 1, "title": "Bef'
    tasks_file(project).write_bytes(broken)
    for name, arguments in [
        ("get_tasks", {}),
        ("next_task", {}),
        ("add_task", {"title": "Lost?"}),
        ("set_task_status", {"id": "1", "status": "done"}),
        ("add_tag", {"name": "other"}),
        ("fix_dependencies", {}),
    ]:
        assert "corrupt task file" in server.error(name, projectRoot=root, **arguments), name
    assert tasks_file(project).read_bytes() == broken
    # Once repaired (by whoever), the very next call reads the repaired file.
    tasks_file(project).write_bytes(orjson.dumps({"master": {"tasks": [], "metadata": {}}}))
    assert server.ok("get_tasks", projectRoot=root)["tasks"] == []


def test_use_tag_repairs_a_corrupt_state_file(server: McpServer, project: Path) -> None:
    root = str(project)
    state = project / ".taskmaster" / "state.json"
    state.write_bytes(b"{not json")
    message = server.error("get_tasks", projectRoot=root)
    assert "corrupt state file" in message and str(state) in message
    assert state.read_bytes() == b"{not json"
    assert server.ok("use_tag", projectRoot=root, name="master")["current"] is True
    assert orjson.loads(state.read_bytes()) == {"currentTag": "master"}
    assert server.ok("get_tasks", projectRoot=root)["tag"] == "master"


def test_a_directory_in_place_of_the_task_file_is_a_tool_error(
    server: McpServer, project: Path
) -> None:
    root = str(project)
    tasks_file(project).unlink()
    tasks_file(project).mkdir()
    for name, arguments in [
        ("get_tasks", {}),
        ("add_task", {"title": "Lost?"}),
        ("set_task_status", {"id": "1", "status": "done"}),
    ]:
        assert "Is a directory" in server.error(name, projectRoot=root, **arguments), name
    assert tasks_file(project).is_dir()


# the command -------------------------------------------------------------------------------------


def test_help_explains_how_to_register_the_server() -> None:
    result = CliRunner().invoke(cli, ["mcp", "--help"])
    assert result.exit_code == 0
    for text in (".mcp.json", '"command": "tm"', '"args": ["mcp", "--project"', "--allow-root"):
        assert text in result.stdout, text


def test_it_refuses_to_start_outside_a_project(tmp_path: Path) -> None:
    runner = CliRunner(env={"TM_PROJECT": None})
    result = runner.invoke(cli, ["--project", str(tmp_path), "mcp"])
    assert result.exit_code == 1
    assert "no Task Master project found" in result.stderr


def test_tm_list_does_not_import_the_mcp_sdk(tmp_path: Path) -> None:
    init_project(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", tm_executable(), "--project", str(tmp_path), "list"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    imported = {
        line.split("|")[-1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "taskmaster.cli.mcp" in imported  # the command is registered: the check works
    heavy = {"mcp", "taskmaster.mcp", "pydantic", "anyio", "starlette"}
    assert not imported & heavy, imported & heavy
