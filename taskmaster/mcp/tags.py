"""Tag tools: list_tags, add_tag, delete_tag, use_tag, rename_tag, copy_tag.

A tag is a separate task list in the same file. Answers are tag infos as `tm tags ... --json`
prints them: {"name", "taskCount", "completed", "metadata", "current"}.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from taskmaster.commands import AddTag, CopyTag, DeleteTag, RenameTag, UseTag
from taskmaster.errors import InvalidInput
from taskmaster.mcp.projects import Projects
from taskmaster.mcp.toolkit import (
    ClaimToken,
    ProjectRoot,
    TasksFile,
    ToolServer,
    about,
    command,
    execute,
    reply,
    tool,
)

TAG_NAME = "Letters, digits, '-' and '_'."

# The tools' parameters, described by the commands they fill.
NewName = Annotated[str, about(AddTag, "name", also=TAG_NAME)]
CopyFrom = Annotated[str | None, about(AddTag, "copyFrom")]
Description = Annotated[str | None, about(AddTag, "description")]
Deleted = Annotated[str, about(DeleteTag, "name", also="'master' cannot be deleted.")]
Used = Annotated[str, about(UseTag, "name")]
OldName = Annotated[str, about(RenameTag, "old")]
RenamedTo = Annotated[str, about(RenameTag, "new", also=TAG_NAME)]
Source = Annotated[str, about(CopyTag, "source")]
Target = Annotated[str, about(CopyTag, "target", also=TAG_NAME)]
CopyDescription = Annotated[str | None, about(CopyTag, "description")]


def register(server: ToolServer, projects: Projects) -> None:
    @tool(server, title="List Tags", read_only=True)
    def list_tags(
        projectRoot: ProjectRoot,
        showMetadata: Annotated[
            bool, Field(description="Include each tag's metadata (created, description...).")
        ] = False,
        file: TasksFile = None,
    ) -> str:
        """List the tags with their task counts; "current": true marks the one in use."""
        infos = projects.open(projectRoot, file).tags().value
        if not showMetadata:
            infos = [{k: v for k, v in info.items() if k != "metadata"} for info in infos]
        return reply(infos)

    @tool(server, title="Add Tag")
    def add_tag(
        projectRoot: ProjectRoot,
        name: NewName,
        copyFromCurrent: Annotated[
            bool, Field(description="Start with a copy of the current tag's tasks.")
        ] = False,
        copyFromTag: CopyFrom = None,
        description: Description = None,
        claimToken: ClaimToken = None,
        file: TasksFile = None,
    ) -> str:
        """Create a tag, empty or as a copy of another; returns its info."""
        if copyFromCurrent and copyFromTag:
            raise InvalidInput("give copyFromTag or copyFromCurrent, not both")
        core = projects.open(projectRoot, file)
        source = core.current_tag() if copyFromCurrent else copyFromTag
        args = {"name": name, "description": description, "copyFrom": source}
        names = {"copyFrom": "copyFromCurrent" if copyFromCurrent else "copyFromTag"}
        return reply(execute(core, command(AddTag, args, names), claimToken))

    @tool(server, title="Delete Tag", destructive=True)
    def delete_tag(
        projectRoot: ProjectRoot,
        name: Deleted,
        claimToken: ClaimToken = None,
        file: TasksFile = None,
    ) -> str:
        """Delete a tag and all its tasks, without confirmation; returns its last info.

        If it was the current tag, master becomes current.
        """
        core = projects.open(projectRoot, file)
        return reply(execute(core, command(DeleteTag, {"name": name}), claimToken))

    @tool(server, title="Use Tag", idempotent=True)
    def use_tag(
        projectRoot: ProjectRoot,
        name: Used,
        claimToken: ClaimToken = None,
        file: TasksFile = None,
    ) -> str:
        """Make a tag the current one: calls without a tag work on it (for every client)."""
        core = projects.open(projectRoot, file)
        return reply(execute(core, command(UseTag, {"name": name}), claimToken))

    @tool(server, title="Rename Tag", destructive=True)
    def rename_tag(
        projectRoot: ProjectRoot,
        oldName: OldName,
        newName: RenamedTo,
        claimToken: ClaimToken = None,
        file: TasksFile = None,
    ) -> str:
        """Rename a tag ('master' cannot be renamed); returns its info under the new name."""
        core = projects.open(projectRoot, file)
        rename = command(
            RenameTag, {"old": oldName, "new": newName}, {"old": "oldName", "new": "newName"}
        )
        return reply(execute(core, rename, claimToken))

    @tool(server, title="Copy Tag")
    def copy_tag(
        projectRoot: ProjectRoot,
        sourceName: Source,
        targetName: Target,
        description: CopyDescription = None,
        claimToken: ClaimToken = None,
        file: TasksFile = None,
    ) -> str:
        """Copy a tag with all its tasks under a new name; returns the new tag's info."""
        core = projects.open(projectRoot, file)
        args = {"source": sourceName, "target": targetName, "description": description}
        names = {"source": "sourceName", "target": "targetName"}
        return reply(execute(core, command(CopyTag, args, names), claimToken))
