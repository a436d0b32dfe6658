"""Field-level differences between two versions of a project, and their inverse (pure).

A change names one place and its value before and after:

- ``{"tag": T, "id": "5", "field": "status", ...}``: one field of task 5 of tag T (every key of
  a task except ``subtasks``, whose items are places of their own);
- ``{"tag": T, "id": "5.2", "field": "status", ...}``: one field of subtask 2 of task 5;
- ``{"tag": T, "id": "5", "field": None, "index": 3, ...}``: the whole task (or subtask), added
  or removed, at that position of its list;
- ``{"tag": T, "id": None, "field": "metadata", ...}``: a key of the tag itself (``#order``:
  the order of its task ids, when tasks moved without being added or removed);
- ``{"tag": T, "id": None, "field": None, ...}``: the whole tag, created or deleted;
- ``{"tag": None, "id": None, "field": "currentTag", ...}``: the project's current tag.

A key that could be read as one of these markers is named with ``=`` before it (see `LITERAL`).

``before`` or ``after`` is missing when the place did not exist on that side. Applying the
inverse of a list of changes (`invert`) to the document they lead to gives back the document
they came from; `overlaps` says whether two lists of changes touch a common place.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import compress, count, repeat
from typing import Any

from taskmaster.model import Document

Change = dict[str, Any]
ORDER = "#order"
LITERAL = "="
"""Before a field name that is a key exactly as written: a task or tag key that could be read
as one of the markers (``#order``, a tag's ``metadata.X``) or that starts with ``=`` itself,
so that a file holding such keys still gets an exact difference and inverse."""
"""The pseudo-field of a tag whose value is the order of its task ids."""
CURRENT_TAG = "currentTag"
STAMPS = frozenset({"metadata.updated"})
"""Fields that say when something last changed, not what it holds: two changes that both
stamp them do not overlap, and an undo stamps them anew instead of restoring them."""
_MISSING: Any = object()


def diff(
    before: Document | None,
    after: Document,
    before_tag: str | None = None,
    after_tag: str | None = None,
    positions: Mapping[str, Sequence[int]] | None = None,
) -> list[Change]:
    """Every change from `before` to `after` (and of the current tag), in document order:
    tags in the order `after` keeps them, removed ones last.

    `positions` is what a backend that tracks changes knows: for each tag named, the same
    number of tasks on both sides and the same object wherever it lists no position, so only
    those positions are compared (a write costs what it changes, not the tag's size)."""
    changes: list[Change] = []
    if before_tag != after_tag:
        changes.append(_change(None, None, CURRENT_TAG, before_tag, after_tag))
    if before is None:
        for name in after.tag_names():
            changes.append(_change(name, None, None, _MISSING, after.tag(name)))
        return changes
    old_names = before.tag_names()
    old_set = set(old_names)
    for name in after.tag_names():
        new_tag = after.tag(name)
        if name not in old_set:
            changes.append(_change(name, None, None, _MISSING, new_tag))
            continue
        old_tag = before.tag(name)
        if old_tag == new_tag:  # the common case, compared at C speed
            continue
        hint = positions.get(name) if positions is not None else None
        changes.extend(_tag_diff(name, old_tag, new_tag, hint))
    new_set = set(after.tag_names())
    for name in old_names:
        if name not in new_set:
            changes.append(_change(name, None, None, before.tag(name), _MISSING))
    return changes


def _change(tag: str | None, item: str | None, field: str | None, old: Any, new: Any) -> Change:
    change: Change = {"tag": tag, "id": item, "field": field}
    if old is not _MISSING:
        change["before"] = old
    if new is not _MISSING:
        change["after"] = new
    return change


def _tag_diff(
    name: str, old: dict[str, Any], new: dict[str, Any], hint: Sequence[int] | None = None
) -> Iterator[Change]:
    for key in _keys(old, new, skip="tasks"):
        old_value, new_value = old.get(key, _MISSING), new.get(key, _MISSING)
        if old_value == new_value:
            continue
        if key == "metadata" and isinstance(old_value, dict) and isinstance(new_value, dict):
            # Key by key: every write stamps `updated`, which must not make every change
            # overlap every other one.
            for sub in _keys(old_value, new_value, skip=""):
                before, after = old_value.get(sub, _MISSING), new_value.get(sub, _MISSING)
                if before != after:
                    yield _change(name, None, f"metadata.{sub}", before, after)
            continue
        yield _change(name, None, _field_name(key, tag_level=True), old_value, new_value)
    old_tasks = old.get("tasks") or []
    new_tasks = new.get("tasks") or []
    if hint is not None and len(old_tasks) == len(new_tasks):
        hinted = _hinted(old_tasks, new_tasks, hint)
        if hinted is not None:
            for index in hinted:
                key = _item_id(None, new_tasks[index])
                yield from _item_diff(name, key, old_tasks[index], new_tasks[index], subtasks=True)
            return
    if old_tasks != new_tasks:
        yield from _items_diff(name, None, old_tasks, new_tasks)


def _hinted(old: list[Any], new: list[Any], hint: Sequence[int]) -> list[int] | None:
    """The hinted positions that differ, if each holds the same id on both sides (None:
    something moved after all; compare the whole list)."""
    differing = []
    for index in sorted(set(hint)):
        if not 0 <= index < len(new):
            return None
        a, b = old[index], new[index]
        if a is b or a == b:
            continue
        if not (isinstance(a, dict) and isinstance(b, dict)) or a.get("id") != b.get("id"):
            return None
        differing.append(index)
    return differing


def _keys(old: Mapping[str, Any], new: Mapping[str, Any], skip: str) -> list[str]:
    keys = [key for key in new if key != skip]
    keys.extend(key for key in old if key != skip and key not in new)
    return keys


def _items_diff(
    tag: str, parent: str | None, old_items: list[Any], new_items: list[Any]
) -> Iterator[Change]:
    """Tasks (parent None) or the subtasks of task `parent`, matched by id."""
    in_place = _changed_in_place(old_items, new_items)
    if in_place is not None:
        for index in in_place:
            key = _item_id(parent, new_items[index])
            yield from _item_diff(
                tag, key, old_items[index], new_items[index], subtasks=parent is None
            )
        return
    old_by_id = {_item_id(parent, item): (index, item) for index, item in enumerate(old_items)}
    new_by_id = {_item_id(parent, item): (index, item) for index, item in enumerate(new_items)}
    if len(old_by_id) != len(old_items) or len(new_by_id) != len(new_items):
        # Duplicate ids (a file edited by hand): items cannot be told apart, so the list is
        # one value.
        field = "subtasks" if parent else "tasks"
        yield _change(tag, parent, field, old_items, new_items)
        return
    for key, (index, item) in old_by_id.items():
        if key not in new_by_id:
            yield {**_change(tag, key, None, item, _MISSING), "index": index}
    for key, (index, item) in new_by_id.items():
        found = old_by_id.get(key)
        if found is None:
            yield {**_change(tag, key, None, _MISSING, item), "index": index}
        elif found[1] != item:
            yield from _item_diff(tag, key, found[1], item, subtasks=parent is None)
    common_old = [key for key in old_by_id if key in new_by_id]
    common_new = [key for key in new_by_id if key in old_by_id]
    if common_old != common_new:
        owner = parent  # None: the tag's task order; "5": task 5's subtask order
        # The items on both sides only: an undo takes the added ones out before it reorders
        # and puts the removed ones back after, each at its own position.
        yield _change(tag, owner, ORDER, common_old, common_new)


def _changed_in_place(old_items: list[Any], new_items: list[Any]) -> list[int] | None:
    """The positions of the items that differ, when that is all that changed (the same ids at
    the same positions, none of them twice): what most writes do, found without matching
    every item by id (at 10,000 tasks that matching cost a write ~0.1 s). None otherwise; the
    changes are then exactly those the matching by id gives."""
    if len(old_items) != len(new_items):
        return None
    # `is not` first: a backend that shares unchanged items between the two sides (the
    # PostgreSQL one does) pays a pointer comparison for each, not a deep one.
    unshared = compress(count(), map(operator.is_not, old_items, new_items))
    differing = [index for index in unshared if old_items[index] != new_items[index]]
    if not differing:
        return differing
    for index in differing:
        old, new = old_items[index], new_items[index]
        if not (isinstance(old, dict) and isinstance(new, dict)):
            return None
        if str(old.get("id")) != str(new.get("id")):
            return None
    # Each changed item's id must name it alone (else the list is one value, see _items_diff):
    # counted at C speed, with a slower path for lists that hold something else than objects.
    try:
        ids = list(map(dict.get, new_items, repeat("id")))
        unique = all(ids.count(new_items[index].get("id")) == 1 for index in differing)
    except TypeError:  # an item that is no object
        keys = [str(item.get("id")) if isinstance(item, dict) else "None" for item in new_items]
        unique = len(set(keys)) == len(keys)
    return differing if unique else None


def _field_name(key: str, *, tag_level: bool) -> str:
    """The field a key is named by in a change: the key itself unless it reads as a marker."""
    if key.startswith(("#", LITERAL)) or (tag_level and key.startswith("metadata.")):
        return LITERAL + key
    return key


def _item_id(parent: str | None, item: Any) -> str:
    raw = item.get("id") if isinstance(item, dict) else None
    return f"{parent}.{raw}" if parent else str(raw)


def _item_diff(
    tag: str, key: str, old: dict[str, Any], new: dict[str, Any], *, subtasks: bool
) -> Iterator[Change]:
    skip = "subtasks" if subtasks else ""
    for field in _keys(old, new, skip=skip):
        if old.get(field, _MISSING) != new.get(field, _MISSING):
            yield _change(
                tag,
                key,
                _field_name(field, tag_level=False),
                old.get(field, _MISSING),
                new.get(field, _MISSING),
            )
    if subtasks:
        old_subs = old.get("subtasks", _MISSING)
        new_subs = new.get("subtasks", _MISSING)
        if old_subs != new_subs:
            if isinstance(old_subs, list) and isinstance(new_subs, list):
                yield from _items_diff(tag, key, old_subs, new_subs)
            else:
                yield _change(tag, key, "subtasks", old_subs, new_subs)


# places and overlaps -----------------------------------------------------------------------
def substantive(changes: Iterable[Change]) -> list[Change]:
    """The changes that are not mere stamps (see STAMPS)."""
    return [c for c in changes if c.get("id") is not None or c.get("field") not in STAMPS]


def overlaps(first: Iterable[Change], later: Iterable[Change]) -> bool:
    """Whether `later` touches anything `first` touched: the same field, the same item as a
    whole (or a field of an item one of them added or removed), the same tag as a whole.
    Stamps do not count."""
    mine = substantive(first)
    theirs = substantive(later)
    return any(_touches(a, b) for a in mine for b in theirs)


def _touches(a: Change, b: Change) -> bool:
    if a.get("tag") != b.get("tag"):
        return False
    a_id, b_id = a.get("id"), b.get("id")
    a_field, b_field = a.get("field"), b.get("field")
    if (a_id is None and a_field is None) or (b_id is None and b_field is None):
        return True  # a whole tag (or the current tag, whose tag is None on both)
    if a_id is None and b_id is None:
        return a_field == b_field  # the same key of the tag (its order, its description)
    if a_id is None or b_id is None:
        # a key of the tag: the order of its tasks is touched by any task added or removed
        key_change, other = (a, b) if a_id is None else (b, a)
        return key_change.get("field") == ORDER and other.get("field") is None
    if a_id == b_id:
        return a_field is None or b_field is None or a_field == b_field
    # a task and one of its subtasks: touching when either is the whole item, or when one is
    # the order of the task's subtasks and the other adds or removes a subtask
    parent, child = (a, b) if b_id.startswith(f"{a_id}.") else (b, a)
    if not str(child.get("id")).startswith(f"{parent.get('id')}."):
        return False
    return parent.get("field") is None or (
        parent.get("field") == ORDER and child.get("field") is None
    )


# inverse -----------------------------------------------------------------------------------
class Conflict(Exception):
    """The document is not what the changes led to, so they cannot be taken back exactly."""


def invert(document: Document, changes: list[Change]) -> str | None:
    """Apply the inverse of `changes` to `document` in place (the document they led to): every
    place gets its `before` value again. Returns the current tag to restore, if they changed
    it (the caller owns the project's state). Raises Conflict, leaving the document partly
    changed (run it on a draft), when a place does not hold its `after` value.

    Items and tags that were added go first, then fields and orders, then what was removed
    comes back, in ascending position, so every index means what it meant before."""
    restore_tag: str | None = None
    changes = substantive(changes)
    added = [c for c in changes if c.get("field") is None and "before" not in c]
    removed = [c for c in changes if c.get("field") is None and "before" in c and "after" not in c]
    whole = {id(c) for c in added} | {id(c) for c in removed}
    for change in added:
        _invert_whole(document, change)
    for change in reversed(changes):
        if id(change) in whole:
            continue
        tag, item, field = change.get("tag"), change.get("id"), change.get("field")
        if tag is None:
            restore_tag = change.get("before")
        elif field is None:
            _invert_whole(document, change)  # a whole item or tag replaced: both sides exist
        elif item is None:
            _invert_tag_key(document, tag, field, change)
        else:
            _invert_field(document, tag, item, field, change)
    for change in sorted(removed, key=lambda c: int(c.get("index", 0))):
        _invert_whole(document, change)
    return restore_tag


def _invert_whole(document: Document, change: Change) -> None:
    tag, item = change.get("tag"), change.get("id")
    assert tag is not None
    if item is None:
        _invert_whole_tag(document, tag, change)
    else:
        _invert_whole_item(document, tag, item, change)


def _expect(current: Any, change: Change) -> None:
    if current != change.get("after", _MISSING):
        raise Conflict(f"{_where(change)} no longer holds the value this change gave it")


def _where(change: Change) -> str:
    parts = [f"tag '{change.get('tag')}'"] if change.get("tag") else ["the project"]
    if change.get("id") is not None:
        parts.append(f"task {change['id']}")
    if change.get("field") is not None:
        parts.append(f"field {change['field']}")
    return " ".join(parts)


def _invert_whole_tag(document: Document, tag: str, change: Change) -> None:
    current = document.tag(tag) if document.has_tag(tag) else _MISSING
    _expect(current, change)
    if "before" in change:
        document.put_tag(tag, change["before"])
    else:
        document.drop_tag(tag)


def _invert_tag_key(document: Document, tag: str, field: str, change: Change) -> None:
    if not document.has_tag(tag):
        raise Conflict(f"tag '{tag}' no longer exists")
    value = document.tag(tag)
    if field.startswith(LITERAL):
        field = field.removeprefix(LITERAL)
    elif field == ORDER:
        _reorder(value.get("tasks") or [], None, change)
        return
    elif field.startswith("metadata."):
        metadata = value.setdefault("metadata", {})
        if not isinstance(metadata, dict):
            raise Conflict(f"tag '{tag}' has no metadata object any more")
        value, field = metadata, field.removeprefix("metadata.")
    _expect(value.get(field, _MISSING), change)
    _put(value, field, change)


def _put(target: dict[str, Any], field: str, change: Change) -> None:
    if "before" in change:
        target[field] = change["before"]
    else:
        target.pop(field, None)


def _reorder(items: list[Any], parent: str | None, change: Change) -> None:
    by_id = {_item_id(parent, item): item for item in items}
    before = change.get("before") or []
    if list(by_id) != change.get("after") or set(before) != set(by_id):
        raise Conflict(f"{_where(change)}: the items are no longer in the order it gave them")
    items[:] = [by_id[key] for key in before]


def _list_of(document: Document, tag: str, item: str) -> tuple[list[Any], str | None]:
    """The list that holds `item` (a task's tag's tasks, or a task's subtasks) and the parent
    task's id for subtasks."""
    if not document.has_tag(tag):
        raise Conflict(f"tag '{tag}' no longer exists")
    tasks = document.tasks(tag)
    if "." not in item:
        return tasks, None
    parent_id = item.rsplit(".", 1)[0]
    parent = _find(tasks, None, parent_id)
    if parent is None:
        raise Conflict(f"task {parent_id} of tag '{tag}' no longer exists")
    subtasks = parent.setdefault("subtasks", [])
    if not isinstance(subtasks, list):
        raise Conflict(f"task {parent_id} of tag '{tag}' has no subtask list")
    return subtasks, parent_id


def _find(items: list[Any], parent: str | None, key: str) -> dict[str, Any] | None:
    for item in items:
        if isinstance(item, dict) and _item_id(parent, item) == key:
            return item
    return None


def _invert_whole_item(document: Document, tag: str, item: str, change: Change) -> None:
    items, parent = _list_of(document, tag, item)
    current = _find(items, parent, item)
    _expect(_MISSING if current is None else current, change)
    if current is not None:
        index = items.index(current)
        del items[index]
    if "before" in change:
        index = min(int(change.get("index", len(items))), len(items))
        items.insert(index, change["before"])


def _invert_field(document: Document, tag: str, item: str, field: str, change: Change) -> None:
    items, parent = _list_of(document, tag, item)
    target = _find(items, parent, item)
    if target is None:
        raise Conflict(f"task {item} of tag '{tag}' no longer exists")
    if field.startswith(LITERAL):
        field = field.removeprefix(LITERAL)
    elif field == ORDER:
        _reorder(target.get("subtasks") or [], item, change)
        return
    _expect(target.get(field, _MISSING), change)
    _put(target, field, change)
