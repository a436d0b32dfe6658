"""Subtask tools: add_subtask (new, or convert a task), update_subtask, remove_subtask,
clear_subtasks."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from taskmaster.commands import (
    AddSubtask,
    AppendSubtaskNotes,
    ClearSubtasks,
    ConvertToSubtask,
    RemoveSubtask,
)
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
    command,
    execute,
    reply,
    tool,
)
from taskmaster.model import TaskId, parse_ids, sibling

# The tools' parameters, described by the commands they fill.
Parent = Annotated[
    str, IDS, about(AddSubtask, "parent", description="The parent task's id, e.g. '15'.")
]
ConvertId = Annotated[
    str | None,
    IDS,
    about(
        ConvertToSubtask,
        "id",
        description="Instead of creating a subtask, turn this existing task into a subtask of the "
        "parent (leave title out then).",
    ),
]
Title = Annotated[str | None, about(AddSubtask, "title")]
Description = Annotated[str | None, about(AddSubtask, "description")]
Details = Annotated[str | None, about(AddSubtask, "details")]
Status = Annotated[str | None, about(AddSubtask, "status")]
Dependencies = Annotated[
    str | None,
    IDS,
    about(
        AddSubtask,
        "dependencies",
        also="Comma-separated: a bare number is a sibling subtask ('1' means 15.1 under "
        "parent 15), '2.3' any other subtask.",
    ),
]
RemoveIds = Annotated[
    str, IDS, about(RemoveSubtask, "ids", also="Comma-separated, e.g. '15.2,16.1'.")
]
Convert = Annotated[bool, about(RemoveSubtask, "convert")]
ClearIds = Annotated[
    str | None, IDS, about(ClearSubtasks, "ids", description="Task ids whose subtasks to remove.")
]
NoteId = Annotated[
    str, IDS, about(AppendSubtaskNotes, "id", description="The subtask 'parent.sub', e.g. '15.2'.")
]
NoteText = Annotated[
    str,
    about(
        AppendSubtaskNotes,
        "text",
        also="Appended to the subtask's details as is (no AI model rewrites it), wrapped in a "
        "timestamped <info added on ...> block.",
    ),
]


def register(server: ToolServer, projects: Projects) -> None:
    @tool(server, title="Add Subtask")
    def add_subtask(
        projectRoot: ProjectRoot,
        id: Parent,
        taskId: ConvertId = None,
        title: Title = None,
        description: Description = None,
        details: Details = None,
        status: Status = None,
        dependencies: Dependencies = None,
        tag: Tag = None,
        claimToken: ClaimToken = None,
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
            pair = {"id": taskId, "parent": id, "tag": name}
            convert = command(ConvertToSubtask, pair, {"id": "taskId", "parent": "id"})
            return reply(execute(core, convert, claimToken))
        if not (title and title.strip()):
            raise InvalidInput("give the subtask a title (or taskId to convert a task)")
        parent = TaskId.parse(id)
        deps = parse_ids(dependencies) if dependencies and dependencies.strip() else []
        args: dict[str, Any] = {
            "parent": id,
            "title": title,
            "description": description,
            "details": details,
            "dependencies": [str(sibling(parent, dep)) for dep in deps],
            "status": status,
            "tag": name,
        }
        return reply(execute(core, command(AddSubtask, args, {"parent": "id"}), claimToken))

    @tool(server, title="Remove Subtask", destructive=True)
    def remove_subtask(
        projectRoot: ProjectRoot,
        id: RemoveIds,
        convert: Convert = False,
        tag: Tag = None,
        claimToken: ClaimToken = None,
        file: TasksFile = None,
    ) -> str:
        """Remove subtasks (and dependencies on them), or promote them to tasks with convert.

        Returns the removed subtasks, or with convert the tasks created.
        """
        core = projects.open(projectRoot, file)
        args = {"ids": id, "convert": convert, "tag": projects.tag(tag)}
        return reply(execute(core, command(RemoveSubtask, args, {"ids": "id"}), claimToken))

    @tool(server, title="Clear Subtasks", destructive=True)
    def clear_subtasks(
        projectRoot: ProjectRoot,
        id: ClearIds = None,
        all_tasks: Annotated[
            bool,
            Field(validation_alias="all", description="Remove the subtasks of every task."),
        ] = False,
        tag: Tag = None,
        claimToken: ClaimToken = None,
        file: TasksFile = None,
    ) -> str:
        """Remove all subtasks of some tasks (id) or of every task (all: true).

        Returns the tasks that had subtasks, now without them.
        """
        if bool(id and id.strip()) == all_tasks:
            raise InvalidInput("give either id (task ids) or all: true, not both or neither")
        core = projects.open(projectRoot, file)
        args = {"ids": None if all_tasks else id, "tag": projects.tag(tag)}
        return reply(execute(core, command(ClearSubtasks, args, {"ids": "id"}), claimToken))

    @tool(server, title="Update Subtask")
    def update_subtask(
        projectRoot: ProjectRoot,
        id: NoteId,
        prompt: NoteText,
        research: Annotated[
            bool, Field(description="Accepted for compatibility; no research is done.")
        ] = False,
        tag: Tag = None,
        claimToken: ClaimToken = None,
        file: TasksFile = None,
    ) -> str:
        """Append a timestamped note to a subtask's details; earlier details are kept.

        Returns the subtask as {"id": "15.2", "parentId": 15, ...}.
        """
        core = projects.open(projectRoot, file)
        args = {"id": id, "text": prompt, "tag": projects.tag(tag)}
        note = command(AppendSubtaskNotes, args, {"text": "prompt"})
        return reply(execute(core, note, claimToken))
