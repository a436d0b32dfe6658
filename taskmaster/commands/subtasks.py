"""Commands on subtasks: add, convert a task into one, remove (or promote), clear."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from taskmaster import ops
from taskmaster.commands.base import ParamSpec, TaskCommand, Work, param, task_field_params
from taskmaster.errors import InvalidInput
from taskmaster.events import TASK_CREATED, TASK_DELETED
from taskmaster.fields import creatable
from taskmaster.kinds import FLAG, SOME_IDS, TASK_NUMBER, TASK_NUMBERS
from taskmaster.model import Document, Task, TaskId


@dataclass(frozen=True, kw_only=True)
class AddSubtask(TaskCommand[Task]):
    name = "add-subtask"
    event = TASK_CREATED
    summary = "Add a subtask to a task."

    parent: int = param(TASK_NUMBER, "The task that gets the subtask.", subject=True)
    values: Mapping[str, Any]
    """The subtask's fields by their stored names (see `taskmaster.fields`)."""

    @classmethod
    def value_params(cls) -> tuple[ParamSpec, ...]:
        return task_field_params(creatable(subtask=True))

    def run(self, document: Document, tag: str, work: Work) -> Task:
        return ops.add_subtask(document, tag, self.parent, **self.values)


@dataclass(frozen=True, kw_only=True)
class ConvertToSubtask(TaskCommand[Task]):
    name = "convert-to-subtask"
    summary = "Make a task a subtask of another task."

    id: int = param(TASK_NUMBER, "The task to convert.", subject=True)
    parent: int = param(TASK_NUMBER, "The task it becomes a subtask of.")

    def run(self, document: Document, tag: str, work: Work) -> Task:
        return ops.convert_task_to_subtask(document, tag, self.id, self.parent)


@dataclass(frozen=True, kw_only=True)
class RemoveSubtask(TaskCommand[list[Task]]):
    name = "remove-subtask"
    event = TASK_DELETED
    summary = "Remove subtasks, or with convert make each a task of its own."

    ids: tuple[TaskId, ...] = param(SOME_IDS, "The subtasks ('3.2').", subject=True)
    convert: bool = param(FLAG, "Make each a standalone task instead.", default=False)

    def run(self, document: Document, tag: str, work: Work) -> list[Task]:
        for target in self.ids:
            if not target.is_subtask:
                raise InvalidInput(f"{target} is not a subtask id (expected N.M, such as 3.2)")
        return ops.remove_subtask(document, tag, list(self.ids), convert=self.convert)


@dataclass(frozen=True, kw_only=True)
class ClearSubtasks(TaskCommand[list[Task]]):
    name = "clear-subtasks"
    summary = "Remove every subtask of the given tasks, or of every task."

    ids: tuple[int, ...] | None = param(
        TASK_NUMBERS, "The tasks; every task of the tag when left out.", default=None, subject=True
    )

    def run(self, document: Document, tag: str, work: Work) -> list[Task]:
        return ops.clear_subtasks(document, tag, None if self.ids is None else list(self.ids))
