"""Reversions: an outside change that puts back what an acknowledged commit had replaced (pure).

The reference tool reads the task file outside its lock, works on that copy (for seconds, or
for minutes while a model answers) and then writes its whole tag back. Every commit that landed
in between is undone, field by field, and nothing fails: no lock can prevent it, because the
stale copy was read before the lock was taken. What the journal can do is notice it.

An outside change *reverts* a place (a field of a task or subtask, a whole task added or
removed, a key of a tag) when, among the commits of ours that last set that place (newest
first, back to the last outside change of that place), one had found exactly the value the
outside change now writes. The reverted revision named is the newest of those commits: its
value is the one that was lost.

This cannot tell a stale write-back from someone who deliberately set a value back (a user
running `task-master set-status` to undo our `done`): both are reported, and a reader of the
journal decides. Stamps (`metadata.updated`) are never counted: every write sets them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from taskmaster.journal.changes import STAMPS, Change
from taskmaster.journal.entry import EXTERNAL, Entry

Place = tuple[str | None, str | None, str | None]
Reversion = dict[str, Any]
"""``{"revision": R, "tag": T, "id": "5", "field": "title"}``: the commit at revision R set
that place, and an outside change put back the value it had replaced (``field`` None: the
whole task; ``id`` None: a key of the tag)."""

LOOKBACK_ENTRIES = 1_000
"""How many of the latest commits an outside change is compared with: more than any realistic
read-to-write window of another program holds (a model call of minutes, under heavy load)."""

_MISSING: Any = object()


def _place(change: Change) -> Place:
    return (change.get("tag"), change.get("id"), change.get("field"))


def reversions(outside: Iterable[Change], history: Sequence[Entry]) -> list[Reversion]:
    """The places of `outside` (an outside change's changes) that revert a commit of
    `history` (the committed entries before it, oldest first), in the order of `outside`."""
    wanted = {
        _place(change): change
        for change in outside
        if change.get("id") is not None or change.get("field") not in STAMPS
    }
    if not wanted:
        return []
    # Newest first, the changes each place went through, up to the last outside change there.
    chains: dict[Place, list[tuple[int, Change]]] = {place: [] for place in wanted}
    closed: set[Place] = set()
    for entry in reversed(history):
        outside_entry = entry.get("kind") == EXTERNAL
        for change in entry.get("changes") or ():
            place = _place(change)
            if place not in chains or place in closed:
                continue
            if outside_entry:
                closed.add(place)
            else:
                chains[place].append((int(entry.get("revision") or 0), change))
        if len(closed) == len(chains):
            break
    found: list[Reversion] = []
    for place, change in wanted.items():
        restored = change.get("after", _MISSING)
        chain = chains[place]
        if chain and any(earlier.get("before", _MISSING) == restored for _, earlier in chain):
            tag, item, field = place
            found.append({"revision": chain[0][0], "tag": tag, "id": item, "field": field})
    return found


def reverted_places(entry: Entry) -> list[Place]:
    """The places an entry's reversions name."""
    return [(r.get("tag"), r.get("id"), r.get("field")) for r in entry.get("reverts") or ()]


def reversion_line(reversion: Reversion) -> str:
    """A reversion in words: `reverted revision 12: 5 title`, `reverted revision 9: task 7`."""
    item, field = reversion.get("id"), reversion.get("field")
    if item is None:
        place = f"tag {reversion.get('tag')} {field}"
    elif field is None:
        place = f"{'subtask' if '.' in str(item) else 'task'} {item}"
    else:
        place = f"{item} {field}"
    return f"reverted revision {reversion.get('revision')}: {place}"
