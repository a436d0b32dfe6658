"""Subtask tools: add_subtask (new, or convert a task), update_subtask, remove_subtask,
clear_subtasks."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from taskmaster.commands import (
    AddSubtask,
    AppendSubtaskNotes,
    ClearSubtasks,
    ConvertToSubtask,
    RemoveSubtask,
)
from taskmaster.errors import InvalidInput
from taskmaster.kinds import TASK_NUMBER
from taskmaster.mcp.projects import Projects
from taskmaster.mcp.toolkit import (
    IDS,
    STATUS_ENUM,
    ProjectRoot,
    Tag,
    TasksFile,
    ToolServer,
    reply,
    tool,
)
from taskmaster.model import TaskId, parse_ids, sibling


def register(server: ToolServer, projects: Projects) -> None:
    @tool(server, title="Add Subtask")
    def add_subtask(
        projectRoot: ProjectRoot,
        id: Annotated[str, IDS, Field(description="The parent task's id, e.g. '15'.")],
        taskId: Annotated[
            str | None,
            IDS,
            Field(
                description=(
                    "Instead of creating a subtask, turn this existing task into a subtask "
                    "of the parent (leave title out then)."
                )
            ),
        ] = None,
        title: Annotated[str | None, Field(description="The new subtask's title.")] = None,
        description: Annotated[str | None, Field(description="A one-line description.")] = None,
        details: Annotated[str | None, Field(description="Implementation details.")] = None,
        status: Annotated[
            str | None,
            Field(description="Status (default pending).", json_schema_extra=STATUS_ENUM),
        ] = None,
        dependencies: Annotated[
            str | None,
            IDS,
            Field(
                description=(
                    "Ids it depends on, comma-separated: a bare number is a sibling subtask "
                    "('1' means 15.1 under parent 15), '2.3' any other subtask."
                )
            ),
        ] = None,
        tag: Tag = None,
        file: TasksFile = None,
    ) -> str:
        """Add a subtask to a task (the next free subtask id), or convert a task into one.

        Returns the subtask as {"id": "15.3", "parentId": 15, ...}.
        """
        core = projects.open(projectRoot, file)
        name = projects.tag(tag)
        if taskId is not None:
            if title is not None:
                raise InvalidInput("give either taskId (convert a task) or title, not both")
            convert = ConvertToSubtask(
                id=TASK_NUMBER.parse(taskId, "taskId"),
                parent=TASK_NUMBER.parse(id, "id"),
                tag=name,
            )
            return reply(core.execute(convert).result)
        if not (title and title.strip()):
            raise InvalidInput("give the subtask a title (or taskId to convert a task)")
        parent = TaskId.parse(id)
        deps = parse_ids(dependencies) if dependencies and dependencies.strip() else []
        add = AddSubtask(
            parent=TASK_NUMBER.parse(parent, "id"),
            values={
                "title": title,
                "description": description or "",
                "details": details or "",
                "dependencies": tuple(sibling(parent, dep) for dep in deps),
                "status": status or "pending",
            },
            tag=name,
        )
        return reply(core.execute(add).result)

    @tool(server, title="Remove Subtask", destructive=True)
    def remove_subtask(
        projectRoot: ProjectRoot,
        id: Annotated[
            str, IDS, Field(description="Subtask ids 'parent.sub', comma-separated: '15.2,16.1'.")
        ],
        convert: Annotated[
            bool,
            Field(description="Turn each subtask into a standalone task instead of deleting it."),
        ] = False,
        tag: Tag = None,
        file: TasksFile = None,
    ) -> str:
        """Remove subtasks (and dependencies on them), or promote them to tasks with convert.

        Returns the removed subtasks, or with convert the tasks created.
        """
        core = projects.open(projectRoot, file)
        remove = RemoveSubtask(ids=tuple(parse_ids(id)), convert=convert, tag=projects.tag(tag))
        return reply(core.execute(remove).result)

    @tool(server, title="Clear Subtasks", destructive=True)
    def clear_subtasks(
        projectRoot: ProjectRoot,
        id: Annotated[
            str | None,
            IDS,
            Field(description="Task ids whose subtasks to remove, comma-separated."),
        ] = None,
        all_tasks: Annotated[
            bool,
            Field(validation_alias="all", description="Remove the subtasks of every task."),
        ] = False,
        tag: Tag = None,
        file: TasksFile = None,
    ) -> str:
        """Remove all subtasks of some tasks (id) or of every task (all: true).

        Returns the tasks that had subtasks, now without them.
        """
        if bool(id and id.strip()) == all_tasks:
            raise InvalidInput("give either id (task ids) or all: true, not both or neither")
        core = projects.open(projectRoot, file)
        numbers = (
            None
            if all_tasks
            else tuple(TASK_NUMBER.parse(item, "id") for item in parse_ids(id or ""))
        )
        return reply(core.execute(ClearSubtasks(ids=numbers, tag=projects.tag(tag))).result)

    @tool(server, title="Update Subtask")
    def update_subtask(
        projectRoot: ProjectRoot,
        id: Annotated[str, IDS, Field(description="The subtask 'parent.sub', e.g. '15.2'.")],
        prompt: Annotated[
            str,
            Field(
                description=(
                    "Text to append to the subtask's details, as is (no AI model rewrites it), "
                    "wrapped in a timestamped <info added on ...> block."
                )
            ),
        ],
        research: Annotated[
            bool, Field(description="Accepted for compatibility; no research is done.")
        ] = False,
        tag: Tag = None,
        file: TasksFile = None,
    ) -> str:
        """Append a timestamped note to a subtask's details; earlier details are kept.

        Returns the subtask as {"id": "15.2", "parentId": 15, ...}.
        """
        core = projects.open(projectRoot, file)
        note = AppendSubtaskNotes(id=TaskId.parse(id), text=prompt, tag=projects.tag(tag))
        return reply(core.execute(note).result)
