"""`tm storage`: where a project's tasks are, and moving them (export, import, migrate)."""

from __future__ import annotations

from pathlib import Path

import click

from taskmaster.cli import render
from taskmaster.cli.context import App, confirm_or_refuse, json_option, pass_app


@click.group("storage", invoke_without_command=True)
@json_option
@click.pass_context
def storage(ctx: click.Context, as_json: bool) -> None:
    """Where the project's tasks are kept, and moving them between backends.

    Without a subcommand: what `tm storage info` shows.

    \b
    Examples:
      tm storage info
      tm storage export --to .taskmaster/tasks/tasks.json
      tm storage import backup.json
      tm storage migrate --to postgresql://tm@db.internal/tasks?project=my-app
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(info, as_json=as_json)


@storage.command("info")
@json_option
@pass_app
def info(app: App, as_json: bool) -> None:
    """Show the backend, its location, the revision (and the schema version in PostgreSQL).

    Also the store's key (the name every process shares for it) and, when the project
    directory chose the backend, the project file that did (.taskmaster/storage.toml).
    """
    from taskmaster.transfer import storage_info

    described = storage_info(app.project)
    if as_json:
        render.echo_json(described)
        return
    width = max(len(key) for key in described)
    for key, value in described.items():
        click.echo(f"{key + ':':<{width + 1}} {value}")


@storage.command("export")
@click.option(
    "--to",
    "target",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the tasks.json there (replaced atomically) instead of to stdout.",
)
@click.option(
    "--with-state",
    is_flag=True,
    help="Also write the current tag into a state.json beside FILE (needs --to).",
)
@json_option
@pass_app
def export(app: App, target: Path | None, with_state: bool, as_json: bool) -> None:
    """Write the project as a claude-task-master tasks.json.

    The bytes are those the file backend writes for the same tasks, unknown keys included,
    so the reference tool (which reads only the file) can work from an export of a project
    kept in PostgreSQL. Without --to the file goes to stdout (--json changes nothing then).

    \b
    Examples:
      tm storage export > tasks.json
      tm storage export --to .taskmaster/tasks/tasks.json --with-state
    """
    from taskmaster.transfer import export_bytes, export_to

    if target is None:
        if with_state:
            raise click.UsageError("--with-state writes state.json beside --to FILE: give --to")
        raw, _ = export_bytes(app.core.storage)
        click.echo(raw, nl=False)
        return
    result = export_to(app.core.storage, target, with_state=with_state)
    if as_json:
        render.echo_json(result)
        return
    click.echo(
        f"Exported {_tasks(result['tasks'])} (revision {result['revision']}) to "
        + ", ".join(result["written"])
    )


def _tasks(count: int) -> str:
    return f"{count} task" if count == 1 else f"{count} tasks"


@storage.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--with-state",
    is_flag=True,
    help="Also take the current tag from the state.json beside FILE.",
)
@click.option("-y", "--yes", is_flag=True, help="Replace a project that holds tasks, unasked.")
@json_option
@pass_app
def import_(app: App, file: Path, with_state: bool, yes: bool, as_json: bool) -> None:
    """Replace the project's tasks with those of a tasks.json, in one transaction.

    FILE is checked whole first: one that does not parse, or is no task file, is refused and
    the project is left exactly as it was. The import lands all at once or not at all.

    \b
    Example:
      tm storage import .taskmaster/tasks/tasks.json --yes
    """
    from taskmaster.transfer import import_into, is_empty, load_document, load_state

    document = load_document(file.absolute())
    state = load_state(file.absolute().parent / "state.json") if with_state else None
    storage = app.core.storage
    if not is_empty(storage):
        confirm_or_refuse(yes, f"Replace every task of {storage.describe()['location']}?")
    commit = import_into(app.core, document, state)
    result = {
        "from": str(file.absolute()),
        "tasks": commit.result,
        "revision": commit.revision,
        "changed": commit.changed,
    }
    if as_json:
        render.echo_json(result)
        return
    if not commit.changed:
        click.echo(f"{file} holds what the project holds already; nothing changed.")
        return
    click.echo(f"Imported {_tasks(commit.result)} from {file} (revision {commit.revision}).")


@storage.command("migrate")
@click.option(
    "--to",
    "target_url",
    required=True,
    metavar="URL",
    help="Where to copy the project: postgresql://user@host/db?project=KEY, or "
    "file:///path/to/tasks.json.",
)
@click.option("--force", is_flag=True, help="Replace the tasks the target holds already.")
@json_option
@pass_app
def migrate(app: App, target_url: str, force: bool, as_json: bool) -> None:
    """Copy this project (its tasks and current tag) to another backend.

    The target is created when missing (for PostgreSQL: its schema and the project); one that
    holds tasks is refused unless --force. The copy is read back and compared. This project
    is left as it is, and nothing is switched: point the directory at the copy with
    `tm init --storage URL` (or TM_STORAGE_URL).

    \b
    Examples:
      tm storage migrate --to postgresql://tm@db.internal/tasks?project=my-app
      tm --storage postgresql://... storage migrate --to file:///backup/tasks.json
    """
    from taskmaster.compose import check_storage_url
    from taskmaster.errors import InvalidInput
    from taskmaster.transfer import migrate as copy_project

    try:
        target_url = check_storage_url(target_url)
    except InvalidInput as err:
        raise click.BadParameter(str(err), param_hint="'--to'") from None
    result = copy_project(app.project, target_url, app.settings, force=force)
    if as_json:
        render.echo_json(result)
        return
    click.echo(
        f"Copied {_tasks(result['tasks'])} from {result['from']['location']} to "
        f"{result['to']['location']} (revision {result['revision']}"
        + (", read back identical)." if result["verified"] else ").")
    )
    if not result["verified"]:
        raise click.ClickException("the copy read back differs from the project")
