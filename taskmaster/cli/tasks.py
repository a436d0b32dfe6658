"""Reading and writing tasks: list, show, next, set-status, add-task, update-task, remove-task."""

from __future__ import annotations

import sys
from dataclasses import replace

import click

from taskmaster import documents
from taskmaster.cli import render
from taskmaster.cli.claims import claim_notes
from taskmaster.cli.context import (
    DEPENDENCY_IDS,
    IDS,
    ONE_ID,
    STATUS,
    STATUS_LIST,
    App,
    claim_option,
    confirm_or_refuse,
    gc_paused,
    json_option,
    pass_app,
    pick,
    tag_option,
)
from taskmaster.commands import AddTask, RemoveTask, SetStatus, UpdateTask
from taskmaster.model import PRIORITIES, TaskId

PRIORITY = click.Choice(PRIORITIES)


def _terminal_width() -> int | None:
    """The terminal's width in columns; None when stdout is no terminal (a pipe, a file)."""
    if not sys.stdout.isatty():
        return None
    # Imported only for a terminal: shutil (with bz2 and lzma behind it) is start-up time.
    import shutil

    return shutil.get_terminal_size().columns


@click.command("list")
@click.argument("status_arg", metavar="[STATUS]", required=False, type=STATUS_LIST)
@click.option(
    "-s", "--status", type=STATUS_LIST, help="Only tasks with this status (comma-separated)."
)
@click.option("--with-subtasks", is_flag=True, help="Show subtasks as indented rows.")
@click.option("--ready", is_flag=True, help="Only tasks whose dependencies are all done.")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    help="At most N tasks; the next page's cursor goes to stderr (--json: nextCursor).",
)
@click.option(
    "--cursor",
    help="Continue after the page that returned this cursor (stays valid while others write).",
)
@click.option(
    "--fields",
    help="With --json, only these task keys, comma-separated (e.g. id,title,status).",
)
@tag_option
@json_option
@pass_app
def list_tasks(
    app: App,
    status_arg: list[str] | None,
    status: list[str] | None,
    with_subtasks: bool,
    ready: bool,
    limit: int | None,
    cursor: str | None,
    fields: str | None,
    tag: str | None,
    as_json: bool,
) -> None:
    """List the tasks of a tag, with a summary of their statuses.

    \b
    Examples:
      tm list
      tm list pending --with-subtasks
      tm list -s pending,in-progress --ready --json
    """
    with gc_paused():
        statuses = list(dict.fromkeys([*(status_arg or ()), *(status or ())])) or None
        result = app.core.list_tasks(app.tag_for(tag), status=statuses, ready=ready).value
        wanted = None
        if fields is not None or limit is not None or cursor is not None:
            # Imported here: a plain `tm list` need not pay for paging (hashlib) at start-up.
            from taskmaster import paging
        if fields is not None:
            try:
                wanted = paging.parse_fields(fields)
            except ValueError as err:
                raise click.BadParameter(str(err), param_hint="'--fields'") from None
        paged = None
        if limit is not None or cursor is not None:
            try:
                paged = paging.page(result.tasks, result.tag, limit=limit, cursor=cursor)
            except paging.CursorError as err:
                raise click.BadParameter(str(err), param_hint="'--cursor'") from None
            result = replace(result, tasks=[dict(task) for task in paged.tasks])
            if paged.changed and not as_json:  # --json says it in the body
                click.echo(f"note: tag {result.tag!r} changed since the first page", err=True)
        if as_json:
            body = documents.task_list_document(result.tag, result.tasks)
            if wanted is not None:
                body["tasks"] = [paging.project(task, wanted) for task in body["tasks"]]
            if paged is not None:
                body["nextCursor"] = paged.next_cursor
                body["changed"] = paged.changed
            render.echo_json(body)
            return
        if paged is not None and paged.next_cursor is not None:
            click.echo(f"next page: --cursor {paged.next_cursor}", err=True)
        filters = [*(statuses or ()), *(["ready"] if ready else ())]
        tag_tasks = result.tag_tasks
        if result.tasks:
            width = _terminal_width()
            # Who holds the ready tasks is what an agent choosing one needs to see.
            notes = claim_notes(app, result.tasks, result.tag) if ready else None
            render.echo_lines(
                render.task_table(
                    result.tasks,
                    with_subtasks=with_subtasks,
                    color=app.color,
                    width=width,
                    claims=notes,
                )
            )
            click.echo()
        elif filters and tag_tasks:
            click.echo(f"No task matches ({', '.join(filters)}).")
        click.echo(
            render.summary(
                result.tag,
                tag_tasks,
                with_subtasks=with_subtasks,
                shown=len(result.tasks) if filters else None,
                shown_as=", ".join(filters),
            )
        )


@click.command()
@click.argument("id_arg", metavar="[ID]", required=False, type=IDS)
@click.option("-i", "--id", "ids", type=IDS, help="Task ids, comma-separated; 3.2 is a subtask.")
@tag_option
@json_option
@pass_app
def show(
    app: App,
    id_arg: list[TaskId] | None,
    ids: list[TaskId] | None,
    tag: str | None,
    as_json: bool,
) -> None:
    """Show tasks or subtasks in detail.

    With one id, --json prints the task object (a subtask as {"id": "N.M", "parentId": N});
    with several, a list in the order given.

    \b
    Examples:
      tm show 3
      tm show 3.2
      tm show --id 1,2,3.1 --json
    """
    wanted = pick([("ID", id_arg), ("--id", ids)], what="task id")
    items = app.core.show(wanted, app.tag_for(tag)).value
    if as_json:
        render.echo_json(documents.items_document(items))
        return
    notes = claim_notes(app, items, app.tag_for(tag))
    for index, item in enumerate(items):
        if index:
            click.echo()
        render.echo_lines(render.task_detail(item, color=app.color, claims=notes))


@click.command("next")
@click.option(
    "--unclaimed", is_flag=True, help="Skip the tasks a live claim holds (see `tm claim`)."
)
@tag_option
@json_option
@pass_app
def next_task(app: App, unclaimed: bool, tag: str | None, as_json: bool) -> None:
    """Show the task to work on next.

    A ready subtask of an in-progress task comes first; otherwise the pending or in-progress
    task with all dependencies done, highest priority first, then fewest dependencies, then
    lowest id. --json prints the task as `show` does, or null when nothing is ready.
    """
    item = app.core.next_task(app.tag_for(tag), unclaimed=unclaimed).value
    if as_json:
        render.echo_json(item)
        return
    if item is None:
        if unclaimed:
            click.echo("No unclaimed task is ready: the ready ones are claimed, or none is ready.")
        else:
            click.echo(
                "No task is ready: every pending task waits on a dependency, or none is left."
            )
        return
    notes = claim_notes(app, [item], app.tag_for(tag))
    click.echo("Next up:")
    click.echo()
    render.echo_lines(render.task_detail(item, color=app.color, claims=notes))


@click.command("set-status")
@click.argument("id_arg", metavar="[ID]", required=False, type=IDS)
@click.argument("status_arg", metavar="[STATUS]", required=False, type=STATUS)
@click.option("-i", "--id", "ids", type=IDS, help="Task ids, comma-separated; 3.2 is a subtask.")
@click.option("-s", "--status", type=STATUS, help="The new status.")
@tag_option
@claim_option
@json_option
@pass_app
def set_status(
    app: App,
    id_arg: list[TaskId] | None,
    status_arg: str | None,
    ids: list[TaskId] | None,
    status: str | None,
    tag: str | None,
    as_json: bool,
) -> None:
    """Set the status of tasks or subtasks.

    A subtask's parent follows its subtasks: all done makes it done, any started makes it
    in-progress. Setting a task does not change its subtasks.

    \b
    Examples:
      tm set-status 3 done
      tm set-status --id 1,2.3 --status in-progress
    """
    wanted = pick([("ID", id_arg), ("--id", ids)], what="task id")
    new_status = pick([("STATUS", status_arg), ("--status", status)], what="status")
    items = app.execute(
        SetStatus(ids=tuple(wanted), status=new_status, tag=app.tag_for(tag))
    ).result
    if as_json:
        render.echo_json(items)
        return
    for item in items:
        click.echo(f"{render.label(item)} is now {render.status_text(new_status, app.color)}.")


@click.command("add-task")
@click.option(
    "-p",
    "--prompt",
    help="What the task is about; without an AI model it becomes the title and description.",
)
@click.option("-t", "--title", help="The task's title.")
@click.option("-d", "--description", help="A one-line description.")
@click.option("--details", default="", help="Implementation details.")
@click.option("--test-strategy", default="", help="How to verify the task.")
@click.option(
    "--dependencies", type=DEPENDENCY_IDS, default="", help="Ids it depends on, e.g. 1,2.3."
)
@click.option("--priority", type=PRIORITY, default="medium", show_default=True)
@tag_option
@claim_option
@json_option
@pass_app
def add_task(
    app: App,
    prompt: str | None,
    title: str | None,
    description: str | None,
    details: str,
    test_strategy: str,
    dependencies: list[TaskId],
    priority: str,
    tag: str | None,
    as_json: bool,
) -> None:
    """Add a task with the next free id.

    \b
    Examples:
      tm add-task --title "Set up CI" -d "Run the tests on every push" --priority high
      tm add-task --prompt "Build feature X" --dependencies 1,2
    """
    if not (title and title.strip()) and not (prompt and prompt.strip()):
        raise click.UsageError("give the task a --title (or a --prompt)")
    # No AI model here: the prompt text becomes the title (one line) and the description.
    command = AddTask(
        values={
            "title": title if title and title.strip() else " ".join(str(prompt).split()),
            "description": description if description is not None else (prompt or ""),
            "details": details,
            "testStrategy": test_strategy,
            "dependencies": tuple(dependencies),
            "priority": priority,
        },
        tag=app.tag_for(tag),
    )
    task = app.execute(command).result
    if as_json:
        render.echo_json(task)
        return
    click.echo(f"Task {task['id']} added: {render.title(task)}")


@click.command("update-task")
@click.argument("id_arg", metavar="[ID]", required=False, type=ONE_ID)
@click.option("-i", "--id", "task_id", type=ONE_ID, help="The task (or subtask, 3.2) to change.")
@click.option("-t", "--title", help="New title.")
@click.option("-d", "--description", help="New description.")
@click.option("--details", help="New details (replaces the old ones).")
@click.option("--test-strategy", help="New test strategy.")
@click.option("--priority", type=PRIORITY, help="New priority.")
@click.option("-s", "--status", type=STATUS, help="New status.")
@click.option("-p", "--prompt", hidden=True)
@tag_option
@claim_option
@json_option
@pass_app
def update_task(
    app: App,
    id_arg: TaskId | None,
    task_id: TaskId | None,
    title: str | None,
    description: str | None,
    details: str | None,
    test_strategy: str | None,
    priority: str | None,
    status: str | None,
    prompt: str | None,
    tag: str | None,
    as_json: bool,
) -> None:
    """Change fields of a task or subtask; the fields not given stay as they are.

    \b
    Examples:
      tm update-task --id 3 --title "Set up CI on GitHub" --priority critical
      tm update-task 3.2 --details "Use the cached toolchain"
    """
    target = pick([("ID", id_arg), ("--id", task_id)], what="task id")
    if prompt is not None:
        raise click.UsageError(
            "--prompt needs an AI model to rewrite the task; give the fields to change instead "
            "(--title, --description, --details, --test-strategy, --priority, --status)"
        )
    given = {
        "title": title,
        "description": description,
        "details": details,
        "testStrategy": test_strategy,
        "priority": priority,
        "status": status,
    }
    fields = {key: value for key, value in given.items() if value is not None}
    if not fields:
        raise click.UsageError(
            "nothing to update: give at least one of --title, --description, --details, "
            "--test-strategy, --priority, --status"
        )
    item = app.execute(UpdateTask(id=target, fields=fields, tag=app.tag_for(tag))).result
    if as_json:
        render.echo_json(item)
        return
    click.echo(f"{render.label(item)} updated: {', '.join(fields)}")


@click.command("remove-task")
@click.argument("id_arg", metavar="[ID]", required=False, type=IDS)
@click.option("-i", "--id", "ids", type=IDS, help="Task ids, comma-separated; 3.2 is a subtask.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@tag_option
@claim_option
@json_option
@pass_app
def remove_task(
    app: App,
    id_arg: list[TaskId] | None,
    ids: list[TaskId] | None,
    yes: bool,
    tag: str | None,
    as_json: bool,
) -> None:
    """Remove tasks (with their subtasks) or subtasks, and every dependency on them.

    Asks first on a terminal; elsewhere (a script, a pipe) it refuses without --yes.

    \b
    Examples:
      tm remove-task --id 5 --yes
      tm remove-task 5,6.1 -y --json
    """
    wanted = pick([("ID", id_arg), ("--id", ids)], what="task id")
    name = app.tag_for(tag)
    if not yes:
        items = app.core.show(wanted, name).value  # an unknown id fails before the question
        listed = "; ".join(f"{render.label(item)} '{render.title(item)}'" for item in items)
        confirm_or_refuse(yes, f"Remove {listed}?")
    removed = app.execute(RemoveTask(ids=tuple(wanted), tag=name)).result
    if as_json:
        render.echo_json(removed)
        return
    for item in removed:
        subs = len(item.get("subtasks") or ())
        extra = f" (and its {subs} subtask{'s' if subs != 1 else ''})" if subs else ""
        click.echo(f"{render.label(item)} removed: {render.title(item)}{extra}")
