"""Change events: small immutable values that say what changed, where, and at which revision."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

TASK_CREATED = "task.created"
TASK_UPDATED = "task.updated"
TASK_DELETED = "task.deleted"
TAG_CHANGED = "tag.changed"
FILE_CHANGED = "file.changed"
"""A change made by another program (an editor, the reference tool, a process without a bus)."""

KINDS = (TASK_CREATED, TASK_UPDATED, TASK_DELETED, TAG_CHANGED, FILE_CHANGED)


@dataclass(frozen=True, slots=True)
class Event:
    kind: str
    revision: int
    origin: str
    """The id of the TaskMaster instance (or watcher) that published it."""
    tag: str | None = None
    ids: tuple[str, ...] = ()
    time: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ids"] = list(self.ids)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        return cls(
            kind=str(data["kind"]),
            revision=int(data["revision"]),
            origin=str(data["origin"]),
            tag=data.get("tag"),
            ids=tuple(str(i) for i in data.get("ids", ())),
            time=float(data.get("time", 0.0)),
        )
