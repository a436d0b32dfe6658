"""Commands on tasks: add, update, set status, remove, and the notes of a subtask."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from taskmaster import ops
from taskmaster.commands.base import ParamSpec, TaskCommand, Work, param, task_field_params
from taskmaster.errors import BadArgument, InvalidInput
from taskmaster.events import TASK_CREATED, TASK_DELETED
from taskmaster.fields import FIELDS_BY_NAME, UPDATABLE, creatable
from taskmaster.kinds import ID, OBJECT, SOME_IDS, STATUS, TEXT, Kind
from taskmaster.model import Document, Task, TaskId

_F = FIELDS_BY_NAME


@dataclass(frozen=True, kw_only=True)
class AddTask(TaskCommand[Task]):
    """`values`: the new task's fields by their stored names (`title`, `testStrategy`...);
    the ones a new task takes, and their defaults, are those of `taskmaster.fields`."""

    name = "add-task"
    event = TASK_CREATED
    summary = "Add a task with the tag's next id."

    values: Mapping[str, Any]

    @classmethod
    def value_params(cls) -> tuple[ParamSpec, ...]:
        return task_field_params(creatable())

    def run(self, document: Document, tag: str, work: Work) -> Task:
        return ops.add_task(document, tag, **self.values)


def _updatable_fields(value: Any, name: str) -> dict[str, Any]:
    fields: dict[str, Any] = OBJECT.parse(value, name)
    for key, given in fields.items():
        spec = FIELDS_BY_NAME.get(key)
        if spec is None or not spec.on_update:
            raise BadArgument(
                f"{key!r} cannot be updated: expected some of {', '.join(UPDATABLE)}",
                argument=key,
            )
        if given is not None:
            spec.kind.parse(given, key)
    return fields


UPDATE_FIELDS = Kind(
    "task-fields",
    {
        "type": "object",
        "properties": {name: FIELDS_BY_NAME[name].kind.schema for name in UPDATABLE},
        "additionalProperties": False,
    },
    _updatable_fields,
)


@dataclass(frozen=True, kw_only=True)
class UpdateTask(TaskCommand[Task]):
    name = "update-task"
    summary = "Change fields of a task or subtask; a field left out is left alone."

    id: TaskId = param(ID, "The task or subtask ('3.2') to change.", subject=True)
    fields: dict[str, Any] = param(
        UPDATE_FIELDS, "The new values, keyed by field name: " + ", ".join(UPDATABLE) + "."
    )

    def run(self, document: Document, tag: str, work: Work) -> Task:
        if not self.fields:
            raise InvalidInput("nothing to update: give at least one field")
        return ops.update_task(document, tag, self.id, self.fields)


@dataclass(frozen=True, kw_only=True)
class SetStatus(TaskCommand[list[Task]]):
    name = "set-status"
    summary = "Set the status of tasks or subtasks (a parent follows its subtasks)."

    ids: tuple[TaskId, ...] = param(SOME_IDS, "The tasks or subtasks ('3.2').", subject=True)
    status: str = param(STATUS, _F["status"].description)

    def run(self, document: Document, tag: str, work: Work) -> list[Task]:
        return ops.set_status(document, tag, list(self.ids), self.status)


@dataclass(frozen=True, kw_only=True)
class RemoveTask(TaskCommand[list[Task]]):
    name = "remove-task"
    event = TASK_DELETED
    summary = "Remove tasks or subtasks; references to them are dropped."

    ids: tuple[TaskId, ...] = param(
        SOME_IDS, "The tasks or subtasks ('3.2') to remove.", subject=True
    )

    def run(self, document: Document, tag: str, work: Work) -> list[Task]:
        return ops.remove_task(document, tag, list(self.ids))


@dataclass(frozen=True, kw_only=True)
class AppendSubtaskNotes(TaskCommand[Task]):
    name = "update-subtask"
    summary = "Append a timestamped note to a subtask's details."

    id: TaskId = param(ID, "The subtask ('3.2').", subject=True)
    text: str = param(TEXT, "The note, added as it is.")

    def run(self, document: Document, tag: str, work: Work) -> Task:
        return ops.append_subtask_details(document, tag, self.id, self.text, now=work.now)
