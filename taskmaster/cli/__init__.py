"""`tm`: the Task Master command line.

One click group; each command parses its options, calls one method of the `TaskMaster` facade
and prints the result (`render.py`). Command names and options follow the reference
claude-task-master CLI, because people type those from habit.

Exit codes: 0 success, 1 a Task Master error (one `Error: ...` line on stderr) or an unexpected
failure, 2 a usage error. `--debug` adds the traceback.

Only what `tm list` needs is imported at start-up: the web server, the file watcher and Redis
are imported inside the commands that use them.
"""

from __future__ import annotations

import errno
import gc
import traceback
from pathlib import Path
from typing import Any

import click

from taskmaster.cli import (
    ai,
    claims,
    dependencies,
    doctor,
    git,
    history,
    mcp,
    project,
    serve,
    storage,
    subtasks,
    tags,
    tasks,
)
from taskmaster.cli.context import (
    App,
    actor_option,
    redis_url_option,
    storage_url_option,
    use_color,
)
from taskmaster.cli.text import one_line
from taskmaster.compose import DEFAULT_LOCK_TIMEOUT
from taskmaster.errors import TaskMasterError

ALIASES = {"ls": "list", "status": "set-status"}


class Failure(click.ClickException):
    """A failure already explained in one line; click prints `Error: <message>`, exits 1."""

    exit_code = 1


class TaskMasterGroup(click.Group):
    """The `tm` group: command aliases, commands in a deliberate order, errors as one line."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)  # the order they were added: most used first

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, ALIASES.get(cmd_name, cmd_name))

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        # Report the real name (`list`, not `ls`) in usage lines and to `invoked_subcommand`.
        _, cmd, rest = super().resolve_command(ctx, args)
        return (cmd.name if cmd else None), cmd, rest

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        shown = {name: alias for alias, name in ALIASES.items()}
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is None or cmd.hidden:
                continue
            title = f"{name} ({shown[name]})" if name in shown else name
            rows.append((title, cmd.get_short_help_str(limit=formatter.width - 30)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Abort, click.exceptions.Exit):
            raise
        except TaskMasterError as err:
            raise _failure(ctx, str(err)) from err
        except OSError as err:
            if err.errno == errno.EPIPE:
                raise  # click's main quietens a closed pipe (`tm list | head`)
            raise _failure(ctx, _describe(err)) from err
        except Exception as err:
            raise _failure(ctx, _describe(err)) from err


def _describe(err: BaseException) -> str:
    text = str(err) or "no details"
    return f"{type(err).__name__}: {text} (run with --debug for the traceback)"


def _failure(ctx: click.Context, message: str) -> Failure:
    if ctx.params.get("debug"):
        click.echo(traceback.format_exc().rstrip(), err=True)
    # Exactly one line: a message with line breaks would read as several errors, and one
    # with control characters (a title from the file) could rewrite the terminal.
    return Failure(one_line(message))


@click.group(cls=TaskMasterGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--project",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="TM_PROJECT",
    show_envvar=True,
    help="Project directory (default: the nearest one at or above the current directory).",
)
@click.option(
    "-f",
    "--file",
    "tasks_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The task file itself (default: .taskmaster/tasks.json, or tasks/tasks.json if present).",
)
@click.option(
    "--tag", metavar="NAME", help="Work on this tag instead of the current one (every command)."
)
@click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0),
    default=DEFAULT_LOCK_TIMEOUT,
    envvar="TM_LOCK_TIMEOUT",
    show_envvar=True,
    show_default=True,
    metavar="SECONDS",
    help="How long a write waits for another writer before giving up.",
)
@click.option(
    "--redis-url",
    metavar="URL",
    envvar="TM_REDIS_URL",
    show_envvar=True,
    callback=redis_url_option,
    help="Redis shared by the project's processes (redis://host:6379/0): every write announces "
    "its change there, so API servers using the same Redis invalidate at once. Optional.",
)
@click.option(
    "--storage",
    "storage_url",
    metavar="URL",
    envvar="TM_STORAGE_URL",
    show_envvar=True,
    callback=storage_url_option,
    help="Where the tasks are, e.g. postgresql://user@host/db?project=KEY (default: what "
    ".taskmaster/storage.toml names, else the task file). No project directory is needed.",
)
@click.option(
    "--actor",
    metavar="NAME",
    envvar="TM_ACTOR",
    show_envvar=True,
    callback=actor_option,
    help="Who the change journal says made this command's change (`tm history`); default: "
    "user@host. A write with --claim is recorded as the claim's agent's.",
)
@click.option("--debug", is_flag=True, help="Show the traceback of an error.")
@click.version_option(package_name="taskmaster-pro", prog_name="tm")
@click.pass_context
def cli(
    ctx: click.Context,
    project: Path | None,
    tasks_file: Path | None,
    tag: str | None,
    lock_timeout: float,
    redis_url: str | None,
    storage_url: str | None,
    actor: str | None,
    debug: bool,
) -> None:
    """Task Master Pro: tasks in .taskmaster/tasks.json, safe for many processes at once.

    \b
    Examples:
      tm init
      tm add-task --title "Set up CI" --priority high
      tm list --with-subtasks
      tm set-status 3 done
      tm next
      tm history 3
    """
    app = ctx.ensure_object(App)
    app.project_dir = project.absolute() if project is not None else None
    app.tasks_file = tasks_file.absolute() if tasks_file is not None else None
    app.tag = tag
    app.lock_timeout = lock_timeout
    app.redis_url = redis_url
    if storage_url is not None and tasks_file is not None:
        if ctx.get_parameter_source("storage_url") is not click.core.ParameterSource.ENVIRONMENT:
            raise click.UsageError(
                "--file and --storage both say where the tasks are: give only one"
            )
        storage_url = None  # an explicit --file wins over TM_STORAGE_URL
    app.storage_url = storage_url
    app.actor = actor
    app.debug = debug
    app.color = use_color()
    ctx.call_on_close(app.close)


for _command in (
    project.init,
    tasks.list_tasks,
    tasks.show,
    tasks.next_task,
    tasks.set_status,
    tasks.add_task,
    tasks.update_task,
    tasks.remove_task,
    claims.claim,
    claims.claims,
    subtasks.add_subtask,
    subtasks.update_subtask,
    subtasks.remove_subtask,
    subtasks.clear_subtasks,
    dependencies.add_dependency,
    dependencies.remove_dependency,
    dependencies.validate_dependencies,
    dependencies.fix_dependencies,
    dependencies.move,
    history.history,
    history.undo,
    doctor.doctor,
    tags.tags,
    project.generate,
    storage.storage,
    git.git,
    serve.serve,
    mcp.mcp_server,
    *tags.reference_commands(),
    *ai.commands(),
):
    cli.add_command(_command)


def main(args: list[str] | None = None) -> Any:
    """The `tm` console script."""
    try:
        return cli.main(args=args, prog_name="tm")
    finally:
        if args is None:  # the console script: the process ends next
            # Interpreter shutdown runs the cyclic collector over every object still alive
            # (modules, the tag just read): ~12 ms of a 10,000-task `tm list`, freeing
            # nothing that exit would not free anyway. Frozen objects are left out of it.
            gc.freeze()


__all__ = ["cli", "main"]
