"""`tm git`: keep the task file in git, merging it by tag, task and field instead of by line."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import click

from taskmaster.cli import render
from taskmaster.cli.context import App, json_option, pass_app
from taskmaster.cli.text import one_line

if TYPE_CHECKING:
    from taskmaster.git.setup import Installed
    from taskmaster.project import ProjectPaths

CONFLICT_WIDTH = 40
"""How much of each side's value a conflict line shows (--json has them whole)."""


@click.group("git", invoke_without_command=True)
@json_option
@click.pass_context
def git(ctx: click.Context, as_json: bool) -> None:
    """Merge the task file by task in git: no conflicts or duplicate ids when branches add tasks.

    Without a subcommand: what `tm git status` shows.

    `tm git install` registers a merge driver in the project's git repository. From then
    on `git merge`, `git rebase`, `git pull` and `git cherry-pick` merge tasks.json per tag,
    per task and per field: two branches that each add a task keep both (theirs renumbered
    if both took the same id, its dependencies following), and only a field both changed
    differently is a conflict, reported one line each, with the file left valid JSON.

    \b
    Examples:
      tm git install
      tm git status
      tm git uninstall
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(status, as_json=as_json)


def _paths(app: App) -> ProjectPaths:
    from taskmaster.git.setup import GitError

    paths = app.project.paths
    if paths is None:
        raise GitError(
            "this project keeps its tasks in a database (.taskmaster/storage.toml), not in a "
            "file git could merge"
        )
    return paths


@git.command("install")
@json_option
@pass_app
def install(app: App, as_json: bool) -> None:
    """Make git merge the task file with `tm git merge-driver`, and ignore the sidecars.

    \b
    In the git work tree that holds the project, this:
    - adds `/<path of the task file> merge=taskmaster` to the root .gitattributes (commit
      it, so that every clone merges the same way);
    - sets merge.taskmaster.name and merge.taskmaster.driver in the repository's own git
      config (.git/config, which git never shares: every clone runs `tm git install` once);
      the driver is this Python interpreter by absolute path with `-m taskmaster`, so it
      works from any shell, hook or editor git runs in;
    - adds the lock, revision, journal and temporary files our writers keep beside the
      task file to .taskmaster/.gitignore, as `tm init` does.

    Only what is missing is added: running it again changes nothing. Outside a git work
    tree it fails (exit 1) and changes nothing.
    """
    from taskmaster.git.setup import install as install_driver

    done = install_driver(_paths(app))
    shown = _report(
        done,
        as_json,
        unchanged=f"The merge driver is already installed for {done.tasks_file}",
        changed=f"git now merges {done.tasks_file} by task (in {done.repository})",
    )
    if shown and str(done.attributes) in done.changed:
        click.echo("Commit .gitattributes so that every clone merges the same way.")


@git.command("uninstall")
@json_option
@pass_app
def uninstall(app: App, as_json: bool) -> None:
    """Stop merging the task file with the driver: remove the .gitattributes line and the
    merge.taskmaster git config. The .gitignore lines stay (those files never belong in git).
    """
    from taskmaster.git.setup import uninstall as uninstall_driver

    done = uninstall_driver(_paths(app))
    _report(
        done,
        as_json,
        unchanged=f"No merge driver was installed for {done.tasks_file}",
        changed=f"git merges {done.tasks_file} by line again",
    )


def _report(done: Installed, as_json: bool, *, unchanged: str, changed: str) -> bool:
    """What install or uninstall changed (or that nothing was); whether a list of changes
    was printed as text."""
    if as_json:
        render.echo_json(done.to_dict())
        return False
    if not done.changed:
        click.echo(f"{unchanged}; nothing changed.")
        return False
    click.echo(f"{changed}:")
    for item in done.changed:
        click.echo(f"  {item}")
    return True


@git.command("status")
@json_option
@pass_app
def status(app: App, as_json: bool) -> None:
    """Whether git merges the task file with the driver, as `git check-attr` and the git
    config say. --json prints {"repository", "tasksFile", "mergeAttribute", "driver",
    "installed"}."""
    from taskmaster.git.setup import status as driver_status

    found = driver_status(_paths(app))
    if as_json:
        render.echo_json(found)
        return
    if found["installed"]:
        click.echo(f"git merges {found['tasksFile']} with: {found['driver']}")
    else:
        click.echo(
            f"git merges {found['tasksFile']} by line (the merge driver is not installed: "
            "run `tm git install`)"
        )


@git.command("merge-driver")
@click.argument("base", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("ours", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("theirs", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("path", required=False)
@json_option
@click.pass_context
def merge_driver(
    ctx: click.Context, base: Path, ours: Path, theirs: Path, path: str | None, as_json: bool
) -> None:
    """Merge three versions of a task file, as git's merge driver (git runs it; see install).

    BASE is the common ancestor, OURS the current branch's version, where the result is
    written, THEIRS the other branch's version, PATH the file's name in the repository
    (for messages). Merged per tag, task and field; both sides' new tasks under one id:
    theirs' is renumbered and its references follow (reported on stdout). A dependency the
    merge leaves pointing at nothing (removed on one side, depended on by the other) is
    reported like a conflict.

    \b
    Exit codes:
      0  merged: OURS holds the result
      1  conflicts: OURS holds valid JSON with ours' value at each conflicting place, and
         each conflict is one line on stderr; or a version is no task file: OURS is left
         as it was and git leaves the conflict to you
    """
    from taskmaster.git.merge import merge

    name = path or str(ours)
    result = merge(base.read_bytes(), ours.read_bytes(), theirs.read_bytes())
    _replace(ours, result.to_json())
    if as_json:
        render.echo_json({"path": name, **result.to_dict()})
    else:
        for item in result.renumbered:
            click.echo(f"tm: {one_line(name)}: {one_line(item.describe())}")
    if result.clean:
        return
    if not as_json:
        count = len(result.conflicts) + len(result.dangling)
        click.echo(
            f"tm: {one_line(name)}: {count} conflict{'s' if count != 1 else ''}; ours' value "
            "was kept at each, and the file is valid JSON:",
            err=True,
        )
        for conflict in result.conflicts:
            click.echo(f"  {one_line(conflict.describe(CONFLICT_WIDTH))}", err=True)
        for dangling in result.dangling:
            click.echo(f"  {one_line(dangling.describe())}", err=True)
        click.echo(
            f"Fix them with tm or an editor, then `git add {one_line(name)}`.",
            err=True,
        )
    ctx.exit(1)


def _replace(path: Path, data: bytes) -> None:
    """Write the merged file whole or not at all: git reads it once the driver exits."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
