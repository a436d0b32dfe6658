"""Commands that move tasks: renumber within a tag, reorder, and move to another tag."""

from __future__ import annotations

from dataclasses import dataclass

from taskmaster import ops
from taskmaster.commands.base import TaskCommand, Work, param
from taskmaster.events import TAG_CHANGED
from taskmaster.kinds import FLAG, ID, SOME_IDS, TAG, TASK_NUMBERS
from taskmaster.model import Document, Task, TaskId


@dataclass(frozen=True, kw_only=True)
class Move(TaskCommand[list[Task]]):
    name = "move"
    summary = "Move tasks or subtasks to new ids (task <-> subtask, renumber)."

    sources: tuple[TaskId, ...] = param(SOME_IDS, "What to move.", arg="from", subject=True)
    targets: tuple[TaskId, ...] = param(SOME_IDS, "Where to, one id per source.", arg="to")

    def run(self, document: Document, tag: str, work: Work) -> list[Task]:
        return ops.move_tasks(document, tag, list(self.sources), list(self.targets))


@dataclass(frozen=True, kw_only=True)
class PlaceBefore(TaskCommand[Task]):
    name = "place-before"
    summary = "Reorder: put a task just before another one; no id changes."

    id: TaskId = param(ID, "The task to move.", arg="from", subject=True)
    before: TaskId = param(ID, "The task it goes before.")

    def run(self, document: Document, tag: str, work: Work) -> Task:
        return ops.place_before(document, tag, self.id, self.before)


@dataclass(frozen=True, kw_only=True)
class MoveToTag(TaskCommand[list[Task]]):
    """`tag` is the tag the tasks leave (the current one when left out)."""

    name = "move-to-tag"
    event = TAG_CHANGED
    summary = "Move tasks (with their subtasks) to another tag."

    ids: tuple[int, ...] = param(TASK_NUMBERS, "The tasks to move.", subject=True)
    to_tag: str = param(TAG, "The tag they move to.")
    with_dependencies: bool = param(
        FLAG, "Also move the tasks they depend on, in the same tag.", default=False
    )
    ignore_dependencies: bool = param(
        FLAG, "Move them anyway, dropping dependencies on tasks that stay.", default=False
    )

    def also_changes(self) -> str | None:
        return self.to_tag

    def run(self, document: Document, tag: str, work: Work) -> list[Task]:
        return ops.move_to_tag(
            document,
            list(self.ids),
            tag,
            self.to_tag,
            with_dependencies=self.with_dependencies,
            ignore_dependencies=self.ignore_dependencies,
        )
