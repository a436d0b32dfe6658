"""Task ids: `N` for a task, `N.M` for a subtask, as the reference tool's JSON numbers hold
them (ASCII digits, 1 to 2^53 - 1), and how a dependency names one."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from taskmaster.errors import InvalidInput

MAX_ID = 2**53 - 1
"""The largest id: the reference tool reads ids as JavaScript numbers, exact only below 2^53."""
_ID_TEXT = re.compile(r"\s*([0-9]+)(?:\.([0-9]+))?\s*", re.ASCII)
"""ASCII digits only: `int()` also reads '١' and '１', which would silently name task 1."""
_DIGITS = re.compile(r"\s*[0-9]+\s*", re.ASCII)


def is_id_text(value: str) -> bool:
    """True for a string that is a plain id in ASCII digits, such as ``"5"`` or ``" 12 "``."""
    return _DIGITS.fullmatch(value) is not None


def _bounded(number: int, value: object) -> int:
    if number < 1 or number > MAX_ID:
        raise InvalidInput(
            f"invalid task id {shown(value)}: ids are whole numbers from 1 to {MAX_ID}"
        )
    return number


def shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}...{text[-10:]} ({len(text)} characters)"


@dataclass(frozen=True, order=True, slots=True)
class TaskId:
    """`N` for a task, `N.M` for subtask M of task N (subtasks do not nest)."""

    task: int
    sub: int | None = None

    @classmethod
    def parse(cls, value: str | int | TaskId) -> TaskId:
        if isinstance(value, TaskId):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return cls(_bounded(value, value))
        match = _ID_TEXT.fullmatch(value) if isinstance(value, str) else None
        if not match:
            raise InvalidInput(
                f"invalid task id {shown(value)}: expected N or N.M, for example 3 or 3.2"
            )
        task, sub = match.group(1), match.group(2)
        # Bound the digit count before int(): a 5,000-digit id must be refused, not converted.
        limit = len(str(MAX_ID))
        if len(task) > limit or (sub is not None and len(sub) > limit):
            _bounded(MAX_ID + 1, value)
        return cls(
            _bounded(int(task), value), _bounded(int(sub), value) if sub is not None else None
        )

    @property
    def is_subtask(self) -> bool:
        return self.sub is not None

    @property
    def parent(self) -> TaskId:
        return TaskId(self.task)

    def __str__(self) -> str:
        return f"{self.task}" if self.sub is None else f"{self.task}.{self.sub}"


def parse_ids(text: str | Iterable[str | int | TaskId]) -> list[TaskId]:
    """Parse `"1,2.3, 4"` (or a sequence of ids) into TaskIds, keeping order, dropping repeats."""
    parts = text.split(",") if isinstance(text, str) else list(text)
    ids: list[TaskId] = []
    for part in parts:
        if isinstance(part, str) and not part.strip():
            continue
        task_id = TaskId.parse(part)
        if task_id not in ids:
            ids.append(task_id)
    if not ids:
        raise InvalidInput("no task id given")
    return ids


def subtask_dependency_id(parent: int, dep: int | str) -> TaskId:
    """In a subtask a bare number is a sibling; a dotted string is a full reference."""
    if isinstance(dep, int):
        return TaskId(parent, dep)
    return TaskId.parse(dep)


def sibling(item: TaskId, dep: TaskId) -> TaskId:
    """A dependency of subtask `item` (or of a new subtask of task `item`) as a front end was
    given it: a bare number names a sibling, as the file format stores it, since a subtask
    cannot depend on a task."""
    return dep if dep.is_subtask else TaskId(item.task, dep.task)


def task_dependency_id(dep: int | str) -> TaskId:
    return TaskId.parse(dep)


def dependency_value(dep: TaskId) -> int | str:
    """How a task stores a dependency on `dep`: an integer for a task, `"N.M"` for a subtask."""
    return dep.task if dep.sub is None else str(dep)


def next_id(ids: Iterable[object]) -> int:
    """The id after the largest positive one (1 if there is none): ids of 0 or below in a file
    are not ids a command accepts, so new ids never continue from them."""
    largest = max((value for value in ids if type(value) is int and value > 0), default=0)
    if largest >= MAX_ID:
        raise InvalidInput(f"no task id is left: ids stop at {MAX_ID}")
    return largest + 1
