"""Task tools: get_tasks, get_task, next_task, set_task_status, add_task, update_task,
remove_task. Each is one call of the facade; answers have the shapes of `tm ... --json`."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from taskmaster import documents
from taskmaster.commands import AddTask, RemoveTask, SetStatus, UpdateTask
from taskmaster.errors import InvalidInput
from taskmaster.mcp.projects import Projects
from taskmaster.mcp.toolkit import (
    IDS,
    PRIORITY_ENUM,
    STATUS_ENUM,
    ProjectRoot,
    Tag,
    TasksFile,
    ToolServer,
    reply,
    tool,
)
from taskmaster.model import TaskId, check_status, parse_ids

STATUS_FILTER = (
    "Only items with this status; several separated by commas, e.g. 'pending,in-progress'. "
    "Statuses: pending, in-progress, done, review, deferred, cancelled, blocked."
)


def statuses(text: str | None) -> list[str] | None:
    """A comma-separated status filter as a checked list; None when there is none."""
    wanted = [part.strip() for part in (text or "").split(",") if part.strip()]
    return [check_status(value) for value in dict.fromkeys(wanted)] or None


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
        tag: Tag = None,
        file: TasksFile = None,
    ) -> str:
        """List the tasks of a tag, optionally filtered by status or readiness.

        Returns {"tag": name, "tasks": [task, ...]}; a task has id, title, description,
        details, testStrategy, status, priority, dependencies (ids; "2.3" is a subtask) and,
        with withSubtasks, subtasks.
        """
        core = projects.open(projectRoot, file)
        result = core.list_tasks(projects.tag(tag), status=statuses(status), ready=ready).value
        return reply(
            documents.task_list_document(result.tag, result.tasks, with_subtasks=withSubtasks)
        )

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
    def next_task(projectRoot: ProjectRoot, tag: Tag = None, file: TasksFile = None) -> str:
        """The task to work on next, or null when nothing is ready.

        A ready subtask of an in-progress task comes first; otherwise the pending or
        in-progress task whose dependencies are all done, highest priority first, then fewest
        dependencies, then lowest id.
        """
        core = projects.open(projectRoot, file)
        return reply(core.next_task(projects.tag(tag)).value)

    @tool(server, title="Set Task Status", idempotent=True)
    def set_task_status(
        projectRoot: ProjectRoot,
        id: Annotated[
            str,
            IDS,
            Field(description="Task or subtask ids, comma-separated, e.g. '15' or '15,16.2'."),
        ],
        status: Annotated[str, Field(description="The new status.", json_schema_extra=STATUS_ENUM)],
        tag: Tag = None,
        file: TasksFile = None,
    ) -> str:
        """Set the status of tasks or subtasks; returns the changed items as a list.

        A parent follows its subtasks: all done makes it done, any started makes it
        in-progress. Setting a task does not change its subtasks.
        """
        core = projects.open(projectRoot, file)
        command = SetStatus(
            ids=tuple(parse_ids(id)), status=check_status(status), tag=projects.tag(tag)
        )
        return reply(core.execute(command).result)

    @tool(server, title="Add Task")
    def add_task(
        projectRoot: ProjectRoot,
        title: Annotated[str | None, Field(description="The task's title.")] = None,
        description: Annotated[str | None, Field(description="A one-line description.")] = None,
        details: Annotated[str | None, Field(description="Implementation details.")] = None,
        testStrategy: Annotated[str | None, Field(description="How to verify the task.")] = None,
        dependencies: Annotated[
            str | None,
            IDS,
            Field(description="Ids this task depends on, comma-separated, e.g. '1,2.3'."),
        ] = None,
        priority: Annotated[
            str | None,
            Field(description="Priority (default medium).", json_schema_extra=PRIORITY_ENUM),
        ] = None,
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
        file: TasksFile = None,
    ) -> str:
        """Add a task with the next free id (status pending); returns the new task.

        Give a title (and whatever else is known), or just a prompt.
        """
        if not (title and title.strip()) and not (prompt and prompt.strip()):
            raise InvalidInput("give the task a title (or a prompt)")
        core = projects.open(projectRoot, file)
        deps = parse_ids(dependencies) if dependencies and dependencies.strip() else []
        command = AddTask(
            values={
                "title": title if title and title.strip() else " ".join(str(prompt).split()),
                "description": description if description is not None else (prompt or ""),
                "details": details or "",
                "testStrategy": testStrategy or "",
                "dependencies": tuple(deps),
                "priority": priority or "medium",
            },
            tag=projects.tag(tag),
        )
        return reply(core.execute(command).result)

    @tool(server, title="Update Task", idempotent=True)
    def update_task(
        projectRoot: ProjectRoot,
        id: Annotated[
            str, IDS, Field(description="The task or subtask to change, e.g. '15' or '15.2'.")
        ],
        title: Annotated[str | None, Field(description="New title.")] = None,
        description: Annotated[str | None, Field(description="New description.")] = None,
        details: Annotated[
            str | None, Field(description="New details (replace the old ones).")
        ] = None,
        testStrategy: Annotated[str | None, Field(description="New test strategy.")] = None,
        priority: Annotated[
            str | None, Field(description="New priority.", json_schema_extra=PRIORITY_ENUM)
        ] = None,
        status: Annotated[
            str | None, Field(description="New status.", json_schema_extra=STATUS_ENUM)
        ] = None,
        prompt: Annotated[
            str | None,
            Field(description="Not supported (no AI model here): give the fields instead."),
        ] = None,
        tag: Tag = None,
        file: TasksFile = None,
    ) -> str:
        """Change fields of a task or subtask; fields left out stay as they are.

        Returns the changed item. There is no AI rewriting: pass the new field values.
        """
        if prompt is not None:
            raise InvalidInput(
                "update_task has no AI model to apply a prompt; give the new field values "
                "instead (title, description, details, testStrategy, priority, status)"
            )
        given = {
            "title": title,
            "description": description,
            "details": details,
            "testStrategy": testStrategy,
            "priority": priority,
            "status": status,
        }
        fields = {key: value for key, value in given.items() if value is not None}
        core = projects.open(projectRoot, file)
        command = UpdateTask(id=TaskId.parse(id), fields=fields, tag=projects.tag(tag))
        return reply(core.execute(command).result)

    @tool(server, title="Remove Task", destructive=True)
    def remove_task(
        projectRoot: ProjectRoot,
        id: Annotated[
            str,
            IDS,
            Field(description="Ids to remove, comma-separated; '5.2' removes a subtask."),
        ],
        tag: Tag = None,
        file: TasksFile = None,
    ) -> str:
        """Remove tasks (with their subtasks) or subtasks, and every dependency on them.

        There is no confirmation step; returns the removed items as they were. All ids must
        exist or nothing is removed.
        """
        core = projects.open(projectRoot, file)
        command = RemoveTask(ids=tuple(parse_ids(id)), tag=projects.tag(tag))
        return reply(core.execute(command).result)


def _subtasks_with_status(item: dict[str, Any], wanted: list[str]) -> dict[str, Any]:
    if not item.get("subtasks"):
        return item
    subtasks = [sub for sub in item["subtasks"] if sub.get("status", "pending") in wanted]
    return {**item, "subtasks": subtasks}
