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
CHANGE_REVERTED = "change.reverted"
"""That change put back values our commits had replaced (`taskmaster.journal.reversions`):
`reverts` names the revisions, `changes` the places. Published with its `file.changed`."""
CLAIM_CREATED = "claim.created"
CLAIM_RENEWED = "claim.renewed"
CLAIM_RELEASED = "claim.released"
CLAIM_EXPIRED = "claim.expired"
"""A claim's lease ran out; announced by the transaction that found it expired (expiry is
evaluated when the next claim is made, with no sweeper)."""

KINDS = (
    TASK_CREATED,
    TASK_UPDATED,
    TASK_DELETED,
    TAG_CHANGED,
    FILE_CHANGED,
    CHANGE_REVERTED,
    CLAIM_CREATED,
    CLAIM_RENEWED,
    CLAIM_RELEASED,
    CLAIM_EXPIRED,
)


@dataclass(frozen=True, slots=True)
class Event:
    kind: str
    revision: int
    origin: str
    """The id of the TaskMaster instance (or watcher) that published it."""
    tag: str | None = None
    ids: tuple[str, ...] = ()
    time: float = field(default_factory=time.time)
    actor: str | None = None
    """Who made the change (the journal entry's actor); None when unknown."""
    changes: tuple[tuple[str | None, str | None, str | None], ...] = ()
    """The places it changed, as (tag, id, field) (see `taskmaster.journal.changes`); the
    values are in the journal (GET /api/v1/history)."""
    reverts: tuple[int, ...] = ()
    """For `change.reverted`: the revisions whose values the change put back."""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ids"] = list(self.ids)
        data["changes"] = [list(place) for place in self.changes]
        data["reverts"] = list(self.reverts)
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
            actor=data.get("actor"),
            changes=tuple(
                (place[0], place[1], place[2])
                for place in data.get("changes") or ()
                if isinstance(place, list | tuple) and len(place) == 3
            ),
            reverts=tuple(int(r) for r in data.get("reverts") or ()),
        )
