"""Claims: an agent's lease on a task, so that each task goes to exactly one agent.

A claim is made in one transaction: the task is chosen (the one named, or the one `next` would
pick among those no live lease holds), set in progress, and given a record in its `metadata`
object, which the reference tool keeps through its own writes:

    "metadata": {"claim": {"token": 7, "agent": "a1",
                           "claimedAt": "2026-12-02T10:00:00.000Z",
                           "expiresAt": "2026-12-02T10:15:00.000Z"}}

The **token** is a fencing token: strictly increasing per project and never reused. The last
one issued is kept in the metadata of the tag that got it and of master (``claimSequence``);
a new token is one above the highest found anywhere in the document, counters and records
(live and ended) alike, so a deleted tag, a removed task or a counter an older copy wrote back
cannot bring back a number already given out. Only losing all of them at once could: master's
counter written back older by another tool *and* every record of the newest tokens removed.
A write that carries a token (`check_fence`) is refused with `ClaimLost` unless the token is
still the live claim of what it writes: an agent paused past its lease, whose task another
agent claimed since, cannot write over the new holder's work.

A claim is live until its ``expiresAt`` by the storage's clock. No sweeper is needed: the
claiming transaction records the expired claims of its tag as expired (in ``claimHistory``,
the last `HISTORY_KEPT` ended claims of the item), which frees their tasks. A release ends a
claim the same way, optionally setting the task's outcome in the same transaction.

Everything here is pure: the caller passes the time (`now`, seconds since the epoch).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from taskmaster.errors import BadArgument, ClaimHeld, ClaimLost, InvalidInput, TaskNotFound
from taskmaster.kinds import parse_duration
from taskmaster.model import DEFAULT_TAG, Document, Task, TaskId, status_of, subtask_view
from taskmaster.ops._refs import find_in, named_unambiguous
from taskmaster.ops.next import next_task
from taskmaster.ops.status import set_status

CLAIM_KEY = "claim"
HISTORY_KEY = "claimHistory"
SEQUENCE_KEY = "claimSequence"
HISTORY_KEPT = 20
"""Ended claims kept per task or subtask (the newest): enough to see who worked on it."""
DEFAULT_LEASE = 15 * 60.0
MAX_LEASE = 7 * 24 * 3600.0
UNCLAIMABLE = frozenset({"done", "completed", "cancelled"})

LIVE = "live"
EXPIRED = "expired"
RELEASED = "released"
SUPERSEDED = "superseded"
"""Ended because the same agent claimed the task again: the new token replaces the old."""


def parse_lease(value: Any, name: str = "lease") -> float:
    """A lease length: a duration (`kinds.parse_duration`) of at most seven days."""
    return checked_lease(parse_duration(value, name), name, value)


def checked_lease(seconds: float, name: str = "lease", given: object = None) -> float:
    """`seconds` if a lease may be that long (more than 0, at most seven days); BadArgument
    naming `name` (and what was `given`, by default the seconds) otherwise."""
    if not 0 < seconds <= MAX_LEASE:
        shown = seconds if given is None else given
        raise BadArgument(
            f"{name!r} must be more than 0 seconds and at most 7 days, not {shown!r}",
            argument=name,
        )
    return seconds


def iso_time(seconds: float) -> str:
    """Seconds since the epoch as the ISO time the file keeps (UTC, milliseconds, ``Z``)."""
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def seconds_of(text: object) -> float | None:
    """An ISO time back to seconds since the epoch (None: not a time)."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


# records -------------------------------------------------------------------------------------
def record_of(item: Task) -> dict[str, Any] | None:
    """The item's claim record as stored, if it has a readable one (a hand-edited record
    without a token, an agent or an expiry is no claim)."""
    metadata = item.get("metadata")
    if not isinstance(metadata, dict):
        return None
    record = metadata.get(CLAIM_KEY)
    if not isinstance(record, dict):
        return None
    token, agent = record.get("token"), record.get("agent")
    if type(token) is not int or not isinstance(agent, str):
        return None
    if seconds_of(record.get("expiresAt")) is None:
        return None
    return record


def is_live(record: dict[str, Any], now: float) -> bool:
    """Whether the claim's lease has not run out at `now`."""
    expires = seconds_of(record.get("expiresAt"))
    return expires is not None and now < expires


def live_record(item: Task, now: float) -> dict[str, Any] | None:
    """The item's claim record if its lease has not run out at `now` (None otherwise)."""
    record = record_of(item)
    return record if record is not None and is_live(record, now) else None


def _history(item: Task) -> list[Any]:
    metadata = item.get("metadata")
    history = metadata.get(HISTORY_KEY) if isinstance(metadata, dict) else None
    return history if isinstance(history, list) else []


def _claimed(tasks: list[Task]) -> Iterator[tuple[TaskId, Task, Task | None]]:
    """Every item of a tag that has a claim record or history: (id, item, parent)."""
    for task in tasks:
        metadata = task.get("metadata")
        if isinstance(metadata, dict) and (CLAIM_KEY in metadata or HISTORY_KEY in metadata):
            yield TaskId(task["id"]), task, None
        for sub in task.get("subtasks") or ():
            metadata = sub.get("metadata")
            if isinstance(metadata, dict) and (CLAIM_KEY in metadata or HISTORY_KEY in metadata):
                yield TaskId(task["id"], sub["id"]), sub, task


@dataclass(frozen=True, slots=True)
class ClaimRef:
    """A claim record and where it is."""

    tag: str
    item_id: TaskId
    item: Task
    parent: Task | None
    record: dict[str, Any]

    def view(self, now: float) -> dict[str, Any]:
        return view_of(
            self.record, self.tag, self.item_id, LIVE if is_live(self.record, now) else EXPIRED
        )


def view_of(record: dict[str, Any], tag: str, item_id: TaskId, state: str) -> dict[str, Any]:
    """What the front ends show of a claim: where it is, its record, and its state."""
    shown: dict[str, Any] = {"id": str(item_id), "tag": tag}
    shown.update(record)
    shown["state"] = state
    return shown


Scanned = list[tuple[TaskId, Task, Task | None]]
"""A tag's items with claim records or history (`_claimed`), scanned once per transaction."""


def claims_in(doc: Document, tag: str, scanned: Scanned | None = None) -> Iterator[ClaimRef]:
    """The current claim record of every item of the tag that has one (live or expired)."""
    for item_id, item, parent in _claimed(doc.tasks(tag)) if scanned is None else scanned:
        record = record_of(item)
        if record is not None:
            yield ClaimRef(tag, item_id, item, parent, record)


def live_claims(doc: Document, tag: str, now: float) -> dict[TaskId, dict[str, Any]]:
    """The live claim record of each item of the tag that has one, by id."""
    return {ref.item_id: ref.record for ref in claims_in(doc, tag) if is_live(ref.record, now)}


def list_claims(
    doc: Document, tag: str, now: float, *, ended: bool = False
) -> list[dict[str, Any]]:
    """The tag's claims: live ones, and those whose lease ran out but that no transaction has
    recorded as expired yet; with `ended`, also the ended claims each item keeps. Ordered by
    token."""
    shown = [ref.view(now) for ref in claims_in(doc, tag)]
    if ended:
        for item_id, item, _parent in _claimed(doc.tasks(tag)):
            for entry in _history(item):
                if isinstance(entry, dict) and type(entry.get("token")) is int:
                    shown.append(view_of(entry, tag, item_id, str(entry.get("outcome", EXPIRED))))
    return sorted(shown, key=lambda claim: claim["token"])


def show_claim(doc: Document, token: int, now: float) -> dict[str, Any] | None:
    """The claim with fencing token `token`, live or ended, in whichever tag holds it (a token
    is unique per project); None when no task keeps it."""
    for tag in doc.tag_names():
        for claim in list_claims(doc, tag, now, ended=True):
            if claim["token"] == token:
                return claim
    return None


def excluded_by_claims(
    doc: Document,
    tag: str,
    now: float,
    *,
    agent: str | None = None,
    scanned: Scanned | None = None,
) -> set[TaskId]:
    """Ids `next` must not offer because a live claim holds them: every claimed item, and
    for another agent's claim (any claim, when `agent` is None) also the subtasks of a claimed
    task and the task of a claimed subtask, so two agents never work a task and its subtask
    at once. An agent's own claimed task still offers it its subtasks."""
    excluded: set[TaskId] = set()
    for ref in claims_in(doc, tag, scanned):
        if not is_live(ref.record, now):
            continue
        excluded.add(ref.item_id)
        if agent is not None and ref.record.get("agent") == agent:
            continue
        if ref.item_id.sub is None:
            for sub in ref.item.get("subtasks") or ():
                excluded.add(TaskId(ref.item_id.task, sub["id"]))
        else:
            excluded.add(TaskId(ref.item_id.task))
    return excluded


# tokens --------------------------------------------------------------------------------------
def _highest_token(doc: Document, scanned: tuple[str, Scanned] | None = None) -> int:
    highest = 0
    for tag in doc.tag_names():
        metadata = doc.tag(tag).get("metadata")
        if isinstance(metadata, dict):
            counter = metadata.get(SEQUENCE_KEY)
            if type(counter) is int and counter > highest:
                highest = counter
        items = scanned[1] if scanned and scanned[0] == tag else _claimed(doc.tasks(tag))
        for _item_id, item, _parent in items:
            record = record_of(item)
            if record is not None and record["token"] > highest:
                highest = record["token"]
            for entry in _history(item):
                token = entry.get("token") if isinstance(entry, dict) else None
                if type(token) is int and token > highest:
                    highest = token
    return highest


def _issue_token(doc: Document, tag: str, scanned: Scanned | None = None) -> int:
    """A new token; counted in the claiming tag and in master, so that deleting the tag or an
    older copy of one tag written back leaves the count in the other."""
    token = _highest_token(doc, None if scanned is None else (tag, scanned)) + 1
    for name in dict.fromkeys((tag, DEFAULT_TAG)):
        if not doc.has_tag(name):
            continue
        value = doc.tag(name)
        metadata = value.get("metadata")
        if not isinstance(metadata, dict):
            metadata = value["metadata"] = {}
        metadata[SEQUENCE_KEY] = token
    return token


# changes -------------------------------------------------------------------------------------
def _metadata(item: Task) -> dict[str, Any]:
    metadata = item.get("metadata")
    if not isinstance(metadata, dict):
        metadata = item["metadata"] = {}
    return metadata


def _end(
    item: Task, record: dict[str, Any], outcome: str, ended_at: float, **extra: Any
) -> dict[str, Any]:
    """Move the item's claim record into its history, marked with how it ended."""
    metadata = _metadata(item)
    entry = {**record, "outcome": outcome, "endedAt": iso_time(ended_at), **extra}
    history = metadata.get(HISTORY_KEY)
    if not isinstance(history, list):
        history = []
    metadata[HISTORY_KEY] = [*history, entry][-HISTORY_KEPT:]
    metadata.pop(CLAIM_KEY, None)
    return entry


def expire_claims(
    doc: Document, tag: str, now: float, scanned: Scanned | None = None
) -> list[dict[str, Any]]:
    """Record every claim of the tag whose lease ran out as expired; returns them (as views)."""
    expired = []
    for ref in list(claims_in(doc, tag, scanned)):
        if not is_live(ref.record, now):
            ended_at = seconds_of(ref.record.get("expiresAt")) or now
            entry = _end(ref.item, ref.record, EXPIRED, ended_at)
            expired.append(view_of(entry, tag, ref.item_id, EXPIRED))
    return expired


def claim_task(
    doc: Document,
    tag: str,
    target: TaskId | None,
    agent: str,
    lease: float,
    now: float,
) -> dict[str, Any]:
    """Claim `target` (or, when None, the task `next` picks among those no other agent's live
    claim holds) for `agent`: set it in progress and record the claim with a new token.

    Answers ``{"task", "claim", "expired"}``: the task (a subtask as a view) and the claim,
    both None when nothing is left to claim, and the claims of the tag found expired.
    A task with another agent's live claim is refused (`ClaimHeld`); the same agent claiming
    again gets a new token, and its old one stops being a claim (``superseded``).
    """
    agent = check_agent(agent)
    checked_lease(lease)
    # One scan of the tag for the items with claims serves every step below: they stay the
    # same items (expiry moves a record into the history; the new claim comes last).
    scanned = list(_claimed(doc.tasks(tag)))
    expired = expire_claims(doc, tag, now, scanned)
    if target is None:
        taken = excluded_by_claims(doc, tag, now, agent=agent, scanned=scanned)
        picked = next_task(doc, tag, exclude=taken)
        if picked is None:
            return {"task": None, "claim": None, "expired": expired}
        target = TaskId.parse(picked["id"])
    tasks = doc.tasks(tag)
    index = named_unambiguous(tasks, [target], tag)
    item = find_in(index, target)
    if item is None:
        raise TaskNotFound.for_id(target, tag)
    status = status_of(item)
    if status in UNCLAIMABLE:
        raise InvalidInput(f"task {target} is {status}: there is nothing left to claim")
    _refuse_held(target, item, index.get(target.task), agent, now)
    held = live_record(item, now)
    if held is not None:  # the same agent again: a new token fences off the old one
        _end(item, held, SUPERSEDED, now)
    token = _issue_token(doc, tag, scanned)
    set_status(doc, tag, [target], "in-progress")
    record = {
        "token": token,
        "agent": agent,
        "claimedAt": iso_time(now),
        "expiresAt": iso_time(now + lease),
    }
    _metadata(item)[CLAIM_KEY] = record
    view = item if target.sub is None else subtask_view(index[target.task], item)
    return {"task": view, "claim": view_of(record, tag, target, LIVE), "expired": expired}


def _refuse_held(target: TaskId, item: Task, task: Task | None, agent: str, now: float) -> None:
    """ClaimHeld if another agent's live claim holds the item, its task (`task`, for a
    subtask) or one of its subtasks."""
    holders: list[tuple[TaskId, dict[str, Any] | None]] = [(target, live_record(item, now))]
    if target.sub is None:
        for sub in item.get("subtasks") or ():
            holders.append((TaskId(target.task, sub["id"]), live_record(sub, now)))
    elif task is not None:
        holders.append((TaskId(target.task), live_record(task, now)))
    for held_id, record in holders:
        if record is not None and record["agent"] != agent:
            raise ClaimHeld.by(held_id, record["agent"], record["token"], record["expiresAt"])


def check_agent(agent: object) -> str:
    """The agent's name, trimmed; BadArgument unless it is printable text of 1-200 chars."""
    if not isinstance(agent, str) or not agent.strip():
        raise BadArgument(
            "'agent' must name the agent that claims (a non-empty name)", argument="agent"
        )
    if len(agent) > 200 or any(ord(char) < 32 for char in agent):
        raise BadArgument("'agent' must be at most 200 printable characters", argument="agent")
    return agent.strip()


def find_claim(doc: Document, token: int) -> ClaimRef | None:
    """The current claim record with this token, in any tag (None: no item holds it)."""
    for tag in doc.tag_names():
        for ref in claims_in(doc, tag):
            if ref.record["token"] == token:
                return ref
    return None


def _why_lost(doc: Document, token: int) -> tuple[str, str | None]:
    """Why `token` is no live claim, and the task it was on (None: no record of it)."""
    ref = find_claim(doc, token)
    if ref is not None:
        return f"its lease on task {ref.item_id} ran out at {ref.record['expiresAt']}", str(
            ref.item_id
        )
    for tag in doc.tag_names():
        for item_id, item, _parent in _claimed(doc.tasks(tag)):
            for entry in _history(item):
                if isinstance(entry, dict) and entry.get("token") == token:
                    outcome = entry.get("outcome", "ended")
                    ended = entry.get("endedAt")
                    return f"its claim on task {item_id} was {outcome} at {ended}", str(item_id)
    return "no task holds a claim with this token", None


def _lost(doc: Document, token: int) -> ClaimLost:
    reason, task_id = _why_lost(doc, token)
    return ClaimLost.because(token, reason, task_id=task_id)


def _live_ref(doc: Document, token: int, now: float) -> ClaimRef:
    ref = find_claim(doc, token)
    if ref is None or not is_live(ref.record, now):
        raise _lost(doc, token)
    return ref


def renew_claim(doc: Document, token: int, lease: float, now: float) -> dict[str, Any]:
    """Extend a live claim to `lease` from now; ClaimLost once it is not live any more."""
    checked_lease(lease)
    ref = _live_ref(doc, token, now)
    ref.record["expiresAt"] = iso_time(now + lease)
    ref.record["renewedAt"] = iso_time(now)
    return view_of(ref.record, ref.tag, ref.item_id, LIVE)


def release_claim(
    doc: Document, token: int, now: float, status: str | None = None
) -> dict[str, Any]:
    """End a live claim; with `status`, set the task's outcome in the same transaction.
    ClaimLost when the token is no live claim (a zombie cannot set an outcome)."""
    ref = _live_ref(doc, token, now)
    extra = {"status": status} if status is not None else {}
    entry = _end(ref.item, ref.record, RELEASED, now, **extra)
    if status is not None:
        set_status(doc, ref.tag, [ref.item_id], status)
    return view_of(entry, ref.tag, ref.item_id, RELEASED)


def check_fence(doc: Document, tag: str, subjects: list[TaskId], token: int, now: float) -> None:
    """Refuse (`ClaimLost`) a write carrying `token` unless the token is the live claim of
    every item it writes (the item's own claim, or its task's for a subtask); a write that
    names no task needs the token to be a live claim somewhere in the tag."""
    if not subjects:
        if not any(
            ref.record["token"] == token and is_live(ref.record, now) for ref in claims_in(doc, tag)
        ):
            raise _lost(doc, token)
        return
    tasks = doc.tasks(tag)
    for subject in subjects:
        index = named_unambiguous(tasks, [subject], tag)
        item = find_in(index, subject)
        covering = [item] if item is not None else []
        if subject.sub is not None and subject.task in index:
            covering.append(index[subject.task])
        if any((live_record(each, now) or {}).get("token") == token for each in covering):
            continue
        if item is None:
            raise ClaimLost.because(token, f"task {subject} does not exist", task_id=str(subject))
        reason, lost_on = _why_lost(doc, token)
        if lost_on != str(subject):
            reason = f"it is no claim on task {subject}"
        holder = live_record(item, now)
        if holder is None:
            raise ClaimLost.because(token, reason, task_id=str(subject))
        raise ClaimLost.because(
            token,
            f"{reason}; task {subject} is claimed by '{holder['agent']}' "
            f"(token {holder['token']}) until {holder['expiresAt']}",
            task_id=str(subject),
            holder=holder["agent"],
            holder_token=holder["token"],
        )


__all__ = [
    "check_fence",
    "claim_task",
    "excluded_by_claims",
    "expire_claims",
    "find_claim",
    "show_claim",
    "list_claims",
    "live_claims",
    "live_record",
    "release_claim",
    "renew_claim",
]
