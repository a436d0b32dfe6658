"""Tags: list, add (optionally as a copy), copy, rename, delete."""

from __future__ import annotations

from typing import Any

from taskmaster.errors import InvalidInput, ProtectedTag, TagExists, TagNotFound
from taskmaster.model import DEFAULT_TAG, Document, check_tag_name, is_done
from taskmaster.ops._atomic import json_copy

# At the top level of a file these two words make the reference tool read it as flat.
_RESERVED = frozenset({"tasks", "metadata"})


def _info(doc: Document, name: str) -> dict[str, Any]:
    tag = doc.tag(name)
    return {
        "name": name,
        "taskCount": len(tag["tasks"]),
        "metadata": dict(tag.get("metadata") or {}),
    }


def _check_new_name(doc: Document, name: str) -> str:
    check_tag_name(name)
    if doc.has_tag(name):
        raise TagExists.named(name)
    if name in _RESERVED:
        raise InvalidInput(f"'{name}' cannot be a tag name: the task file format reserves it")
    if not doc.flat and name in doc.data:
        # Some other top-level key (not a tag) uses the name; replacing it would lose data.
        raise InvalidInput(f"'{name}' cannot be a tag name: the task file already uses that key")
    return name


def list_tags(doc: Document) -> list[dict[str, Any]]:
    """Every tag with its task count, done count and metadata, in file order."""
    result = []
    for name in doc.tag_names():
        tag = doc.tag(name)
        tasks = tag["tasks"]
        result.append(
            {
                "name": name,
                "taskCount": len(tasks),
                "completed": sum(1 for task in tasks if is_done(task.get("status"))),
                "metadata": dict(tag.get("metadata") or {}),
            }
        )
    return result


def add_tag(
    doc: Document,
    name: str,
    *,
    description: str = "",
    copy_from: str | None = None,
    now: str,
) -> dict[str, Any]:
    """Create a tag, empty or with a deep copy of `copy_from`'s tasks. A flat file becomes
    tagged. Returns ``{"name", "taskCount", "metadata"}``."""
    _check_new_name(doc, name)
    tasks: list[Any] = []
    if copy_from is not None:
        tasks = json_copy(doc.tasks(copy_from))
    doc.put_tag(
        name,
        {"tasks": tasks, "metadata": {"created": now, "updated": now, "description": description}},
    )
    return _info(doc, name)


def copy_tag(
    doc: Document, source: str, dest: str, *, description: str | None = None, now: str
) -> dict[str, Any]:
    """`add_tag` copying `source`; the description defaults to ``Copy of '<source>'``."""
    if not doc.has_tag(source):
        raise TagNotFound.named(source)
    if description is None:
        description = f"Copy of '{source}'"
    return add_tag(doc, dest, description=description, copy_from=source, now=now)


def rename_tag(doc: Document, old: str, new: str) -> dict[str, Any]:
    """Rename a tag in place (it keeps its position in the file); `master` is protected."""
    if old == DEFAULT_TAG:
        raise ProtectedTag.named(DEFAULT_TAG, "renamed")
    value = doc.tag(old)
    _check_new_name(doc, new)
    doc.put_tag(new, value, after=old)
    doc.drop_tag(old)
    return _info(doc, new)


def delete_tag(doc: Document, name: str) -> dict[str, Any]:
    """Delete a tag and its tasks; `master` is protected. Returns the deleted tag's info."""
    if name == DEFAULT_TAG:
        raise ProtectedTag.named(DEFAULT_TAG, "deleted")
    info = _info(doc, name)
    doc.drop_tag(name)
    return info


__all__ = [
    "add_tag",
    "copy_tag",
    "delete_tag",
    "list_tags",
    "rename_tag",
]
