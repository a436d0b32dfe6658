"""The project itself: `init` creates one, `generate` writes its tasks out as markdown files."""

from __future__ import annotations

from pathlib import Path

import click

from taskmaster.cli import render
from taskmaster.cli.context import App, json_option, pass_app, storage_url_option, tag_option


@click.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("-y", "--yes", is_flag=True, hidden=True, help="Accepted for compatibility.")
@click.option(
    "--storage",
    "storage_url",
    metavar="URL",
    callback=storage_url_option,
    help="Keep the tasks there instead (postgresql://user@host/db?project=KEY): create the "
    "schema and the project, and name them in .taskmaster/storage.toml [default: tm "
    "--storage, or TM_STORAGE_URL].",
)
@json_option
@pass_app
def init(
    app: App, directory: Path | None, yes: bool, storage_url: str | None, as_json: bool
) -> None:
    """Create a project: .taskmaster/ with an empty task file and the master tag.

    DIRECTORY defaults to --project, else the current directory. In an existing project (ours,
    or a claude-task-master one with .taskmaster/tasks/tasks.json) the tasks are left as they
    are and only what is missing is added. .taskmaster/.gitignore gets the patterns of the
    lock, revision, journal and temporary files that writers keep beside the task file (in
    or out of a git repository: one made later ignores them too). `tm git install` makes git
    merge the task file by task.

    With a storage URL (--storage or TM_STORAGE_URL) the tasks live in that database instead:
    the schema and the project are created there if missing, and .taskmaster/storage.toml
    names the URL, so every later command in DIRECTORY (or with --project DIRECTORY) uses it.
    Running it again changes nothing. Keep passwords in PGPASSWORD or ~/.pgpass, not in the
    URL: the URL is written to that file.

    \b
    Examples:
      tm init ~/code/my-app
      tm init --storage postgresql://tm@db.internal/tasks?project=my-app
    """
    if app.tasks_file is not None:
        raise click.UsageError("init always creates .taskmaster/tasks.json; drop -f/--file")
    from taskmaster.compose import Settings, init_project

    target = directory or app.project_dir or Path.cwd()
    url = storage_url or app.storage_url
    if url is not None:
        _init_storage(app, target, url, as_json)
        return
    project, changed = init_project(target, Settings(lock_timeout=app.lock_timeout))
    assert project.paths is not None  # a project made here is stored in files
    root, tasks_file = project.root, project.paths.tasks_file
    created = any(path.samefile(tasks_file) for path in changed if path.exists())
    try:
        if as_json:
            render.echo_json(
                {
                    "root": str(root),
                    "tasksFile": str(tasks_file),
                    "created": created,
                    "changed": [str(path) for path in changed],
                }
            )
        elif created:
            click.echo(f"Created a Task Master project in {root}")
            click.echo(f"Tasks file: {tasks_file}")
            _echo_others(root, [path for path in changed if path.name != tasks_file.name])
            click.echo('Next: tm add-task --title "..."')
        elif changed:
            click.echo(f"{root} is already a Task Master project; added what was missing:")
            _echo_others(root, changed)
        else:
            click.echo(
                f"{root} is already a Task Master project (tasks file: "
                f"{tasks_file}); nothing changed."
            )
    finally:
        project.close()


def _init_storage(app: App, target: Path, url: str, as_json: bool) -> None:
    from urllib.parse import urlsplit

    from taskmaster.compose import init_storage_project

    project, changed = init_storage_project(target, url, app.settings)
    try:
        described = dict(project.core.storage.describe())
        named_by = str(project.named_by)
        made = [item for item in changed if item != named_by]
        if urlsplit(url).password is not None:
            click.echo(
                f"Warning: {named_by} holds the password of the URL (it is readable by its "
                "owner only); PGPASSWORD or ~/.pgpass keep it out of the project",
                err=True,
            )
        if as_json:
            render.echo_json(
                {
                    "root": str(project.root),
                    "storage": described,
                    "projectFile": named_by,
                    "created": bool(made),
                    "changed": changed,
                }
            )
            return
        location = described.get("location", url)
        if not changed:
            click.echo(f"{project.root} already uses {location}; nothing changed.")
            return
        if made:
            click.echo(f"Created a Task Master project in {location}:")
            for item in made:
                click.echo(f"  {item}")
        else:
            click.echo(f"{location} already holds the project; nothing created there.")
        if named_by in changed:
            click.echo(f"Project file: {named_by} (commands in {project.root} use it)")
        click.echo('Next: tm add-task --title "..."')
    finally:
        project.close()


def _echo_others(root: Path, paths: list[Path]) -> None:
    for path in paths:
        what = INIT_PURPOSES.get(path.name, "")
        click.echo(f"  {path.relative_to(root)}" + (f"  ({what})" if what else ""))


INIT_PURPOSES = {
    ".taskmaster": "the project folder",
    "state.json": "the current tag",
    ".gitignore": "keeps the lock and revision files out of git",
}


@click.command()
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the files (default: <project>/.taskmaster/tasks/).",
)
@tag_option
@json_option
@pass_app
def generate(app: App, output: Path | None, tag: str | None, as_json: bool) -> None:
    """Write one markdown file per task: task_001.md (task_001_<tag>.md for other tags).

    Files of tasks that no longer exist are removed; unchanged files are not rewritten.

    \b
    Example:
      tm generate --output docs/tasks
    """
    directory = output.absolute() if output is not None else app.project.default_output_dir
    result = app.core.generate(directory, tag=app.tag_for(tag)).result
    if as_json:
        render.echo_json(result.to_dict())
        return
    noun = "file" if len(result.files) == 1 else "files"
    line = (
        f"{len(result.files)} task {noun} for tag '{result.tag}' in {result.output_dir} "
        f"({len(result.written)} written"
    )
    if result.removed:
        line += f", {len(result.removed)} stale removed"
    click.echo(line + ").")
