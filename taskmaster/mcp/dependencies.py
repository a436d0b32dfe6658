"""Dependency and move tools: add_dependency, remove_dependency, validate_dependencies,
fix_dependencies, move_task."""

from __future__ import annotations

from typing import Annotated, Any

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
Waiting = Annotated[str, IDS, about(AddDependency, "id")]
DependsOn = Annotated[
    str, IDS, about(AddDependency, "dependsOn", also="For a subtask, a bare number is a sibling.")
]
Dependency = Annotated[str, IDS, about(RemoveDependency, "dependsOn")]
Sources = Annotated[str, IDS, about(Move, "from", alias="from")]
Targets = Annotated[
    str | None,
    IDS,
    about(
        Move,
        "to",
        also="Within a tag: an unused id renumbers the item (an existing task id is refused), "
        "'P.S' makes it a subtask of P. Leave out with toTag.",
    ),
]
Before = Annotated[
    str | None,
    IDS,
    about(
        PlaceBefore,
        "before",
        description="Reorder instead: place the one 'from' task just before this task (no id "
        "changes). Leave out 'to' and toTag.",
    ),
]
FromTag = Annotated[
    str | None, about(MoveToTag, "tag", description="Across tags: the source tag (default: tag).")
]
ToTag = Annotated[
    str | None,
    about(
        MoveToTag,
        "toTag",
        also="Across tags: whole tasks go to the end of it (renumbered if their ids are taken).",
    ),
]
WithDependencies = Annotated[bool, about(MoveToTag, "withDependencies")]
IgnoreDependencies = Annotated[bool, about(MoveToTag, "ignoreDependencies")]


def _dependency(
    kind: type[AddDependency | RemoveDependency], task_id: str, depends_on: str, tag: str | None
) -> AddDependency | RemoveDependency:
    """The command on the item and its dependency as full ids, the way `tm add-dependency`
    reads them: for a subtask, a bare number names a sibling."""
    item, dep = TaskId.parse(task_id), TaskId.parse(depends_on)
    full = sibling(item, dep) if item.is_subtask else dep
    return command(kind, {"id": str(item), "dependsOn": str(full), "tag": tag})


def register(server: ToolServer, projects: Projects) -> None:
    @tool(server, title="Add Dependency", idempotent=True)
    def add_dependency(
        projectRoot: ProjectRoot,
        id: Waiting,
        dependsOn: DependsOn,
        tag: Tag = None,
        claimToken: ClaimToken = None,
        file: TasksFile = None,
    ) -> str:
        """Make a task or subtask depend on another; returns the changed item.

        Refuses a dependency on itself, on a missing id, and one that would close a cycle.
        For a subtask, a bare number names a sibling: id '3.2', dependsOn '1' is 3.1.
        """
        core = projects.open(projectRoot, file)
        return reply(
            execute(core, _dependency(AddDependency, id, dependsOn, projects.tag(tag)), claimToken)
        )

    @tool(server, title="Remove Dependency", idempotent=True)
    def remove_dependency(
        projectRoot: ProjectRoot,
        id: Waiting,
        dependsOn: Dependency,
        tag: Tag = None,
        claimToken: ClaimToken = None,
        file: TasksFile = None,
    ) -> str:
        """Remove one dependency of a task or subtask; returns the changed item.

        For a subtask, a bare number names a sibling.
        """
        core = projects.open(projectRoot, file)
        return reply(
            execute(
                core, _dependency(RemoveDependency, id, dependsOn, projects.tag(tag)), claimToken
            )
        )

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
    def fix_dependencies(
        projectRoot: ProjectRoot,
        tag: Tag = None,
        claimToken: ClaimToken = None,
        file: TasksFile = None,
    ) -> str:
        """Repair what validate_dependencies reports: remove invalid dependencies, and give the
        later copies of a shared id (and ids of 0 or below) the next free ids; references to a
        shared id keep naming its first item.

        Returns {"tag", "fixed": [the issues removed]}.
        """
        core = projects.open(projectRoot, file)
        name = projects.tag(tag) or core.current_tag()
        fixed = execute(core, FixDependencies(tag=name), claimToken)
        return reply(documents.fixed_document(name, fixed))

    @tool(server, title="Move Task", destructive=True)
    def move_task(
        projectRoot: ProjectRoot,
        from_ids: Sources,
        to: Targets = None,
        before: Before = None,
        fromTag: FromTag = None,
        toTag: ToTag = None,
        withDependencies: WithDependencies = False,
        ignoreDependencies: IgnoreDependencies = False,
        tag: Tag = None,
        claimToken: ClaimToken = None,
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
            place = {"from": str(sources[0]), "before": before, "tag": projects.tag(tag)}
            return reply(execute(core, command(PlaceBefore, place), claimToken))
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
            renumber = {"from": from_ids, "to": to, "tag": projects.tag(tag)}
            return reply(execute(core, command(Move, renumber), claimToken))
        if to and to.strip():
            raise InvalidInput("'to' is for moves within a tag; with toTag leave it out")
        if withDependencies and ignoreDependencies:
            raise InvalidInput("give withDependencies or ignoreDependencies, not both")
        core = projects.open(projectRoot, file)
        source = fromTag or projects.tag(tag) or core.current_tag()
        if source == toTag:
            raise InvalidInput(f"the tasks are already in tag '{toTag}'")
        args: dict[str, Any] = {
            "ids": from_ids,
            "tag": source,
            "toTag": toTag,
            "withDependencies": withDependencies,
            "ignoreDependencies": ignoreDependencies,
        }
        move = command(MoveToTag, args, {"ids": "from", "tag": "fromTag"})
        try:
            moved = execute(core, move, claimToken)
        except DependenciesLeftBehind as err:
            raise err.naming("withDependencies or ignoreDependencies") from None
        return reply(moved)
