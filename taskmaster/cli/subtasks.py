"""Subtasks: add-subtask (new, or convert a task), remove-subtask, clear-subtasks."""

from __future__ import annotations

import click

from taskmaster.cli import render
from taskmaster.cli.context import (
    DEPENDENCY_IDS,
    IDS,
    ONE_ID,
    STATUS,
    App,
    claim_option,
    json_option,
    pass_app,
    tag_option,
)
from taskmaster.commands import (
    AddSubtask,
    AppendSubtaskNotes,
    ClearSubtasks,
    ConvertToSubtask,
    RemoveSubtask,
)
from taskmaster.kinds import TASK_NUMBER
from taskmaster.model import TaskId, sibling


@click.command("add-subtask")
@click.option("-p", "--parent", type=ONE_ID, required=True, help="The parent task's id.")
@click.option("-t", "--title", help="The new subtask's title.")
@click.option("-d", "--description", default="", help="A one-line description.")
@click.option("--details", default="", help="Implementation details.")
@click.option(
    "--dependencies",
    type=DEPENDENCY_IDS,
    default="",
    help="Ids it depends on: a bare number is a sibling subtask, 2.1 any subtask.",
)
@click.option("-s", "--status", type=STATUS, default="pending", show_default=True)
@click.option(
    "-i", "--task-id", type=ONE_ID, help="Instead of a new subtask, convert this existing task."
)
@tag_option
@claim_option
@json_option
@pass_app
def add_subtask(
    app: App,
    parent: TaskId,
    title: str | None,
    description: str,
    details: str,
    dependencies: list[TaskId],
    status: str,
    task_id: TaskId | None,
    tag: str | None,
    as_json: bool,
) -> None:
    """Add a subtask to a task, or turn an existing task into one.

    \b
    Examples:
      tm add-subtask --parent 3 --title "Write the migration" --dependencies 1
      tm add-subtask --parent 3 --task-id 7
    """
    name = app.tag_for(tag)
    if task_id is not None:
        if title is not None:
            raise click.UsageError("give either --task-id (convert a task) or --title, not both")
        convert = ConvertToSubtask(
            id=TASK_NUMBER.parse(task_id, "--task-id"),
            parent=TASK_NUMBER.parse(parent, "--parent"),
            tag=name,
        )
        sub = app.execute(convert).result
        message = f"Task {task_id} is now subtask {sub['id']}: {render.title(sub)}"
    else:
        if not (title and title.strip()):
            raise click.UsageError("give the subtask a --title (or --task-id to convert a task)")
        add = AddSubtask(
            parent=TASK_NUMBER.parse(parent, "--parent"),
            values={
                "title": title,
                "description": description,
                "details": details,
                "dependencies": tuple(sibling(parent, dep) for dep in dependencies),
                "status": status,
            },
            tag=name,
        )
        sub = app.execute(add).result
        message = f"Subtask {sub['id']} added: {render.title(sub)}"
    if as_json:
        render.echo_json(sub)
        return
    click.echo(message)


@click.command("remove-subtask")
@click.option("-i", "--id", "ids", type=IDS, required=True, help="Subtask ids: 3.2[,4.1].")
@click.option("-c", "--convert", is_flag=True, help="Turn each subtask into a task instead.")
@tag_option
@claim_option
@json_option
@pass_app
def remove_subtask(
    app: App, ids: list[TaskId], convert: bool, tag: str | None, as_json: bool
) -> None:
    """Remove subtasks (and dependencies on them), or promote them to tasks with --convert.

    --json prints the removed subtasks, or with --convert the tasks created.

    \b
    Examples:
      tm remove-subtask --id 3.2
      tm remove-subtask --id 3.2 --convert
    """
    for item_id in ids:
        if not item_id.is_subtask:
            raise click.BadParameter(
                f"{item_id} is a task id; give subtask ids such as 3.2 (remove-task removes tasks)",
                param_hint="'-i' / '--id'",
            )
    remove = RemoveSubtask(ids=tuple(ids), convert=convert, tag=app.tag_for(tag))
    items = app.execute(remove).result
    if as_json:
        render.echo_json(items)
        return
    for old, item in zip(ids, items, strict=False):
        if convert:
            click.echo(f"Subtask {old} is now task {item['id']}: {render.title(item)}")
        else:
            click.echo(f"Subtask {item['id']} removed: {render.title(item)}")


@click.command("clear-subtasks")
@click.option("-i", "--id", "ids", type=IDS, help="Task ids whose subtasks to remove.")
@click.option("--all", "all_tasks", is_flag=True, help="Remove the subtasks of every task.")
@tag_option
@claim_option
@json_option
@pass_app
def clear_subtasks(
    app: App, ids: list[TaskId] | None, all_tasks: bool, tag: str | None, as_json: bool
) -> None:
    """Remove all subtasks of some tasks (--id) or of every task (--all).

    --json prints the tasks that had subtasks, now without them.

    \b
    Examples:
      tm clear-subtasks --id 3,4
      tm clear-subtasks --all
    """
    if bool(ids) == all_tasks:
        raise click.UsageError("give either --id IDS or --all")
    for item in ids or ():
        if item.is_subtask:
            raise click.BadParameter(
                f"{item} is a subtask id; give task ids", param_hint="'-i' / '--id'"
            )
    numbers = None if all_tasks else tuple(item.task for item in ids or ())
    changed = app.execute(ClearSubtasks(ids=numbers, tag=app.tag_for(tag))).result
    if as_json:
        render.echo_json(changed)
        return
    if not changed:
        click.echo("No subtasks to clear.")
    for task in changed:
        click.echo(f"Cleared the subtasks of task {task['id']}: {render.title(task)}")


@click.command("update-subtask")
@click.option("-i", "--id", "subtask_id", type=ONE_ID, required=True, help="The subtask: 3.2.")
@click.option("-p", "--prompt", required=True, help="The note to append to the subtask's details.")
@click.option(
    "-r", "--research", is_flag=True, hidden=True, help="Accepted for compatibility; ignored."
)
@tag_option
@claim_option
@json_option
@pass_app
def update_subtask(
    app: App,
    subtask_id: TaskId,
    prompt: str,
    research: bool,
    tag: str | None,
    as_json: bool,
) -> None:
    """Append a timestamped note to a subtask's details; what was there stays.

    The note is added as it is (no AI model rewrites it) in a block claude-task-master writes
    too: <info added on 2026-05-01T10:00:00.000Z> ... </info added on ...>.

    \b
    Example:
      tm update-subtask --id 3.2 --prompt "The cache must be warmed before the test"
    """
    if not subtask_id.is_subtask:
        raise click.BadParameter(
            f"{subtask_id} is a task id; give a subtask id such as {subtask_id}.1 "
            "(update-task changes tasks)",
            param_hint="'-i' / '--id'",
        )
    if not prompt.strip():
        raise click.BadParameter("the note is empty", param_hint="'-p' / '--prompt'")
    note = AppendSubtaskNotes(id=subtask_id, text=prompt, tag=app.tag_for(tag))
    sub = app.execute(note).result
    if as_json:
        render.echo_json(sub)
        return
    click.echo(f"Subtask {sub['id']} updated: a note was added to its details.")
