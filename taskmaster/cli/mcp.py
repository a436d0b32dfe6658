"""`tm mcp`: the MCP server (stdio) for AI agents.

The MCP SDK (with pydantic, anyio and starlette behind it) is imported inside the command:
`tm list` and every other command start without it.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import click

from taskmaster.cli.context import App, pass_app
from taskmaster.errors import ProjectNotFound


@click.command("mcp")
@click.option(
    "--project",
    "project_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="The project to serve (default: tm --project, else the one at or above the current "
    "directory). Clients must pass exactly this directory as projectRoot.",
)
@click.option(
    "--allow-root",
    "allow_roots",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    metavar="DIR",
    help="Also serve any project inside DIR (repeatable), e.g. --allow-root ~/code.",
)
@pass_app
def mcp_server(app: App, project_dir: Path | None, allow_roots: tuple[Path, ...]) -> None:
    """Serve the tasks to an AI agent as MCP tools, over stdin/stdout.

    The MCP client starts this command itself; register it once. For Claude Code, Cursor and
    most clients, put this in .mcp.json at the project root (or the client's MCP settings):

    \b
      {
        "mcpServers": {
          "taskmaster": {
            "command": "tm",
            "args": ["mcp", "--project", "/path/to/project"]
          }
        }
      }

    (or: claude mcp add taskmaster -- tm mcp --project /path/to/project). Use the full path
    of `tm` if the client does not find it on its PATH.

    The tools are those of claude-task-master (get_tasks, get_task, next_task,
    set_task_status, add_task, update_task, add_subtask, remove_task, ...; no AI ones), and
    share the file safely with `tm` and `tm serve`: every write is locked and atomic, every
    read sees the latest change.

    Every call names its projectRoot. It must resolve (symlinks and '..' followed) to the
    project served, or to a project inside an --allow-root directory; any other is refused.
    """
    from taskmaster.compose import project_root
    from taskmaster.mcp.projects import Projects
    from taskmaster.mcp.roots import RootPolicy
    from taskmaster.project import locate

    start = project_dir if project_dir is not None else app.project_dir
    root: Path | None
    if app.storage_url is not None:
        # The tasks are at the URL: the project directory needs no .taskmaster/ of its own.
        root = project_root(start)
    else:
        try:
            root = locate(start, tasks_file=app.tasks_file).root
        except ProjectNotFound:
            if not allow_roots:
                raise
            root = None  # only --allow-root projects then
    policy = RootPolicy.create(root, allow_roots, bare_project=app.storage_url is not None)
    settings = app.settings  # TM_JOURNAL_KEEP and TM_JOURNAL_MAX_AGE, checked (exit 2)
    projects = Projects(
        policy,
        tasks_file=app.tasks_file,
        lock_timeout=app.lock_timeout,
        default_tag=app.tag,
        redis_url=app.redis_url,
        storage_url=app.storage_url,
        journal_keep=settings.journal_keep,
        journal_max_age_s=settings.journal_max_age_s,
        reference_lock=settings.reference_lock,
    )
    served = [str(policy.project)] if policy.project else []
    served += [f"{allowed}/*" for allowed in policy.allowed]
    # stderr: stdout carries the protocol. A client shows this line in its server log.
    click.echo(f"tm mcp: serving {', '.join(served)} over stdio", err=True)
    if sys.stdin.isatty():
        click.echo("tm mcp: waiting for an MCP client on stdin (Ctrl+C to stop)", err=True)

    from taskmaster.mcp.server import serve_stdio

    # Ctrl+C in a terminal is how one stops it by hand: not an error.
    with contextlib.suppress(KeyboardInterrupt):
        serve_stdio(projects, log_level="DEBUG" if app.debug else "WARNING")
