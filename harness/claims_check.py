"""The checker of claim histories: pure functions from recorded ops to violations.

An agent's claim protocol is recorded as ordinary ops (`harness.claimer`), each marked in
``info["claim"]`` with its step:

    acquire   the write that made the agent the task's holder: `claim` (taskmaster; ``token``
              and ``lease_s`` in info), or `set-status in-progress` after `next` (the naive
              protocol: no token). ``key`` is ``task/<id>`` once the answer named the task.
    work      the agent's write of its work to the task (``token``: the claim it works under,
              whether or not the write carried it; ``fenced``: it did)
    release   the end of the claim: `claim release TOKEN --status done`, or `set-status done`
    renew     a lease extended (``lease_s``)
    next      the naive protocol's read of the next task

Every work and release op names its acquisition (``info["acquisition"]``: the acquiring op's
id). The document's claims at the end are recorded once as an op of kind `claims` (`CLAIMS`):
``value = {"tasks": {id: {"status", "details", "claim", "claimHistory"}}, "sequences":
{tag: claimSequence}}``.

Times are what the agents saw. A claim is *definitely* live from its acquisition's
acknowledgement to the moment its release was invoked (or its lease certainly ran out: the
lease runs from a claim time no earlier than the acquisition's start), so two intervals that
overlap are two agents that both held the task at once, whatever the order in which their
answers arrived.

Invariants (the names scenario files use) and the anomalies they report:

    one-claim-holder   double-claim            two agents' live claims on one task overlap
    worked-once        worked-twice            a claimed task got more than one acknowledged
                                               work write
                       not-worked              a claimed task got none
    releases-recorded  release-not-recorded    an acknowledged release is missing from the
                                               final document's claimHistory, or its status
                                               is not the task's final status
    tokens-increase    token-reused            two acquisitions got the same token
                       token-out-of-order      an acquisition acknowledged before another
                                               began got the higher token (or a higher
                                               revision with a lower token); a task's
                                               claimHistory not in token order
    fenced-writes      write-under-dead-token  a work write acknowledged after its claim had
                                               been released, had run out, or another agent's
                                               later claim of the task had been acknowledged
                       holder-work-lost        the final document holds such a write's value
                                               where the task's live holder had written
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.history import INFO, OK, Op
from harness.violations import Violation

CLAIMS = "claims"
"""The kind of the record of the document's claims at the end of a run."""
ACQUIRE, WORK, RELEASE, RENEW, NEXT = "acquire", "work", "release", "renew", "next"
EXPIRY_SLACK_NS = 100_000_000
"""How far past a lease a write must begin to be judged after it: the storage's clock and
the harness's monotonic clock run at the same rate, but not to the nanosecond."""
HISTORY_KEPT = 20
"""Ended claims a task keeps (`taskmaster.ops.claims.HISTORY_KEPT`): older ones drop out."""
INF = math.inf

CLAIM_ANOMALIES: dict[str, tuple[str, ...]] = {
    "one-claim-holder": ("double-claim",),
    "worked-once": ("worked-twice", "not-worked"),
    "releases-recorded": ("release-not-recorded",),
    "tokens-increase": ("token-reused", "token-out-of-order"),
    "fenced-writes": ("write-under-dead-token", "holder-work-lost"),
}


def step_of(op: Op) -> str | None:
    value = (op.info or {}).get("claim")
    return value if isinstance(value, str) else None


def task_of(op: Op) -> str | None:
    return op.key.removeprefix("task/") if op.key and op.key.startswith("task/") else None


def token_of(op: Op) -> int | None:
    token = (op.info or {}).get("token")
    return token if type(token) is int else None


@dataclass(frozen=True, slots=True)
class Claim:
    """One acknowledged acquisition, and what the history says of its end."""

    op: Op
    release: Op | None
    renewals: tuple[Op, ...] = ()

    @property
    def agent(self) -> str:
        return self.op.actor

    @property
    def task(self) -> str:
        task = task_of(self.op)
        assert task is not None  # only acquisitions that named their task are claims
        return task

    @property
    def token(self) -> int | None:
        return token_of(self.op)

    @property
    def lease_ns(self) -> float:
        lease = (self.op.info or {}).get("lease_s")
        return float(lease) * 1e9 if isinstance(lease, int | float) else INF

    @property
    def live_from(self) -> float:
        return self.op.end if self.op.end is not None else INF

    @property
    def live_until(self) -> float:
        """Until when the claim was certainly still live: its release was not yet invoked
        and its lease (from the claim's or the last renewal's start) had not run out."""
        released = self.release.start if self.release is not None else INF
        lease = self.op.start + self.lease_ns
        for renewal in self.renewals:
            extra = (renewal.info or {}).get("lease_s")
            if isinstance(extra, int | float):
                lease = max(lease, renewal.start + float(extra) * 1e9)
        return min(released, lease)

    @property
    def dead_after(self) -> float:
        """After when the claim was certainly no longer live: released (acknowledged), or
        its lease run out (counted from the acknowledgement, which is no earlier than the
        claim's time), give or take the clocks' slack."""
        released = (
            self.release.end
            if self.release is not None and self.release.outcome == OK and self.release.end
            else INF
        )
        lease = self.live_from + self.lease_ns
        for renewal in self.renewals:
            extra = (renewal.info or {}).get("lease_s")
            if isinstance(extra, int | float) and renewal.end is not None:
                lease = max(lease, renewal.end + float(extra) * 1e9)
        return min(released, lease + EXPIRY_SLACK_NS)

    def describe(self) -> str:
        token = f" (token {self.token})" if self.token is not None else ""
        return f"{self.agent}{token}"


def claims_of(ops: list[Op]) -> list[Claim]:
    """Every acknowledged acquisition that named its task, with its release and renewals."""
    ended: dict[str, Op] = {}
    renewed: dict[str, list[Op]] = defaultdict(list)
    for op in ops:
        acquisition = (op.info or {}).get("acquisition")
        if not isinstance(acquisition, str):
            continue
        if step_of(op) == RELEASE and acquisition not in ended:
            ended[acquisition] = op
        elif step_of(op) == RENEW and op.outcome == OK:
            renewed[acquisition].append(op)
    return [
        Claim(op, ended.get(op.id), tuple(renewed.get(op.id, ())))
        for op in ops
        if step_of(op) == ACQUIRE and op.outcome == OK and task_of(op) is not None
    ]


def final_claims(ops: list[Op]) -> Op | None:
    records = [op for op in ops if op.kind == CLAIMS and isinstance(op.value, dict)]
    return max(records, key=lambda op: op.start) if records else None


def _final_tasks(record: Op | None) -> dict[str, Any]:
    tasks = (record.value or {}).get("tasks") if record is not None else None
    return tasks if isinstance(tasks, dict) else {}


def _ms(ns: float) -> str:
    return f"{ns / 1e6:.1f} ms"


# one-claim-holder ------------------------------------------------------------------------------


def check_one_holder(ops: list[Op]) -> list[Violation]:
    by_task: dict[str, list[Claim]] = defaultdict(list)
    for claim in claims_of(ops):
        by_task[claim.task].append(claim)
    found = []
    for task, claims in by_task.items():
        claims.sort(key=lambda c: c.live_from)
        for index, first in enumerate(claims):
            for second in claims[index + 1 :]:
                if second.live_from >= first.live_until:
                    continue
                if first.agent == second.agent or second.live_from >= second.live_until:
                    continue
                overlap = min(first.live_until, second.live_until) - second.live_from
                if overlap <= 0:
                    continue
                shown = "until the end" if overlap == INF else f"for {_ms(overlap)}"
                found.append(
                    Violation(
                        "double-claim",
                        f"task {task}: {first.describe()} and {second.describe()} both held "
                        f"it, {shown}",
                        (first.op, second.op),
                    )
                )
    return found


# worked-once ------------------------------------------------------------------------------------


def check_worked_once(ops: list[Op]) -> list[Violation]:
    claimed: dict[str, list[Claim]] = defaultdict(list)
    for claim in claims_of(ops):
        claimed[claim.task].append(claim)
    works: dict[str, list[Op]] = defaultdict(list)
    unknown: set[str] = set()
    for op in ops:
        task = task_of(op)
        if step_of(op) != WORK or task is None:
            continue
        if op.outcome == OK:
            works[task].append(op)
        elif op.outcome == INFO:
            unknown.add(task)
    found = []
    for task, claims in claimed.items():
        done = works.get(task, [])
        if len(done) > 1:
            agents = ", ".join(op.actor for op in done)
            found.append(
                Violation(
                    "worked-twice",
                    f"task {task} was worked {len(done)} times ({agents})",
                    tuple(done[:4]),
                    count=len(done) - 1,
                )
            )
        elif not done and task not in unknown:
            found.append(
                Violation(
                    "not-worked",
                    f"task {task} was claimed ({', '.join(c.describe() for c in claims)}) "
                    "but no work on it was acknowledged",
                    tuple(c.op for c in claims[:3]),
                )
            )
    return found


# releases-recorded ------------------------------------------------------------------------------


def _status_writes(ops: list[Op], task: str) -> list[Op]:
    return [
        op
        for op in ops
        if task_of(op) == task
        and op.outcome != "fail"
        and isinstance(op.value, dict)
        and "status" in op.value
        and op.kind == "write"
    ]


def check_releases_recorded(ops: list[Op]) -> list[Violation]:
    releases = [op for op in ops if step_of(op) == RELEASE and op.outcome == OK and task_of(op)]
    if not releases:
        return []
    record = final_claims(ops)
    if record is None:
        return [
            Violation(
                "release-not-recorded",
                f"{len(releases)} releases were acknowledged, but the document's claims were "
                "never recorded at the end",
                tuple(releases[:3]),
                count=len(releases),
            )
        ]
    tasks = _final_tasks(record)
    found = []
    for release in releases:
        task = task_of(release)
        assert task is not None
        final = tasks.get(task) if isinstance(tasks.get(task), dict) else None
        status = (release.value or {}).get("status") if isinstance(release.value, dict) else None
        token = token_of(release)
        if final is None:
            found.append(
                Violation(
                    "release-not-recorded",
                    f"task {task}, released by {release.actor}, is not in the final document",
                    (release, record),
                )
            )
            continue
        if token is not None:
            history = final.get("claimHistory")
            history = history if isinstance(history, list) else []
            entries = [e for e in history if isinstance(e, dict) and e.get("token") == token]
            trimmed = len(history) >= HISTORY_KEPT and all(
                isinstance(e, dict) and type(e.get("token")) is int and e["token"] > token
                for e in history
            )
            entry = entries[0] if entries else None
            if entry is None and not trimmed:
                found.append(
                    Violation(
                        "release-not-recorded",
                        f"{release.actor}'s acknowledged release of token {token} (task "
                        f"{task}) is not in its claimHistory",
                        (release, record),
                    )
                )
                continue
            if entry is not None and (
                entry.get("outcome") != "released"
                or (status is not None and entry.get("status") != status)
            ):
                found.append(
                    Violation(
                        "release-not-recorded",
                        f"task {task}'s claimHistory has token {token} as "
                        f"{entry.get('outcome')!r} with status {entry.get('status')!r}; "
                        f"{release.actor} released it with status {status!r}",
                        (release, record),
                    )
                )
                continue
        if status is None:
            continue
        # The task's final status is the release's unless another status write may follow it.
        later = [
            op for op in _status_writes(ops, task) if op is not release and op.start > release.start
        ]
        racing = [
            op
            for op in _status_writes(ops, task)
            if op is not release and op.start <= release.start <= (op.end or INF)
        ]
        if not later and not racing and final.get("status") != status:
            found.append(
                Violation(
                    "release-not-recorded",
                    f"task {task} is {final.get('status')!r} at the end; the last status write, "
                    f"{release.actor}'s release, set {status!r}",
                    (release, record),
                )
            )
    return found


# tokens-increase --------------------------------------------------------------------------------


def check_tokens(ops: list[Op]) -> list[Violation]:
    acquisitions = [c for c in claims_of(ops) if c.token is not None]
    found = []
    by_token: dict[int, list[Claim]] = defaultdict(list)
    for claim in acquisitions:
        assert claim.token is not None
        by_token[claim.token].append(claim)
    for token, claims in sorted(by_token.items()):
        if len(claims) > 1:
            holders = ", ".join(f"{c.agent} on task {c.task}" for c in claims)
            found.append(
                Violation(
                    "token-reused",
                    f"token {token} was given {len(claims)} times ({holders})",
                    tuple(c.op for c in claims[:4]),
                    count=len(claims) - 1,
                )
            )
    # real-time order: acknowledged before the other began => a lower token
    by_end = sorted(acquisitions, key=lambda c: c.live_from)
    for later in acquisitions:
        earlier = [c for c in by_end if c.live_from < later.op.start]
        if not earlier:
            continue
        top = max(earlier, key=lambda c: c.token or 0)
        if top is not later and (top.token or 0) >= (later.token or 0):
            found.append(
                Violation(
                    "token-out-of-order",
                    f"{later.describe()} on task {later.task} began "
                    f"{_ms(later.op.start - top.live_from)} after {top.describe()} on task "
                    f"{top.task} was acknowledged, yet its token is not higher",
                    (top.op, later.op),
                )
            )
    # commit order, where the answers carried the revision
    revised = sorted(
        (c for c in acquisitions if c.op.revision is not None), key=lambda c: c.op.revision or 0
    )
    for before, after in itertools.pairwise(revised):
        if (before.token or 0) >= (after.token or 0) and before.op.revision != after.op.revision:
            found.append(
                Violation(
                    "token-out-of-order",
                    f"revision {before.op.revision} gave token {before.token}, the later "
                    f"revision {after.op.revision} token {after.token}",
                    (before.op, after.op),
                )
            )
    # the document's own order: each task's ended claims, then its live one
    record = final_claims(ops)
    for task, state in _final_tasks(record).items():
        if not isinstance(state, dict):
            continue
        history = state.get("claimHistory") if isinstance(state.get("claimHistory"), list) else []
        tokens = [e.get("token") for e in history if isinstance(e, dict)]
        live = state.get("claim")
        if isinstance(live, dict):
            tokens.append(live.get("token"))
        numbers = [t for t in tokens if type(t) is int]
        if any(b <= a for a, b in itertools.pairwise(numbers)):
            assert record is not None
            found.append(
                Violation(
                    "token-out-of-order",
                    f"task {task}'s claims in the final document have tokens {numbers}, not "
                    "strictly increasing",
                    (record,),
                )
            )
    return found


# fenced-writes ----------------------------------------------------------------------------------


def dead_writes(ops: list[Op]) -> list[tuple[Op, str]]:
    """Acknowledged work writes made under a claim that was certainly dead when they began,
    and why."""
    claims = claims_of(ops)
    by_id = {claim.op.id: claim for claim in claims}
    by_task: dict[str, list[Claim]] = defaultdict(list)
    for claim in claims:
        by_task[claim.task].append(claim)
    found = []
    for op in ops:
        if step_of(op) != WORK or op.outcome != OK:
            continue
        own = by_id.get(str((op.info or {}).get("acquisition")))
        token = token_of(op) if token_of(op) is not None else (own.token if own else None)
        task = task_of(op)
        if token is None or task is None:
            continue  # no claim to be dead: the naive protocol has no token
        superseding = [
            c
            for c in by_task.get(task, [])
            if c.token is not None and c.token > token and c.live_from < op.start
        ]
        if superseding:
            newer = min(superseding, key=lambda c: c.live_from)
            found.append(
                (
                    op,
                    f"{newer.describe()}'s claim of task {task} was acknowledged "
                    f"{_ms(op.start - newer.live_from)} before it began",
                )
            )
        elif own is not None and own.dead_after < op.start:
            released = own.release is not None and own.release.outcome == OK
            why = "released" if released else "past its lease"
            found.append((op, f"its claim was {why} {_ms(op.start - own.dead_after)} before"))
    return found


def check_fenced(ops: list[Op]) -> list[Violation]:
    dead = dead_writes(ops)
    found = [
        Violation(
            "write-under-dead-token",
            f"{op.actor}'s write to task {task_of(op)} under token {token_of(op)} was "
            f"acknowledged ({'fenced' if (op.info or {}).get('fenced') else 'unfenced'}), "
            f"though {why}",
            (op,),
        )
        for op, why in dead
    ]
    record = final_claims(ops)
    if record is None:
        return found
    tasks = _final_tasks(record)
    dead_ids = {op.id for op, _ in dead}
    live_works: dict[str, list[Op]] = defaultdict(list)
    for op in ops:
        task = task_of(op)
        if step_of(op) == WORK and op.outcome == OK and task and op.id not in dead_ids:
            live_works[task].append(op)
    for op, _ in dead:
        task = task_of(op)
        state = tasks.get(task or "")
        if not isinstance(state, dict) or not isinstance(op.value, dict):
            continue
        landed = [name for name, value in op.value.items() if state.get(name) == value]
        overwritten = [
            other
            for other in live_works.get(task or "", [])
            if any(name in (other.value or {}) for name in landed)
        ]
        if landed and overwritten:
            holder = overwritten[-1]
            found.append(
                Violation(
                    "holder-work-lost",
                    f"task {task}'s final {', '.join(landed)} is {op.actor}'s write under its "
                    f"dead token {token_of(op)}, not {holder.actor}'s",
                    (op, holder, record),
                )
            )
    return found


CLAIM_CHECKS: dict[str, Callable[[list[Op]], list[Violation]]] = {
    "one-claim-holder": check_one_holder,
    "worked-once": check_worked_once,
    "releases-recorded": check_releases_recorded,
    "tokens-increase": check_tokens,
    "fenced-writes": check_fenced,
}


def double_claimed_tasks(ops: list[Op]) -> dict[str, set[str]]:
    """The tasks that more than one agent held at once, and those agents (for the notes)."""
    tasks: dict[str, set[str]] = defaultdict(set)
    for violation in check_one_holder(ops):
        for op in violation.ops:
            task = task_of(op)
            if task is not None:
                tasks[task].add(op.actor)
    return dict(tasks)


__all__ = [
    "ACQUIRE",
    "CLAIMS",
    "CLAIM_ANOMALIES",
    "CLAIM_CHECKS",
    "NEXT",
    "RELEASE",
    "RENEW",
    "WORK",
    "Claim",
    "claims_of",
    "dead_writes",
    "double_claimed_tasks",
    "final_claims",
]
