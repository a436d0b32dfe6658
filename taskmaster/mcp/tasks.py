"""Task tools: get_tasks, get_task, next_task, set_task_status, add_task, update_task,
remove_task. Each is one call of the facade; answers have the shapes of `tm ... --json`."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from taskmaster import documents, paging
from taskmaster.commands import AddTask, RemoveTask, SetStatus, UpdateTask
from taskmaster.errors import InvalidInput
from taskmaster.mcp.projects import Projects
from taskmaster.mcp.toolkit import (
    IDS,
    ClaimToken,
    ProjectRoot,
    Tag,
    TasksFile,
    ToolServer,
    about,
    about_field,
    command,
    execute,
    reply,
    tool,
)
from taskmaster.model import STATUSES, check_status

STATUS_FILTER = (
    "Only items with this status; several separated by commas, e.g. 'pending,in-progress'. "
    f"Statuses: {', '.join(STATUSES)}."
)


# The write tools' parameters, described by the commands (and fields) they fill.
StatusIds = Annotated[str, IDS, about(SetStatus, "ids")]
NewStatus = Annotated[str, about(SetStatus, "status")]
Title = Annotated[str | None, about(AddTask, "title")]
Description = Annotated[str | None, about(AddTask, "description")]
Details = Annotated[str | None, about(AddTask, "details")]
TestStrategy = Annotated[str | None, about(AddTask, "testStrategy")]
Dependencies = Annotated[str | None, IDS, about(AddTask, "dependencies")]
Priority = Annotated[str | None, about(AddTask, "priority")]
UpdateId = Annotated[str, IDS, about(UpdateTask, "id")]
NewTitle = Annotated[str | None, about_field("title")]
NewDescription = Annotated[str | None, about_field("description")]
NewDetails = Annotated[str | None, about_field("details", also="Replaces the old details.")]
NewTestStrategy = Annotated[str | None, about_field("testStrategy")]
NewPriority = Annotated[str | None, about_field("priority")]
NewItemStatus = Annotated[str | None, about_field("status")]
RemoveIds = Annotated[str, IDS, about(RemoveTask, "ids")]
UPDATE_ARGS = ("title", "description", "details", "testStrategy", "priority", "status")
"""The fields update_task takes as arguments (metadata is left to the CLI and the API)."""


def statuses(text: str | None) -> list[str] | None:
    """A comma-separated status filter as a checked list; None when there is none."""
    wanted = [part.strip() for part in (text or "").split(",") if part.strip()]
    return [check_status(value) for value in dict.fromkeys(wanted)] or None


def _printed_size(item: Any) -> int:
    # Inside the answer's list every line of an item is indented four more spaces.
    text = reply(item)
    return len(text) + 4 * (text.count("\n") + 1) + 2


def _within_budget(
    result: Any, full: dict[str, Any], wanted: tuple[str, ...] | None, cursor: str | None
) -> dict[str, Any]:
    """`full` (a task list answer too big for an agent's client) cut to the budget: compact
    fields unless the caller chose some, the first tasks that fit, and the cursor of the
    rest (see `paging.ANSWER_BUDGET_CHARS`)."""
    fields = wanted or paging.COMPACT_FIELDS
    tasks = [paging.project(task, fields) for task in full["tasks"]]
    # Measured as the answer is printed (indented), then checked whole: cut further if the
    # estimate was short.
    shown = paging.fitting(tasks, paging.ANSWER_BUDGET_CHARS - 2_000, measure=_printed_size)
    while shown > 1 and len(reply({"tasks": tasks[:shown]})) > paging.ANSWER_BUDGET_CHARS - 1_000:
        shown = max(1, shown * 9 // 10)
    # The page of the tasks shown, from the same cursor: its nextCursor reads on after them
    # and carries the first page's fingerprint, as every page's does.
    next_cursor = paging.page(result.tasks, result.tag, limit=shown, cursor=cursor).next_cursor
    answer = {
        "tag": full["tag"],
        "tasks": tasks[:shown],
        "nextCursor": next_cursor,
        "changed": full.get("changed", False),
        "truncated": {
            "shown": shown,
            "of": len(full["tasks"]),
            "fields": list(fields),
            "why": f"the whole answer would exceed {paging.ANSWER_BUDGET_CHARS:,} characters; "
            "pass cursor=nextCursor for the next tasks, fields=... for other keys, limit=N "
            "for pages of N",
        },
    }
    return answer


def register(server: ToolServer, projects: Projects) -> None:
    @tool(server, title="Get Tasks", read_only=True)
    def get_tasks(
        projectRoot: ProjectRoot,
        status: Annotated[str | None, Field(description=STATUS_FILTER)] = None,
        withSubtasks: Annotated[
            bool, Field(description="Include each task's subtasks (nested in 'subtasks').")
        ] = False,
        ready: Annotated[
            bool, Field(description="Only tasks whose dependencies are all done.")
        ] = False,
        limit: Annotated[
            int | None,
            Field(description="At most this many tasks; the answer's nextCursor reads on."),
        ] = None,
        cursor: Annotated[
            str | None,
            Field(description="The nextCursor of the previous page: continue after it."),
        ] = None,
        fields: Annotated[
            str | None,
            Field(description="Only these task keys, comma-separated, e.g. 'id,title,status'."),
        ] = None,
        tag: Tag = None,
        file: TasksFile = None,
    ) -> str:
        """List the tasks of a tag, optionally filtered by status or readiness.

        With limit or cursor the answer also has nextCursor (null on the last page) and
        changed (the tag changed since the first page). Without limit, an answer that would
        exceed about 60,000 characters (under 25,000 tokens) is cut to fit: only id, title,
        status, priority and dependencies (unless fields names others), as many tasks as fit,
        "truncated" saying so and nextCursor reading on.

        Returns {"tag": name, "tasks": [task, ...]}; a task has id, title, description,
        details, testStrategy, status, priority, dependencies (ids; "2.3" is a subtask) and,
        with withSubtasks, subtasks.
        """
        core = projects.open(projectRoot, file)
        result = core.list_tasks(projects.tag(tag), status=statuses(status), ready=ready).value
        try:
            wanted = paging.parse_fields(fields) if fields is not None else None
            paged = None
            if limit is not None or cursor is not None:
                paged = paging.page(result.tasks, result.tag, limit=limit, cursor=cursor)
        except ValueError as err:
            raise InvalidInput(str(err)) from None
        tasks = [dict(task) for task in paged.tasks] if paged is not None else result.tasks
        body = documents.task_list_document(result.tag, tasks, with_subtasks=withSubtasks)
        if wanted is not None:
            body["tasks"] = [paging.project(task, wanted) for task in body["tasks"]]
        if paged is not None:
            body["nextCursor"] = paged.next_cursor
            body["changed"] = paged.changed
        text = reply(body)
        if limit is None and len(text) > paging.ANSWER_BUDGET_CHARS:
            return reply(_within_budget(result, body, wanted, cursor))
        return text

    @tool(server, title="Get Task", read_only=True)
    def get_task(
        projectRoot: ProjectRoot,
        id: Annotated[
            str,
            IDS,
            Field(description="Task id, or several separated by commas; '3.2' is subtask 2 of 3."),
        ],
        status: Annotated[
            str | None, Field(description="Only show the subtasks with this status (commas).")
        ] = None,
        tag: Tag = None,
        file: TasksFile = None,
    ) -> str:
        """Show tasks or subtasks in full (details, test strategy, subtasks).

        One id returns the item itself, several a list in the order given. A subtask comes
        as {"id": "3.2", "parentId": 3, ...}. An unknown id is an error.
        """
        core = projects.open(projectRoot, file)
        items = core.show(id, projects.tag(tag)).value
        wanted = statuses(status)
        if wanted:
            items = [_subtasks_with_status(item, wanted) for item in items]
        return reply(documents.items_document(items))

    @tool(server, title="Next Task", read_only=True)
    def next_task(
        projectRoot: ProjectRoot,
        unclaimed: Annotated[
            bool,
            Field(
                description="Leave out the tasks live claims hold (what claim_task would "
                "claim without an id)."
            ),
        ] = False,
        tag: Tag = None,
        file: TasksFile = None,
    ) -> str:
        """The task to work on next, or null when nothing is ready.

        A ready subtask of an in-progress task comes first; otherwise the pending or
        in-progress task whose dependencies are all done, highest priority first, then fewest
        dependencies, then lowest id. To take it with no other agent taking it too, use
        claim_task instead.
        """
        core = projects.open(projectRoot, file)
        return reply(core.next_task(projects.tag(tag), unclaimed=unclaimed).value)

    @tool(server, title="Set Task Status", idempotent=True)
    def set_task_status(
        projectRoot: ProjectRoot,
        id: StatusIds,
        status: NewStatus,
        tag: Tag = None,
        claimToken: ClaimToken = None,
        file: TasksFile = None,
    ) -> str:
        """Set the status of tasks or subtasks; returns the changed items as a list.

        A parent follows its subtasks: all done makes it done, any started makes it
        in-progress. Setting a task does not change its subtasks.
        """
        core = projects.open(projectRoot, file)
        args = {"ids": id, "status": status, "tag": projects.tag(tag)}
        return reply(execute(core, command(SetStatus, args, {"ids": "id"}), claimToken))

    @tool(server, title="Add Task")
    def add_task(
        projectRoot: ProjectRoot,
        title: Title = None,
        description: Description = None,
        details: Details = None,
        testStrategy: TestStrategy = None,
        dependencies: Dependencies = None,
        priority: Priority = None,
        prompt: Annotated[
            str | None,
            Field(
                description=(
                    "What the task is about, when no title is given: there is no AI model "
                    "here, so the text becomes the title and the description."
                )
            ),
        ] = None,
        tag: Tag = None,
        claimToken: ClaimToken = None,
        file: TasksFile = None,
    ) -> str:
        """Add a task with the next free id (status pending); returns the new task.

        Give a title (and whatever else is known), or just a prompt.
        """
        if not (title and title.strip()) and not (prompt and prompt.strip()):
            raise InvalidInput("give the task a title (or a prompt)")
        core = projects.open(projectRoot, file)
        args = {
            "title": title if title and title.strip() else " ".join(str(prompt).split()),
            "description": description if description is not None else prompt,
            "details": details,
            "testStrategy": testStrategy,
            "dependencies": dependencies,
            "priority": priority,
            "tag": projects.tag(tag),
        }
        return reply(execute(core, command(AddTask, args), claimToken))

    @tool(server, title="Update Task", idempotent=True)
    def update_task(
        projectRoot: ProjectRoot,
        id: UpdateId,
        title: NewTitle = None,
        description: NewDescription = None,
        details: NewDetails = None,
        testStrategy: NewTestStrategy = None,
        priority: NewPriority = None,
        status: NewItemStatus = None,
        prompt: Annotated[
            str | None,
            Field(description="Not supported (no AI model here): give the fields instead."),
        ] = None,
        tag: Tag = None,
        claimToken: ClaimToken = None,
        file: TasksFile = None,
    ) -> str:
        """Change fields of a task or subtask; fields left out stay as they are.

        Returns the changed item. There is no AI rewriting: pass the new field values.
        """
        if prompt is not None:
            raise InvalidInput(
                "update_task has no AI model to apply a prompt; give the new field values "
                f"instead ({', '.join(UPDATE_ARGS)})"
            )
        given = dict(
            zip(
                UPDATE_ARGS,
                (title, description, details, testStrategy, priority, status),
                strict=True,
            )
        )
        fields = {key: value for key, value in given.items() if value is not None}
        core = projects.open(projectRoot, file)
        args = {"id": id, "fields": fields, "tag": projects.tag(tag)}
        return reply(execute(core, command(UpdateTask, args), claimToken))

    @tool(server, title="Remove Task", destructive=True)
    def remove_task(
        projectRoot: ProjectRoot,
        id: RemoveIds,
        tag: Tag = None,
        claimToken: ClaimToken = None,
        file: TasksFile = None,
    ) -> str:
        """Remove tasks (with their subtasks) or subtasks, and every dependency on them.

        There is no confirmation step; returns the removed items as they were. All ids must
        exist or nothing is removed.
        """
        core = projects.open(projectRoot, file)
        args = {"ids": id, "tag": projects.tag(tag)}
        return reply(execute(core, command(RemoveTask, args, {"ids": "id"}), claimToken))


def _subtasks_with_status(item: dict[str, Any], wanted: list[str]) -> dict[str, Any]:
    if not item.get("subtasks"):
        return item
    subtasks = [sub for sub in item["subtasks"] if sub.get("status", "pending") in wanted]
    return {**item, "subtasks": subtasks}
