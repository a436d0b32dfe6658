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
from taskmaster.mcp.toolkit import ProjectRoot, TasksFile, ToolServer, reply, tool

TAG_NAME = "letters, digits, '-' and '_'"


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
        name: Annotated[str, Field(description=f"Name of the new tag ({TAG_NAME}).")],
        copyFromCurrent: Annotated[
            bool, Field(description="Start with a copy of the current tag's tasks.")
        ] = False,
        copyFromTag: Annotated[
            str | None, Field(description="Start with a copy of this tag's tasks.")
        ] = None,
        description: Annotated[str | None, Field(description="What the tag is for.")] = None,
        file: TasksFile = None,
    ) -> str:
        """Create a tag, empty or as a copy of another; returns its info."""
        if copyFromCurrent and copyFromTag:
            raise InvalidInput("give copyFromTag or copyFromCurrent, not both")
        core = projects.open(projectRoot, file)
        source = core.current_tag() if copyFromCurrent else copyFromTag
        add = AddTag(tag=name, description=description or "", copy_from=source)
        return reply(core.execute(add).result)

    @tool(server, title="Delete Tag", destructive=True)
    def delete_tag(
        projectRoot: ProjectRoot,
        name: Annotated[str, Field(description="The tag to delete ('master' cannot be).")],
        file: TasksFile = None,
    ) -> str:
        """Delete a tag and all its tasks, without confirmation; returns its last info.

        If it was the current tag, master becomes current.
        """
        return reply(projects.open(projectRoot, file).execute(DeleteTag(tag=name)).result)

    @tool(server, title="Use Tag", idempotent=True)
    def use_tag(
        projectRoot: ProjectRoot,
        name: Annotated[str, Field(description="The tag to switch to.")],
        file: TasksFile = None,
    ) -> str:
        """Make a tag the current one: calls without a tag work on it (for every client)."""
        return reply(projects.open(projectRoot, file).execute(UseTag(tag=name)).result)

    @tool(server, title="Rename Tag", destructive=True)
    def rename_tag(
        projectRoot: ProjectRoot,
        oldName: Annotated[str, Field(description="The tag's current name.")],
        newName: Annotated[str, Field(description=f"Its new name ({TAG_NAME}).")],
        file: TasksFile = None,
    ) -> str:
        """Rename a tag ('master' cannot be renamed); returns its info under the new name."""
        core = projects.open(projectRoot, file)
        return reply(core.execute(RenameTag(old=oldName, new=newName)).result)

    @tool(server, title="Copy Tag")
    def copy_tag(
        projectRoot: ProjectRoot,
        sourceName: Annotated[str, Field(description="The tag to copy.")],
        targetName: Annotated[str, Field(description=f"Name of the new tag ({TAG_NAME}).")],
        description: Annotated[str | None, Field(description="What the new tag is for.")] = None,
        file: TasksFile = None,
    ) -> str:
        """Copy a tag with all its tasks under a new name; returns the new tag's info."""
        core = projects.open(projectRoot, file)
        copy = CopyTag(source=sourceName, target=targetName, description=description)
        return reply(core.execute(copy).result)
