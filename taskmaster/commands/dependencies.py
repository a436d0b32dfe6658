"""Commands on dependencies: add, remove, and the repair of a tag's references."""

from __future__ import annotations

from dataclasses import dataclass

from taskmaster import ops
from taskmaster.commands.base import TaskCommand, Work, param
from taskmaster.kinds import ID
from taskmaster.model import Document, Task, TaskId


@dataclass(frozen=True, kw_only=True)
class AddDependency(TaskCommand[Task]):
    name = "add-dependency"
    summary = "Make a task or subtask wait for another (a cycle is refused, naming it)."

    id: TaskId = param(ID, "The task or subtask that waits.", subject=True)
    depends_on: TaskId = param(ID, "The task or subtask it waits for.")

    def run(self, document: Document, tag: str, work: Work) -> Task:
        return ops.add_dependency(document, tag, self.id, self.depends_on)


@dataclass(frozen=True, kw_only=True)
class RemoveDependency(TaskCommand[Task]):
    name = "remove-dependency"
    summary = "Remove one dependency of a task or subtask."

    id: TaskId = param(ID, "The task or subtask that waits.", subject=True)
    depends_on: TaskId = param(ID, "The dependency to remove.")

    def run(self, document: Document, tag: str, work: Work) -> Task:
        return ops.remove_dependency(document, tag, self.id, self.depends_on)


@dataclass(frozen=True, kw_only=True)
class FixDependencies(TaskCommand[list[ops.DependencyIssue]]):
    name = "fix-dependencies"
    summary = "Repair the tag: drop missing and self references, break cycles, renumber twins."

    def run(self, document: Document, tag: str, work: Work) -> list[ops.DependencyIssue]:
        return ops.fix_dependencies(document, tag)
