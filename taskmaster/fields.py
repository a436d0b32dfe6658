"""The fields of a task, described once.

Which fields a new task or subtask takes, which `update` may change, their kinds and the
words that explain them: the commands, REST validation, the OpenAPI document and the MCP tool
schemas all read this table. Adding a field means adding a row here (and a CLI option, whose
name follows claude-task-master's, if it has one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from taskmaster.kinds import IDS, OBJECT, PRIORITY, STATUS, TEXT, Kind

REQUIRED: Any = object()


@dataclass(frozen=True, slots=True)
class TaskField:
    name: str
    """The key in the task file (and in every JSON answer and request)."""
    kind: Kind
    description: str
    on_create: bool = True
    """Given when a task is created (add-task, POST /tasks, MCP add_task)."""
    on_update: bool = True
    """Changed by update (update-task, PATCH /tasks/{id}, MCP update_task)."""
    in_subtask: bool = True
    """Subtasks have it too, and take it when created."""
    default: Any = ""
    """The value of a new task that was given none (REQUIRED: it must be given)."""


TASK_FIELDS = (
    TaskField("title", TEXT, "A short title.", default=REQUIRED),
    TaskField("description", TEXT, "What the task is about, in a sentence or two."),
    TaskField("details", TEXT, "How to do it: implementation notes."),
    TaskField("testStrategy", TEXT, "How to verify the task.", in_subtask=False),
    TaskField(
        "priority",
        PRIORITY,
        "How urgent: low, medium, high or critical.",
        in_subtask=False,
        default="medium",
    ),
    TaskField(
        "status",
        STATUS,
        "pending, in-progress, done, review, deferred, cancelled or blocked.",
        default="pending",
    ),
    TaskField(
        "dependencies",
        IDS,
        "Ids of the tasks this one waits for ('2.3' is subtask 3 of task 2).",
        on_update=False,
        default=(),
    ),
    TaskField(
        "metadata",
        OBJECT,
        "Free-form data of your own; kept as it is.",
        on_create=False,
        in_subtask=False,
        default=None,
    ),
)

FIELDS_BY_NAME = {field.name: field for field in TASK_FIELDS}
UPDATABLE = tuple(field.name for field in TASK_FIELDS if field.on_update)
"""What `update` may change, in table order."""


def creatable(*, subtask: bool = False) -> tuple[TaskField, ...]:
    """The fields a new task (or subtask) takes."""
    return tuple(
        field for field in TASK_FIELDS if field.on_create and (field.in_subtask or not subtask)
    )
