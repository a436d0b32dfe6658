"""The MCP server: every tool registered on one `ToolServer` (an `MCPServer`), over stdio.

Tool modules mirror the CLI's (`tasks`, `subtasks`, `dependencies`, `tags`, `project`,
`claims`, `history`); each `register(server, projects)` adds its tools. Nothing here holds
task data: `Projects` hands out facades, and every call goes through one of them (its lock,
its revision check).
"""

from __future__ import annotations

from importlib import metadata
from typing import Literal

from taskmaster.mcp import claims, dependencies, history, project, subtasks, tags, tasks
from taskmaster.mcp.projects import Projects
from taskmaster.mcp.toolkit import ToolServer

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

INSTRUCTIONS = """\
Task Master Pro: the project's tasks in .taskmaster/tasks.json, shared safely with the `tm`
command line and other servers (every write is locked and atomic; every read is fresh).
Pass projectRoot = the project's absolute directory in every call. Ids are '3' for a task and
'3.2' for subtask 2 of task 3. Results are JSON; a failed call returns an error saying why.
Start with get_tasks or next_task. When several agents share the project, claim_task before
working on a task and pass its claim.token as claimToken to your writes on it. get_history
says who changed what (your writes are recorded under your client's name); undo takes a
revision's change back.
"""

TOOL_MODULES = (tasks, subtasks, dependencies, tags, project, claims, history)


def build_server(projects: Projects, *, log_level: LogLevel = "WARNING") -> ToolServer:
    # WARNING by default: the SDK logs every tool error at INFO, and a client shows the
    # server's stderr as its log, where a mistyped id is not worth a line.
    server = ToolServer(
        name="taskmaster",
        title="Task Master Pro",
        version=_version(),
        instructions=INSTRUCTIONS,
        log_level=log_level,
    )
    for module in TOOL_MODULES:
        module.register(server, projects)
    return server


def serve_stdio(projects: Projects, *, log_level: LogLevel = "WARNING") -> None:
    """Answer one client on stdin/stdout until it closes stdin; then close every facade."""
    server = build_server(projects, log_level=log_level)
    try:
        server.run("stdio")
    finally:
        projects.close()


def _version() -> str:
    try:
        return metadata.version("taskmaster-pro")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "0"
