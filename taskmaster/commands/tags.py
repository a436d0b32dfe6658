"""Commands on tags: add, copy, rename, delete, and choosing the current tag.

The current tag is part of the project's stored state, so choosing it, or renaming or deleting
the tag in use, is one transaction like any other write: the task document and the state
change together, under one revision and one announcement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from taskmaster import ops
from taskmaster.commands.base import Command, Work, current_tag_of, param
from taskmaster.errors import TagNotFound
from taskmaster.events import TAG_CHANGED
from taskmaster.kinds import TAG, TEXT
from taskmaster.model import DEFAULT_TAG
from taskmaster.storage.base import ProjectState

TagInfo = dict[str, Any]


def marked_current(work: Work, info: TagInfo) -> TagInfo:
    """A tag's answer in the shape a tag listing gives it."""
    return {**info, "current": info["name"] == current_tag_of(work.document, work.state)}


def _follow(work: Work, gone: str, replacement: str) -> None:
    """The project's current tag follows a rename, and falls back to master on a delete."""
    if work.state.current_tag == gone:
        work.draft.state = ProjectState(replacement)


@dataclass(frozen=True, kw_only=True)
class AddTag(Command[TagInfo]):
    name = "add-tag"
    event = TAG_CHANGED
    summary = "Create a tag, empty or with a copy of another tag's tasks."

    tag: str = param(TAG, "The new tag's name.", arg="name")
    description: str = param(TEXT, "What the tag is for.", default="")
    copy_from: str | None = param(TAG, "Copy this tag's tasks into the new one.", default=None)

    def apply(self, work: Work) -> TagInfo:
        work.tag = self.tag
        info = ops.add_tag(
            work.document,
            self.tag,
            description=self.description,
            copy_from=self.copy_from,
            now=work.now,
        )
        return marked_current(work, info)


@dataclass(frozen=True, kw_only=True)
class CopyTag(Command[TagInfo]):
    name = "copy-tag"
    event = TAG_CHANGED
    summary = "Copy a tag with its tasks under a new name."

    source: str = param(TAG, "The tag to copy.")
    target: str = param(TAG, "The new tag's name.")
    description: str | None = param(
        TEXT, "The new tag's description (default: Copy of 'SOURCE').", default=None
    )

    def apply(self, work: Work) -> TagInfo:
        work.tag = self.target
        info = ops.copy_tag(
            work.document, self.source, self.target, description=self.description, now=work.now
        )
        return marked_current(work, info)


@dataclass(frozen=True, kw_only=True)
class RenameTag(Command[TagInfo]):
    name = "rename-tag"
    event = TAG_CHANGED
    summary = "Rename a tag; the current tag follows."

    old: str = param(TAG, "The tag's name now.")
    new: str = param(TAG, "Its new name.")

    def apply(self, work: Work) -> TagInfo:
        work.tag = self.new
        info = ops.rename_tag(work.document, self.old, self.new)
        _follow(work, self.old, self.new)
        return marked_current(work, info)


@dataclass(frozen=True, kw_only=True)
class DeleteTag(Command[TagInfo]):
    name = "delete-tag"
    event = TAG_CHANGED
    summary = "Delete a tag and its tasks; master is protected."

    tag: str = param(TAG, "The tag to delete.", arg="name")

    def apply(self, work: Work) -> TagInfo:
        work.tag = self.tag
        info = ops.delete_tag(work.document, self.tag)
        _follow(work, self.tag, DEFAULT_TAG)
        return info


@dataclass(frozen=True, kw_only=True)
class UseTag(Command[TagInfo]):
    name = "use-tag"
    event = TAG_CHANGED
    summary = "Choose the tag that commands without a tag work on."

    tag: str = param(TAG, "The tag to use.", arg="name")

    def apply(self, work: Work) -> TagInfo:
        work.tag = self.tag
        if not work.document.has_tag(self.tag):
            raise TagNotFound.named(self.tag)
        # Assigned even when it names the same tag: choosing a tag is how a user repairs a
        # state file that cannot be read.
        work.draft.state = ProjectState(self.tag)
        info = next(each for each in ops.list_tags(work.document) if each["name"] == self.tag)
        return {**info, "current": True}
