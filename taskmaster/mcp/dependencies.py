"""Dependency and move tools: add_dependency, remove_dependency, validate_dependencies,
fix_dependencies, move_task."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from taskmaster import documents
from taskmaster.commands import (
    AddDependency,
    FixDependencies,
    Move,
    MoveToTag,
    PlaceBefore,
    RemoveDependency,
)
from taskmaster.errors import DependenciesLeftBehind, InvalidInput
from taskmaster.kinds import TASK_NUMBER
from taskmaster.mcp.projects import Projects
from taskmaster.mcp.toolkit import IDS, ProjectRoot, Tag, TasksFile, ToolServer, reply, tool
from taskmaster.model import TaskId, parse_ids, sibling


def _pair(task_id: str, depends_on: str) -> tuple[TaskId, TaskId]:
    """The item and its dependency as full ids, the way `tm add-dependency` reads them."""
    item, dep = TaskId.parse(task_id), TaskId.parse(depends_on)
    return item, sibling(item, dep) if item.is_subtask else dep


def register(server: ToolServer, projects: Projects) -> None:
    @tool(server, title="Add Dependency", idempotent=True)
    def add_dependency(
        projectRoot: ProjectRoot,
        id: Annotated[str, IDS, Field(description="The task or subtask that waits.")],
        dependsOn: Annotated[
            str, IDS, Field(description="The task (or subtask, '2.3') it waits for.")
        ],
        tag: Tag = None,
        file: TasksFile = None,
    ) -> str:
        """Make a task or subtask depend on another; returns the changed item.

        Refuses a dependency on itself, on a missing id, and one that would close a cycle.
        For a subtask, a bare number names a sibling: id '3.2', dependsOn '1' is 3.1.
        """
        item, dep = _pair(id, dependsOn)
        core = projects.open(projectRoot, file)
        add = AddDependency(id=item, depends_on=dep, tag=projects.tag(tag))
        return reply(core.execute(add).result)

    @tool(server, title="Remove Dependency", idempotent=True)
    def remove_dependency(
        projectRoot: ProjectRoot,
        id: Annotated[str, IDS, Field(description="The task or subtask that waits.")],
        dependsOn: Annotated[str, IDS, Field(description="The dependency to remove.")],
        tag: Tag = None,
        file: TasksFile = None,
    ) -> str:
        """Remove one dependency of a task or subtask; returns the changed item.

        For a subtask, a bare number names a sibling.
        """
        item, dep = _pair(id, dependsOn)
        core = projects.open(projectRoot, file)
        remove = RemoveDependency(id=item, depends_on=dep, tag=projects.tag(tag))
        return reply(core.execute(remove).result)

    @tool(server, title="Validate Dependencies", read_only=True)
    def validate_dependencies(
        projectRoot: ProjectRoot, tag: Tag = None, file: TasksFile = None
    ) -> str:
        """Check every dependency of a tag: missing targets, self-references, duplicates, cycles;
        and ids shared by two items (kind "duplicate-id") or of 0 or below ("bad-id").

        Returns {"tag", "valid", "issues": [{kind, item, dependency, message}]}; issues are
        an answer, not an error. fix_dependencies repairs them.
        """
        core = projects.open(projectRoot, file)
        name = projects.tag(tag) or core.current_tag()
        issues = core.validate_dependencies(name).value
        return reply(documents.validation_document(name, issues))

    @tool(server, title="Fix Dependencies", destructive=True, idempotent=True)
    def fix_dependencies(projectRoot: ProjectRoot, tag: Tag = None, file: TasksFile = None) -> str:
        """Repair what validate_dependencies reports: remove invalid dependencies, and give the
        later copies of a shared id (and ids of 0 or below) the next free ids; references to a
        shared id keep naming its first item.

        Returns {"tag", "fixed": [the issues removed]}.
        """
        core = projects.open(projectRoot, file)
        name = projects.tag(tag) or core.current_tag()
        fixed = core.execute(FixDependencies(tag=name)).result
        return reply(documents.fixed_document(name, fixed))

    @tool(server, title="Move Task", destructive=True)
    def move_task(
        projectRoot: ProjectRoot,
        from_ids: Annotated[
            str,
            IDS,
            Field(
                validation_alias="from",
                description="Ids to move, comma-separated, e.g. '5' or '5,6.2'.",
            ),
        ],
        to: Annotated[
            str | None,
            IDS,
            Field(
                description=(
                    "Within a tag: where each 'from' id goes, one per id. An unused id "
                    "renumbers it (an existing task id is refused), 'P.S' makes it a "
                    "subtask of P. Leave out with toTag."
                )
            ),
        ] = None,
        before: Annotated[
            str | None,
            Field(
                description=(
                    "Reorder instead: place the one 'from' task just before this task (no id "
                    "changes). Leave out 'to' and toTag."
                )
            ),
        ] = None,
        fromTag: Annotated[
            str | None, Field(description="Across tags: the source tag (default: tag).")
        ] = None,
        toTag: Annotated[
            str | None,
            Field(
                description=(
                    "Across tags: move whole tasks to the end of this tag (renumbered if their "
                    "ids are taken there)."
                )
            ),
        ] = None,
        withDependencies: Annotated[
            bool, Field(description="Across tags: bring the tasks they depend on along.")
        ] = False,
        ignoreDependencies: Annotated[
            bool, Field(description="Across tags: drop dependencies on tasks left behind.")
        ] = False,
        tag: Tag = None,
        file: TasksFile = None,
    ) -> str:
        """Move tasks and subtasks: renumber, task <-> subtask, or to another tag.

        Within a tag give from and to; to move to another tag give from and toTag. Returns
        the moved items (with their new ids).
        """
        if before is not None and before.strip():
            if (to and to.strip()) or toTag is not None or fromTag is not None:
                raise InvalidInput("'before' reorders within a tag: leave out 'to' and toTag")
            sources = parse_ids(from_ids)
            if len(sources) != 1:
                raise InvalidInput("'before' places one task: give one 'from' id")
            core = projects.open(projectRoot, file)
            place = PlaceBefore(id=sources[0], before=TaskId.parse(before), tag=projects.tag(tag))
            return reply(core.execute(place).result)
        if toTag is None:
            if fromTag is not None:
                raise InvalidInput("fromTag needs toTag (within one tag, use tag)")
            if withDependencies or ignoreDependencies:
                raise InvalidInput(
                    "withDependencies/ignoreDependencies apply to moves between tags (toTag)"
                )
            if not (to and to.strip()):
                raise InvalidInput("missing 'to': where should the items go? (or give toTag)")
            core = projects.open(projectRoot, file)
            renumber = Move(
                sources=tuple(parse_ids(from_ids)),
                targets=tuple(parse_ids(to)),
                tag=projects.tag(tag),
            )
            return reply(core.execute(renumber).result)
        if to and to.strip():
            raise InvalidInput("'to' is for moves within a tag; with toTag leave it out")
        if withDependencies and ignoreDependencies:
            raise InvalidInput("give withDependencies or ignoreDependencies, not both")
        core = projects.open(projectRoot, file)
        source = fromTag or projects.tag(tag) or core.current_tag()
        if source == toTag:
            raise InvalidInput(f"the tasks are already in tag '{toTag}'")
        across = MoveToTag(
            ids=tuple(TASK_NUMBER.parse(item, "from") for item in parse_ids(from_ids)),
            to_tag=toTag,
            tag=source,
            with_dependencies=withDependencies,
            ignore_dependencies=ignoreDependencies,
        )
        try:
            moved = core.execute(across).result
        except DependenciesLeftBehind as err:
            raise err.naming("withDependencies or ignoreDependencies") from None
        return reply(moved)
