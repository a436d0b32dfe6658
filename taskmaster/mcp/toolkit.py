"""What every tool module shares: the registration decorator, the answer, the common parameters.

Tools are plain synchronous functions (the SDK runs them on worker threads, so a write waiting
for the lock does not stall other calls). Their parameters carry pydantic `Field`
descriptions, which end up in the JSON schema the agent reads; names follow the reference
claude-task-master tools (camelCase) because agents are prompted with those.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BeforeValidator, Field

from taskmaster.documents import dumps
from taskmaster.errors import TaskMasterError
from taskmaster.model import PRIORITIES, STATUSES

F = TypeVar("F", bound=Callable[..., str])


def reply(value: Any) -> str:
    """A tool's answer: one JSON document, the same bytes `tm ... --json` prints."""
    return dumps(value).decode()


def tool_errors(fn: F) -> F:
    """Turn the failures a caller can act on into tool errors that carry their message.

    The SDK reports any other exception as a bare "Error executing tool" (it hides crash
    details), which would leave an agent guessing what was wrong with its call.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> str:
        try:
            return fn(*args, **kwargs)
        except TaskMasterError as err:
            raise ToolError(str(err)) from err
        except OSError as err:
            # Permission denied, disk full...: the file system's own words are the useful part.
            raise ToolError(f"{type(err).__name__}: {err}") from err

    return wrapper  # type: ignore[return-value]


def tool(
    server: MCPServer,
    *,
    title: str,
    read_only: bool = False,
    destructive: bool = False,
    idempotent: bool = False,
) -> Callable[[F], F]:
    """Register a function as a tool named after it, described by its docstring.

    Answers are JSON text, never the SDK's "structured output": several answers are lists or
    null, which structured content (a JSON object) cannot carry as they are.
    """

    def decorator(fn: F) -> F:
        server.add_tool(
            tool_errors(fn),
            title=title,
            # Python 3.11 keeps docstring indentation; an agent should not read it.
            description=inspect.cleandoc(fn.__doc__ or ""),
            annotations=ToolAnnotations(
                title=title,
                read_only_hint=read_only,
                destructive_hint=None if read_only else destructive,
                idempotent_hint=None if read_only else idempotent,
                open_world_hint=False,
            ),
            structured_output=False,
        )
        return fn

    return decorator


def _as_text(value: object) -> object:
    """Agents send ids as numbers (5) and lists ([1, "2.3"]) as often as "5" and "1,2.3"."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list | tuple):
        return ",".join(str(_as_text(item)) for item in value)
    return value


IDS = BeforeValidator(_as_text)
"""Put in an `Annotated[str, IDS, ...]` id parameter: accepts 5, "5", "1,2.3" and [1, "2.3"]."""


def _enum(values: tuple[str, ...]) -> Callable[[dict[str, Any]], None]:
    """`json_schema_extra` listing the allowed values on the string branch of the schema.

    On the branch, not beside `anyOf`, or an optional parameter's null would be outside the
    enum. The values stay plain strings to pydantic: the facade checks them and says what is
    allowed in its own words, as it does for the CLI and the API.
    """

    def extra(schema: dict[str, Any]) -> None:
        for branch in schema.get("anyOf", [schema]):
            if branch.get("type") == "string":
                branch["enum"] = list(values)

    return extra


STATUS_ENUM = _enum(STATUSES)
PRIORITY_ENUM = _enum(PRIORITIES)

ProjectRoot = Annotated[
    str,
    Field(
        description=(
            "Absolute path of the project directory, the one that holds .taskmaster/ "
            "(usually the workspace root). It must be the project this server was started for "
            "or lie inside a directory allowed with `tm mcp --allow-root`."
        )
    ),
]
Tag = Annotated[
    str | None,
    Field(
        description=(
            "Tag (a separate task list in the same file) to work on. Default: the project's "
            "current tag (see list_tags, use_tag)."
        )
    ),
]
TasksFile = Annotated[
    str | None,
    Field(
        description=(
            "Path of the tasks file, absolute or relative to projectRoot; it must lie inside "
            "projectRoot. Usually leave it out: the default is .taskmaster/tasks.json, or "
            ".taskmaster/tasks/tasks.json when the project has that one."
        )
    ),
]
