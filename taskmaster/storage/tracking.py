"""Change tracking for a document kept in memory between transactions.

A backend that stores a project as rows (one per task) wants to write only the rows a command
changed, without comparing every task before and after (at 10,000 tasks a full comparison
costs more than the database round trips of the whole transaction). So the document it hands
to a command is built from `TrackedDict` and `TrackedList`: plain dicts and lists in every
respect (orjson serialises them, `isinstance` holds, reads run at C speed) whose mutating
methods first mark the row they belong to as dirty. Each task is one row, with everything
nested in it; each top-level entry of the document (a tag without its task list, or any other
key) is another; a tag's task list marks its tag's *membership* dirty (tasks added, removed or
reordered). Values a command puts in are plain containers; they belong to a row that is already
dirty, and are tracked once the transaction has been committed and the row is wrapped anew.

Copies (`copy.copy`, `copy.deepcopy`, pickling) are plain containers, so that a copied task is
a new object with no tie to the row it came from.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any, SupportsIndex


class Marks:
    """The rows of one document that changed since it was last synchronised with its store."""

    __slots__ = ("entries", "members", "tasks")

    def __init__(self) -> None:
        self.tasks: set[int] = set()
        """Task rows whose content changed."""
        self.entries: set[int] = set()
        """Top-level entries (a tag's own keys, or another top-level value) that changed."""
        self.members: set[int] = set()
        """Tags whose task list changed: tasks added, removed or reordered."""

    def __bool__(self) -> bool:
        return bool(self.tasks or self.entries or self.members)

    def clear(self) -> None:
        self.tasks.clear()
        self.entries.clear()
        self.members.clear()


class Mark:
    """Where a container belongs: which set of `Marks` to put which number in."""

    __slots__ = ("_bucket", "_number")

    def __init__(self, bucket: set[int], number: int) -> None:
        self._bucket = bucket
        self._number = number

    def __call__(self) -> None:
        self._bucket.add(self._number)


class TrackedDict(dict[str, Any]):
    __slots__ = ("_mark",)
    _mark: Mark

    def __setitem__(self, key: str, value: Any) -> None:
        self._mark()
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self._mark()
        super().__delitem__(key)

    def pop(self, *args: Any) -> Any:
        self._mark()
        return super().pop(*args)

    def popitem(self) -> tuple[str, Any]:
        self._mark()
        return super().popitem()

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self._mark()
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._mark()
        super().update(*args, **kwargs)

    def clear(self) -> None:
        self._mark()
        super().clear()

    def __ior__(self, other: Any) -> TrackedDict:  # type: ignore[override,misc]
        self._mark()
        super().update(other)
        return self

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return {key: copy.deepcopy(value, memo) for key, value in self.items()}

    def __reduce_ex__(self, protocol: SupportsIndex) -> Any:
        return (dict, (dict(self),))


class TrackedList(list[Any]):
    __slots__ = ("_mark", "id_positions")
    _mark: Mark
    id_positions: Callable[[], dict[Any, int] | None]
    """For a tag's task list: where each task id is, when that is known (see `rows.py`)."""

    def __setitem__(self, index: Any, value: Any) -> None:
        self._mark()
        super().__setitem__(index, value)

    def __delitem__(self, index: Any) -> None:
        self._mark()
        super().__delitem__(index)

    def append(self, value: Any) -> None:
        self._mark()
        super().append(value)

    def extend(self, values: Iterable[Any]) -> None:
        self._mark()
        super().extend(values)

    def insert(self, index: SupportsIndex, value: Any) -> None:
        self._mark()
        super().insert(index, value)

    def pop(self, index: SupportsIndex = -1) -> Any:
        self._mark()
        return super().pop(index)

    def remove(self, value: Any) -> None:
        self._mark()
        super().remove(value)

    def clear(self) -> None:
        self._mark()
        super().clear()

    def sort(self, *args: Any, **kwargs: Any) -> None:
        self._mark()
        super().sort(*args, **kwargs)

    def reverse(self) -> None:
        self._mark()
        super().reverse()

    def __iadd__(self, values: Iterable[Any]) -> TrackedList:  # type: ignore[misc]
        self._mark()
        super().extend(values)
        return self

    def __imul__(self, times: SupportsIndex) -> TrackedList:
        self._mark()
        return super().__imul__(times)

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return [copy.deepcopy(value, memo) for value in self]

    def __reduce_ex__(self, protocol: SupportsIndex) -> Any:
        return (list, (list(self),))


def track(value: Any, mark: Mark) -> Any:
    """`value` rebuilt from tracked containers that all call `mark` when changed; scalars
    are returned as they are. Iterative: a value may nest deeper than the recursion limit."""
    root = _tracked_shell(value, mark)
    if root is value:
        return value
    pending: list[tuple[Any, Any]] = [(root, value)]
    while pending:
        shell, source = pending.pop()
        if isinstance(shell, dict):
            for key, item in source.items():
                child = _tracked_shell(item, mark)
                dict.__setitem__(shell, key, child)
                if child is not item:
                    pending.append((child, item))
        else:
            for item in source:
                child = _tracked_shell(item, mark)
                list.append(shell, child)
                if child is not item:
                    pending.append((child, item))
    return root


def _tracked_shell(value: Any, mark: Mark) -> Any:
    if isinstance(value, dict):
        shell: Any = TrackedDict()
    elif isinstance(value, list):
        shell = TrackedList()
    else:
        return value
    shell._mark = mark
    return shell


def tracked_list(items: Iterable[Any], mark: Mark) -> TrackedList:
    """A tracked list of `items` as they are (a tag's task list: its tasks are rows of their
    own, tracked by their own marks)."""
    result = TrackedList()
    result._mark = mark
    list.extend(result, items)
    return result


def detached(value: Any) -> Any:
    """`value` as it is now, sharing no container with the document it came from: plain
    dicts and lists (tracked ones become plain), other values copied."""
    if isinstance(value, dict):
        return {key: detached(item) for key, item in value.items()}
    if isinstance(value, list):
        return [detached(item) for item in value]
    if value is None or isinstance(value, str | int | float):
        return value
    return copy.deepcopy(value)


__all__ = ["Mark", "Marks", "TrackedDict", "TrackedList", "detached", "track", "tracked_list"]
