"""The front ends describe writes by deriving from the commands and the field table.

The REST bodies, the OpenAPI document, the MCP tool schemas and the harness's channel forms
are built from `Command.params()` and `taskmaster.fields`; these tests hold each of them to
its source, so a description written a second time (and left to drift) fails here.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from harness import actors
from taskmaster import commands
from taskmaster.api import bodies
from taskmaster.api.openapi import build_spec
from taskmaster.commands.base import Command, param
from taskmaster.fields import TASK_FIELDS
from taskmaster.kinds import FLAG, TAG, TEXT
from taskmaster.mcp import dependencies, subtasks, tags, tasks
from taskmaster.mcp.toolkit import ToolServer
from taskmaster.model import STATUSES

SCHEMAS = build_spec()["components"]["schemas"]


def _tools() -> dict[str, dict[str, Any]]:
    server = ToolServer("derived")
    for module in (tasks, subtasks, dependencies, tags):
        module.register(server, None)  # type: ignore[arg-type]  # registering opens nothing
    return {tool.name: tool.parameters["properties"] for tool in server._tool_manager.list_tools()}


TOOLS = _tools()


def _description(command: type[Command[Any]], arg: str) -> str:
    return next(spec.description for spec in command.params() if spec.arg == arg)


def test_task_schemas_list_the_fields_of_the_table() -> None:
    task = SCHEMAS["Task"]["properties"]
    subtask = SCHEMAS["Subtask"]["properties"]
    assert set(task) == {"id", "subtasks", *(field.name for field in TASK_FIELDS)}
    assert set(subtask) == {"id", *(field.name for field in TASK_FIELDS if field.in_subtask)}
    for field in TASK_FIELDS:
        assert task[field.name]["description"] == field.description
        assert task[field.name]["type"] == field.kind.schema["type"]


@pytest.mark.parametrize(
    ("body", "command", "from_elsewhere"),
    [
        (bodies.NEW_TASK, commands.AddTask, ()),
        (bodies.NEW_SUBTASK, commands.AddSubtask, ("parent", "tag")),
        (bodies.STATUS_CHANGE_MANY, commands.SetStatus, ("tag",)),
        (bodies.NEW_TAG, commands.AddTag, ()),
        (bodies.DEPENDENCY_ADD, commands.AddDependency, ("id", "tag")),
    ],
)
def test_a_write_body_takes_its_commands_parameters_in_their_words(
    body: bodies.Body, command: type[Command[Any]], from_elsewhere: tuple[str, ...]
) -> None:
    """Every parameter the path or query does not give is a member, described as the command
    describes it; the document shows the same schema."""
    properties = SCHEMAS[body.name]["properties"]
    for spec in command.params():
        if spec.arg in from_elsewhere:
            assert spec.arg not in properties
            continue
        assert properties[spec.arg]["description"] == spec.description, spec.arg
        assert body.members[spec.arg].kind is spec.kind
    assert SCHEMAS[body.name] == body.schema()


def test_a_new_parameter_appears_in_the_body_and_its_schema() -> None:
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Paint(Command[None]):  # no `name`: it stays out of the command registry
        colour: str = param(TEXT, "The colour to paint with.")
        glossy: bool = param(FLAG, "Whether it shines.", default=False)

    body = bodies.Body(
        "Paint", {spec.arg: bodies.member(Paint, spec.arg) for spec in Paint.params()}
    )
    schema = body.schema()
    assert schema["required"] == ["colour"]
    assert schema["properties"]["colour"] == {
        "type": "string",
        "description": "The colour to paint with.",
    }
    assert schema["properties"]["glossy"]["anyOf"][0] == {"type": "boolean"}


def test_the_tag_pattern_in_schemas_is_anchored() -> None:
    pattern = TAG.schema["pattern"]
    assert re.search(pattern, "feature-1")
    assert not re.search(pattern, "has space")
    assert SCHEMAS["TagName"]["pattern"] == pattern


def test_mcp_write_parameters_are_described_by_their_commands_and_fields() -> None:
    for field in TASK_FIELDS:
        if field.name in TOOLS["add_task"]:
            assert TOOLS["add_task"][field.name]["description"].startswith(field.description)
        if field.on_update and field.name in TOOLS["update_task"]:
            assert TOOLS["update_task"][field.name]["description"].startswith(field.description)
    status = TOOLS["set_task_status"]["status"]
    assert status["enum"] == list(STATUSES)
    assert status["description"] == _description(commands.SetStatus, "status")
    assert TOOLS["move_task"]["withDependencies"]["description"] == _description(
        commands.MoveToTag, "withDependencies"
    )


@pytest.mark.parametrize(
    "spec",
    [
        {"op": "set-status", "task": 3, "value": {"status": "done"}},
        {"op": "update", "task": "2.1", "value": {"title": "w", "details": "d"}},
        {"op": "add", "value": {"title": "w1-8", "details": "x"}},
    ],
)
def test_every_channel_of_a_harness_write_carries_its_commands_arguments(
    spec: dict[str, Any],
) -> None:
    command = actors.core_command(spec)
    args = command.to_args()
    given = {**args.pop("fields", {}), **args}
    _, _, body = actors.api_request(spec)
    tool, arguments = actors.mcp_call(spec)
    argv = actors.cli_args(spec)
    assert argv[0] == command.name
    assert tool in TOOLS
    for name, value in given.items():
        text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
        assert text in argv, (name, argv)
        assert arguments[actors.WRITES[spec["op"]].renamed.get(name, name)] == text
        if name not in ("id", "ids"):
            assert body[name] == value
