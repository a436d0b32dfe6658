"""Dependencies and moves: add/remove-dependency, validate/fix-dependencies, move."""

from __future__ import annotations

from collections.abc import Sequence

import click

from taskmaster import documents
from taskmaster.cli import render
from taskmaster.cli.context import IDS, ONE_ID, App, claim_option, json_option, pass_app, tag_option
from taskmaster.commands import (
    AddDependency,
    FixDependencies,
    Move,
    MoveToTag,
    PlaceBefore,
    RemoveDependency,
)
from taskmaster.errors import DependenciesLeftBehind
from taskmaster.kinds import TASK_NUMBER
from taskmaster.model import TaskId, sibling
from taskmaster.ops import DependencyIssue


@click.command("add-dependency")
@click.option("-i", "--id", "task_id", type=ONE_ID, required=True, help="The task that waits.")
@click.option(
    "-d", "--depends-on", type=ONE_ID, required=True, help="The task (or 2.3) it waits for."
)
@tag_option
@claim_option
@json_option
@pass_app
def add_dependency(
    app: App, task_id: TaskId, depends_on: TaskId, tag: str | None, as_json: bool
) -> None:
    """Make a task or subtask depend on another; refuses itself, missing ids and cycles.

    For a subtask, a bare number names a sibling: --id 3.2 --depends-on 1 means 3.1.

    \b
    Examples:
      tm add-dependency --id 4 --depends-on 2.3
      tm add-dependency --id 3.2 --depends-on 1
    """
    if task_id.is_subtask:
        depends_on = sibling(task_id, depends_on)
    add = AddDependency(id=task_id, depends_on=depends_on, tag=app.tag_for(tag))
    item = app.execute(add).result
    if as_json:
        render.echo_json(item)
        return
    click.echo(f"{render.label(item)} now depends on {depends_on}.")


@click.command("remove-dependency")
@click.option("-i", "--id", "task_id", type=ONE_ID, required=True, help="The task that waits.")
@click.option("-d", "--depends-on", type=ONE_ID, required=True, help="The dependency to remove.")
@tag_option
@claim_option
@json_option
@pass_app
def remove_dependency(
    app: App, task_id: TaskId, depends_on: TaskId, tag: str | None, as_json: bool
) -> None:
    """Remove one dependency of a task or subtask (for a subtask a bare number is a sibling).

    \b
    Example:
      tm remove-dependency --id 4 --depends-on 2.3
    """
    if task_id.is_subtask:
        depends_on = sibling(task_id, depends_on)
    remove = RemoveDependency(id=task_id, depends_on=depends_on, tag=app.tag_for(tag))
    item = app.execute(remove).result
    if as_json:
        render.echo_json(item)
        return
    click.echo(f"{render.label(item)} no longer depends on {depends_on}.")


def _issue_lines(issues: Sequence[DependencyIssue]) -> list[str]:
    # An issue with an id itself (shared, or 0 or below) names no dependency.
    return [
        f"  {issue.item} -> {issue.dependency}: {issue.message}"
        if issue.dependency
        else f"  {issue.item}: {issue.message}"
        for issue in issues
    ]


@click.command("validate-dependencies")
@tag_option
@json_option
@pass_app
def validate_dependencies(app: App, tag: str | None, as_json: bool) -> None:
    """Check every dependency of a tag: missing targets, self-references, duplicates, cycles;
    and the ids themselves: one shared by two tasks (as a merge can leave it), or 0 or below.

    Exits with status 1 when there are issues, so scripts can stop on them;
    `tm fix-dependencies` repairs them.
    """
    name = app.resolved_tag(tag)
    issues = app.core.validate_dependencies(name).value
    if as_json:
        render.echo_json(documents.validation_document(name, issues))
    elif not issues:
        click.echo(f"All dependencies in tag '{name}' are valid.")
    else:
        noun = "issue" if len(issues) == 1 else "issues"
        click.echo(f"{len(issues)} dependency {noun} in tag '{name}':")
        render.echo_lines(_issue_lines(issues))
        click.echo("Run `tm fix-dependencies` to repair them.")
    if issues:
        raise click.exceptions.Exit(1)


@click.command("fix-dependencies")
@tag_option
@claim_option
@json_option
@pass_app
def fix_dependencies(app: App, tag: str | None, as_json: bool) -> None:
    """Repair what validate-dependencies reports: remove every invalid dependency, and give
    the later copies of a shared id (and ids of 0 or below) the next free ids; references to a
    shared id keep naming its first task, as every command read them before.

    --json prints {"tag": ..., "fixed": [issues removed]}.
    """
    name = app.resolved_tag(tag)
    fixed = app.execute(FixDependencies(tag=name)).result
    if as_json:
        render.echo_json(documents.fixed_document(name, fixed))
        return
    if not fixed:
        click.echo(f"No dependency issues in tag '{name}'.")
        return
    noun = "issue" if len(fixed) == 1 else "issues"
    click.echo(f"Fixed {len(fixed)} dependency {noun} in tag '{name}':")
    render.echo_lines(_issue_lines(fixed))


def _moved(source: TaskId, new_id: str) -> str:
    """What a move did, in words: the item's new id."""
    kind = "Subtask" if source.is_subtask else "Task"
    return f"{kind} {source} is now {new_id}"


@click.command()
@click.option("--from", "from_ids", type=IDS, required=True, help="Ids to move (comma-separated).")
@click.option("--to", "to_ids", type=IDS, help="Where to, one per --from id (within a tag).")
@click.option(
    "--before",
    "before",
    type=ONE_ID,
    help="Reorder instead: place the --from task just before task ID (ids unchanged).",
)
@click.option("--from-tag", metavar="TAG", help="Move whole tasks from this tag ...")
@click.option("--to-tag", metavar="TAG", help="... to this tag (appended, renumbered if taken).")
@click.option(
    "--with-dependencies", is_flag=True, help="Across tags: bring the tasks they depend on."
)
@click.option(
    "--ignore-dependencies", is_flag=True, help="Across tags: drop dependencies left behind."
)
@tag_option
@claim_option
@json_option
@pass_app
def move(
    app: App,
    from_ids: list[TaskId],
    to_ids: list[TaskId] | None,
    before: TaskId | None,
    from_tag: str | None,
    to_tag: str | None,
    with_dependencies: bool,
    ignore_dependencies: bool,
    tag: str | None,
    as_json: bool,
) -> None:
    """Move tasks and subtasks: renumber, task <-> subtask, or to another tag.

    Within a tag, each --from id goes to the matching --to id: an unused id renumbers it
    (an existing task id is refused), P.S makes it a subtask of P. --before reorders a
    task without renumbering it. With --to-tag whole tasks move to the end of another tag.

    \b
    Examples:
      tm move --from 5 --to 7
      tm move --from 5,6 --to 3.1,3.2
      tm move --from 5 --before 2
      tm move --from 2,3 --from-tag master --to-tag feature --with-dependencies
    """
    if with_dependencies and ignore_dependencies:
        raise click.UsageError("give --with-dependencies or --ignore-dependencies, not both")
    if before is not None:
        if to_ids or to_tag is not None or from_tag is not None:
            raise click.UsageError("--before reorders within a tag: leave out --to and --to-tag")
        if len(from_ids) != 1:
            raise click.UsageError("--before places one task: give one --from id")
        place = PlaceBefore(id=from_ids[0], before=before, tag=app.tag_for(tag))
        placed = app.execute(place).result
        if as_json:
            render.echo_json(placed)
            return
        click.echo(
            f"Task {placed['id']} now comes just before task {before}: {render.title(placed)}"
        )
        return
    if to_tag is None:
        if from_tag is not None:
            raise click.UsageError("--from-tag needs --to-tag (within a tag, use --tag)")
        if with_dependencies or ignore_dependencies:
            raise click.UsageError(
                "--with-dependencies/--ignore-dependencies apply to moves between tags (--to-tag)"
            )
        if not to_ids:
            raise click.UsageError("missing --to: where should the tasks go?")
        if len(to_ids) != len(from_ids):
            raise click.UsageError(
                f"--from has {len(from_ids)} ids but --to has {len(to_ids)}; give one each"
            )
        renumber = Move(sources=tuple(from_ids), targets=tuple(to_ids), tag=app.tag_for(tag))
        moved = app.execute(renumber).result
        if as_json:
            render.echo_json(moved)
            return
        for source, item in zip(from_ids, moved, strict=False):
            click.echo(f"{_moved(source, str(item['id']))}: {render.title(item)}")
        return
    if to_ids:
        raise click.UsageError("--to is for moves within a tag; with --to-tag leave it out")
    source_tag = from_tag or app.resolved_tag(tag)
    if source_tag == to_tag:
        raise click.UsageError(f"the tasks are already in tag '{to_tag}'")
    across = MoveToTag(
        ids=tuple(TASK_NUMBER.parse(item, "--from") for item in from_ids),
        to_tag=to_tag,
        tag=source_tag,
        with_dependencies=with_dependencies,
        ignore_dependencies=ignore_dependencies,
    )
    try:
        moved = app.execute(across).result
    except DependenciesLeftBehind as err:
        raise err.naming("--with-dependencies or --ignore-dependencies") from None
    if as_json:
        render.echo_json(moved)
        return
    noun = "task" if len(moved) == 1 else "tasks"
    click.echo(f"Moved {len(moved)} {noun} to tag '{to_tag}':")
    for item in moved:
        click.echo(f"  {item['id']}  {render.title(item)}")
